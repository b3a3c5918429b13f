"""The console's reads and writes on the real seeded database, as the console's own least-privilege role."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest
from psycopg import errors

from console import audit, calls, patients, queue, schedule
from console.identity import Identity
from tests.console.conftest import ADMIN, FRONTDESK, MARIA_ID, ZONE

BOB = Identity(username="bob", roles=frozenset({"frontdesk"}))
SLOT_MINUTES = 30
SESSION = uuid.uuid4()  # alice's console session, unless a test opens another


def _now() -> datetime:
    return datetime.now(UTC)


def _patel(conn: psycopg.Connection) -> int:
    return next(d.id for d in patients.doctors(conn) if d.full_name == "Aisha Patel")


def _queue(conn: psycopg.Connection, who: Identity = FRONTDESK, session: uuid.UUID = SESSION) -> list[queue.QueueItem]:
    return queue.open_items(conn, who, session=session, zone=ZONE.key)


def _list_reads(url: str, actor: str) -> list[tuple]:
    """The audit rows of what the queue showed `actor`: (patient, callback request of a caller without one)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT patient_id, (detail->>'callback_request_id')::bigint FROM audit_log "
            "WHERE actor = %s AND action = 'read' AND detail->>'listed' = 'queue' ORDER BY id",
            (actor,),
        ).fetchall()


def _audit_rows(url: str, actor: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT action, entity, patient_id FROM audit_log WHERE actor = %s ORDER BY id", (actor,)
        ).fetchall()


# --- the role ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT full_name FROM patients",
        "SELECT * FROM patients",
        "SELECT id FROM patients",
        "UPDATE patients SET phone = NULL",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET actor = 'x'",
        # Appointments (their reasons are health information) only through the staff_* functions.
        "SELECT reason FROM appointments WHERE patient_id = 1",
        "SELECT id, starts_at FROM appointments",
        "SELECT count(*) FROM appointments",
        "INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, booked_by) "
        "VALUES (1, 1, now() + interval '1 day', now() + interval '25 hours', 'staff')",
        "UPDATE appointments SET status = 'cancelled', cancelled_at = now()",
        "UPDATE appointments SET reason = 'x'",
        "DELETE FROM appointments",
        "SELECT * FROM upcoming_appointments(1, now(), 5, NULL, 'staff:alice')",
        "SELECT * FROM cancel_appointment(1, 1, now(), NULL, 'staff:alice')",
        "SELECT * FROM free_slots(now(), now() + interval '1 day', NULL, NULL, interval '30 minutes', now(), 5)",
        # Staff notes only through staff_open_queue, audited.
        "SELECT note FROM follow_up_notes",
        # Events' details (an emergency's kind) only through staff_call_events, audited.
        "SELECT detail FROM call_events",
        "SELECT * FROM call_events",
        "CREATE TABLE intruder (id int)",
        'SELECT * FROM "_yoyo_migration"',
        # What callers left is read through staff_open_queue, audited; so is who was shown what.
        "SELECT caller_name FROM callback_requests",
        "SELECT callback_phone, message FROM callback_requests",
        "SELECT * FROM callback_requests",
        "SELECT * FROM console_list_reads",
        "INSERT INTO console_list_reads (console_session, actor, patient_id) "
        "VALUES (gen_random_uuid(), 'staff:alice', 1)",
        "SELECT * FROM find_patient('Maria Garcia', '1985-04-12', NULL, NULL, 'agent', 'dob')",
    ],
)
def test_the_console_role_cannot_read_patients_directly_or_rewrite_history(
    console_conn: psycopg.Connection, statement: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        console_conn.execute(statement)


def test_the_console_role_runs_with_owners_rights_only_the_staff_functions(console_conn: psycopg.Connection) -> None:
    """Each function that lends the role its owner's rights pins its search_path; there are no others it can run."""
    lent = console_conn.execute(
        "SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.prosecdef AND p.prorettype <> 'trigger'::regtype "
        "AND has_function_privilege(p.oid, 'EXECUTE') ORDER BY p.proname"
    ).fetchall()
    assert [name for name, _ in lent] == [
        "staff_book_appointment",
        "staff_booked_slots",
        "staff_call_events",
        "staff_cancel_appointment",
        "staff_find_patients",
        "staff_free_slots",
        "staff_move_appointment",
        "staff_open_queue",
        "staff_upcoming_appointments",
    ]
    assert all("search_path=public, pg_temp" in config for _, config in lent)


def test_staff_search_refuses_short_terms_and_non_staff_actors_in_the_database(
    console_conn: psycopg.Connection,
) -> None:
    for term, actor in (("a", "staff:alice"), ("garcia", "agent"), ("garcia", "staff:")):
        with pytest.raises(errors.InvalidParameterValue):
            console_conn.execute("SELECT * FROM staff_find_patients(%s, %s, 5)", (term, actor))
        console_conn.rollback()


# --- Today ---------------------------------------------------------------------------------------------------


def test_the_day_shows_shifts_bookings_and_free_slots(console_conn: psycopg.Connection, seed_today: date) -> None:
    wednesday = seed_today + timedelta(days=2)
    day = schedule.load_day(console_conn, wednesday, ZONE, slot_minutes=SLOT_MINUTES, now=_now())
    patel_shift = [s for s in day.shifts if s.doctor_name == "Aisha Patel"]
    assert [(s.starts_at.time(), s.ends_at.time()) for s in patel_shift] == [(time(9), time(17))]
    patel_booked = [b for b in day.bookings if b.doctor_name == "Aisha Patel"]
    assert time(10) in {b.starts_at.time() for b in patel_booked}  # Maria Garcia's seeded appointment
    patel_free = [f for f in day.free if f.doctor_name == "Aisha Patel"]
    # Every 30-minute slot of the 09:00-17:00 shift is either free or under a booking, never both.
    for slot in (patel_shift[0].starts_at + timedelta(minutes=30 * n) for n in range(16)):
        free = any(f.starts_at == slot for f in patel_free)
        taken = any(b.starts_at <= slot < b.ends_at for b in patel_booked)
        assert free != taken, slot
    assert {b.booked_by for b in patel_booked} == {"seed"}
    load = {row["doctor"]: row for row in day.load()}
    assert load["Aisha Patel"]["booked"] == len(patel_booked)
    assert all(s.starts_at.tzinfo == ZONE for s in day.shifts)


def test_a_day_without_shifts_is_empty(console_conn: psycopg.Connection) -> None:
    day = schedule.load_day(console_conn, date(2001, 1, 1), ZONE, slot_minutes=SLOT_MINUTES, now=_now())
    assert (day.shifts, day.bookings, day.free, day.load()) == ([], [], [], [])


# --- Needs a person ------------------------------------------------------------------------------------------


def test_the_queue_puts_emergencies_first_and_leaves_finished_calls_out(console_conn: psycopg.Connection) -> None:
    items = _queue(console_conn)
    assert [(i.source, i.emergency, i.outcome) for i in items] == [
        ("call", True, "emergency"),
        ("callback", False, "handed_off"),
    ]
    callback = items[1]
    assert (callback.caller_name, callback.patient_id, callback.claimed_by) == ("Maria Garcia", MARIA_ID, None)


def test_claim_note_resolve_and_nobody_else_can_take_it(console_conn: psycopg.Connection, calls_database: str) -> None:
    item = _queue(console_conn)[1]
    queue.claim(console_conn, FRONTDESK, item.source, item.subject_id)
    queue.claim(console_conn, FRONTDESK, item.source, item.subject_id)  # claiming your own again is a no-op
    for action in (
        lambda: queue.claim(console_conn, BOB, item.source, item.subject_id),
        lambda: queue.add_note(console_conn, BOB, item.source, item.subject_id, "mine now"),
        lambda: queue.resolve(console_conn, BOB, item.source, item.subject_id),
    ):
        with pytest.raises(queue.QueueRefused, match="already claimed by alice"):
            action()
    queue.add_note(console_conn, FRONTDESK, item.source, item.subject_id, "  Left a voicemail  ")
    noted = _queue(console_conn)[1]
    assert noted.claimed_by == "staff:alice"
    assert len(noted.notes) == 1
    assert noted.notes[0].endswith("): Left a voicemail")

    queue.resolve(console_conn, FRONTDESK, item.source, item.subject_id)
    console_conn.commit()
    assert [i.source for i in _queue(console_conn)] == ["call"]
    with pytest.raises(queue.QueueRefused, match="already resolved"):
        queue.add_note(console_conn, FRONTDESK, item.source, item.subject_id, "again")
    with psycopg.connect(calls_database) as conn:
        assert conn.execute("SELECT status FROM callback_requests").fetchone() == ("done",)
    # Maria's request was shown (one read, however often the list was read), then claimed, noted, resolved.
    assert (
        _audit_rows(calls_database, "staff:alice")
        == [("read", "patient", MARIA_ID)] + [("update", "patient", MARIA_ID)] * 3
    )


def _leave_callback(url: str, patient_id: int | None, name: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "INSERT INTO callback_requests (patient_id, caller_name, callback_phone, message) "
            "VALUES (%s, %s, '+15555550199', 'Call me back') RETURNING id",
            (patient_id, name),
        ).fetchone()[0]


def test_the_queue_audits_each_person_once_per_staff_member_and_console_session(
    console_conn: psycopg.Connection, calls_database: str
) -> None:
    stranger = _leave_callback(calls_database, None, "Li Wei")  # a caller without a patient record
    _queue(console_conn)
    console_conn.commit()
    # First view: one row per person shown (the emergency call names nobody and has no patient).
    assert sorted(_list_reads(calls_database, "staff:alice"), key=str) == sorted(
        [(MARIA_ID, None), (None, stranger)], key=str
    )
    for _ in range(3):  # the 10-second refresh: the same people, nothing new
        _queue(console_conn)
        console_conn.commit()
    assert len(_list_reads(calls_database, "staff:alice")) == 2

    with psycopg.connect(calls_database) as conn:
        other = conn.execute("SELECT id FROM patients WHERE id <> %s ORDER BY id LIMIT 1", (MARIA_ID,)).fetchone()[0]
    _leave_callback(calls_database, other, "Someone Else")
    _leave_callback(calls_database, MARIA_ID, "Maria Garcia")  # Maria again: already shown in this session
    assert len(_queue(console_conn)) == 5
    console_conn.commit()
    assert _list_reads(calls_database, "staff:alice")[2:] == [(other, None)]

    _queue(console_conn, BOB)  # another staff member's screen in the same session id: their own rows
    _queue(console_conn, session=uuid.uuid4())  # alice in a new console session: shown anew
    console_conn.commit()
    assert len(_list_reads(calls_database, "staff:bob")) == 3
    assert len(_list_reads(calls_database, "staff:alice")) == 6
    with psycopg.connect(calls_database) as conn:
        details = conn.execute(
            "SELECT DISTINCT detail->>'console_session' FROM audit_log WHERE actor = 'staff:bob'"
        ).fetchall()
    assert details == [(str(SESSION),)]


def test_the_queue_refuses_unaudited_reads_in_the_database(console_conn: psycopg.Connection) -> None:
    for actor, session in (("agent", SESSION), ("staff:", SESSION), ("staff:alice", None)):
        with pytest.raises(errors.InvalidParameterValue):
            console_conn.execute("SELECT * FROM staff_open_queue(%s, %s, 'UTC', 10)", (actor, session))
        console_conn.rollback()
    for actor in ("agent", "staff:"):
        with pytest.raises(errors.InvalidParameterValue):
            console_conn.execute("SELECT * FROM staff_upcoming_appointments(1, now(), 5, %s)", (actor,))
        console_conn.rollback()


@pytest.mark.parametrize("note", ["", "   ", "x" * 2001, "bell\x07"])
def test_bad_notes_are_refused_and_nothing_is_written(
    console_conn: psycopg.Connection, calls_database: str, note: str
) -> None:
    item = _queue(console_conn)[0]
    with pytest.raises(queue.QueueRefused):
        queue.add_note(console_conn, FRONTDESK, item.source, item.subject_id, note)
    with psycopg.connect(calls_database) as conn:
        assert conn.execute("SELECT count(*) FROM follow_up_notes").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM follow_ups").fetchone() == (0,)


def test_an_unknown_item_is_refused(console_conn: psycopg.Connection) -> None:
    with pytest.raises(queue.QueueRefused, match="no such"):
        queue.claim(console_conn, FRONTDESK, "callback", 999_999)


# --- Calls ---------------------------------------------------------------------------------------------------


def test_recent_calls_with_durations_latency_and_filters(console_conn: psycopg.Connection, calls_day: date) -> None:
    recent = calls.recent_calls(console_conn, calls_day, ZONE)
    assert [c.outcome for c in recent] == ["emergency", "handed_off", "completed"]
    completed = recent[-1]
    assert (completed.duration_s, completed.turns, completed.turn_p50_ms) == (180.0, 3, 1000.0)
    assert [c.outcome for c in calls.recent_calls(console_conn, calls_day, ZONE, "completed")] == ["completed"]
    assert calls.recent_calls(console_conn, calls_day - timedelta(days=1), ZONE) == []
    with pytest.raises(ValueError, match="outcome must be one of"):
        calls.recent_calls(console_conn, calls_day, ZONE, "'; DROP TABLE call_sessions; --")
    kinds = [e.kind for e in calls.call_events(console_conn, FRONTDESK, recent[0].id)]
    assert kinds == ["call_started", "emergency"]


def test_a_calls_events_are_read_audited_for_the_patients_it_names(
    console_conn: psycopg.Connection, calls_database: str, calls_day: date
) -> None:
    emergency, handed_off, completed = (c.id for c in calls.recent_calls(console_conn, calls_day, ZONE))
    with psycopg.connect(calls_database, autocommit=True) as conn:
        other = conn.execute("SELECT id FROM patients WHERE id <> %s ORDER BY id LIMIT 1", (MARIA_ID,)).fetchone()[0]
        conn.execute(
            "INSERT INTO call_events (call_session_id, kind, detail) VALUES (%s, 'verified', %s)",
            (completed, psycopg.types.json.Jsonb({"patient_id": other, "factors": ["dob"]})),
        )
    assert [e.detail for e in calls.call_events(console_conn, FRONTDESK, emergency) if e.kind == "emergency"] == [{}]
    calls.call_events(console_conn, FRONTDESK, handed_off)  # Maria's call
    calls.call_events(console_conn, FRONTDESK, completed)  # no patient on the call; one verified in its events
    console_conn.commit()
    with psycopg.connect(calls_database) as conn:
        reads = conn.execute(
            "SELECT patient_id, (detail->>'call_session_id')::bigint FROM audit_log WHERE actor = 'staff:alice' "
            "AND detail->>'listed' = 'call events' ORDER BY id"
        ).fetchall()
    assert reads == [(MARIA_ID, handed_off), (other, completed)]
    for actor in ("agent", "staff:"):
        with pytest.raises(errors.InvalidParameterValue):
            console_conn.execute("SELECT * FROM staff_call_events(%s, %s, 10)", (handed_off, actor))
        console_conn.rollback()


def test_calls_per_hour_and_latency_percentiles(console_conn: psycopg.Connection, calls_day: date) -> None:
    assert [(row["hour"].hour, row["calls"]) for row in calls.calls_per_hour(console_conn, calls_day, ZONE)] == [(9, 3)]
    latency = calls.turn_latency(console_conn, calls_day, ZONE)
    assert latency["turns"] == 4
    assert latency["p50"] == pytest.approx(950.0)
    assert calls.turn_latency(console_conn, calls_day - timedelta(days=1), ZONE)["p50"] is None


# --- Patients and appointments -------------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["garcia", "MRN100001", "mrn100001", "+1 (555) 555-0123", "  Maria   Garcia "])
def test_search_finds_maria_and_audits_the_read(
    console_conn: psycopg.Connection, calls_database: str, term: str
) -> None:
    found = patients.search(console_conn, FRONTDESK, term)
    console_conn.commit()
    assert (MARIA_ID, "Maria Garcia") in [(p.id, p.full_name) for p in found]
    assert _audit_rows(calls_database, "staff:alice") == [("read", "patient", p.id) for p in found]


@pytest.mark.parametrize("term", ["%%", "__", "\\%"])
def test_search_wildcards_are_literal(console_conn: psycopg.Connection, term: str) -> None:
    assert patients.search(console_conn, FRONTDESK, term) == []


@pytest.mark.parametrize("term", ["", "a", " b ", "x" * 201, "tab\x00"])
def test_bad_search_terms_are_refused_before_the_database(console_conn: psycopg.Connection, term: str) -> None:
    with pytest.raises(patients.Refused):
        patients.search(console_conn, FRONTDESK, term)


def test_book_move_cancel_through_the_agents_functions(
    console_conn: psycopg.Connection, calls_database: str, seed_today: date
) -> None:
    now = _now()
    wednesday = seed_today + timedelta(days=2)
    patel = _patel(console_conn)
    free = patients.free_slots(console_conn, patel, wednesday, ZONE, slot_minutes=SLOT_MINUTES, now=now)
    assert time(10) not in {s.starts_at.time() for s in free}
    first, second = free[0], free[1]
    booked = patients.book(
        console_conn,
        FRONTDESK,
        patient_id=MARIA_ID,
        doctor_id=patel,
        starts_at=first.starts_at,
        reason="checkup",
        slot_minutes=SLOT_MINUTES,
        request_key=uuid.uuid4(),
        now=now,
    )
    assert (booked.starts_at, booked.doctor_name) == (first.starts_at, "Aisha Patel")
    with pytest.raises(patients.Refused, match="no longer free"):
        patients.book(
            console_conn,
            FRONTDESK,
            patient_id=MARIA_ID,
            doctor_id=patel,
            starts_at=first.starts_at,
            reason="",
            slot_minutes=SLOT_MINUTES,
            request_key=uuid.uuid4(),
            now=now,
        )
    moved = patients.move(
        console_conn,
        FRONTDESK,
        patient_id=MARIA_ID,
        appointment_id=booked.id,
        starts_at=second.starts_at,
        slot_minutes=SLOT_MINUTES,
        request_key=uuid.uuid4(),
        now=now,
    )
    assert moved.starts_at == second.starts_at
    assert moved.id != booked.id
    upcoming = patients.upcoming(console_conn, FRONTDESK, MARIA_ID, now=now, zone=ZONE)
    assert moved.id in {a.id for a in upcoming}
    assert booked.id not in {a.id for a in upcoming}
    patients.cancel(console_conn, FRONTDESK, patient_id=MARIA_ID, appointment_id=moved.id)
    with pytest.raises(patients.Refused, match="can't be cancelled"):
        patients.cancel(console_conn, FRONTDESK, patient_id=MARIA_ID, appointment_id=moved.id)
    console_conn.commit()
    with psycopg.connect(calls_database) as conn:
        made = conn.execute(
            "SELECT booked_by, status, call_session_id FROM appointments WHERE id IN (%s, %s) ORDER BY id",
            (booked.id, moved.id),
        ).fetchall()
        changes = conn.execute(
            "SELECT action, entity_id, patient_id FROM audit_log "
            "WHERE actor = 'staff:alice' AND entity = 'appointment' ORDER BY id"
        ).fetchall()
    assert made == [("staff", "cancelled", None), ("staff", "cancelled", None)]
    # Each change under the staff member: the booking, the move (old cancelled, new created), the read of what is
    # upcoming, the cancel.
    assert changes == [
        ("create", booked.id, MARIA_ID),
        ("update", booked.id, MARIA_ID),
        ("create", moved.id, MARIA_ID),
        ("read", None, MARIA_ID),
        ("update", moved.id, MARIA_ID),
    ]


def _maria_booked(url: str) -> tuple[int, int, datetime]:
    """Maria's first booked appointment: id, doctor, start."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, doctor_id, starts_at FROM appointments WHERE patient_id = %s AND status = 'booked' "
            "ORDER BY starts_at LIMIT 1",
            (MARIA_ID,),
        ).fetchone()


def test_staff_writes_keep_the_agents_rules(console_conn: psycopg.Connection, calls_database: str) -> None:
    appointment, doctor, starts_at = _maria_booked(calls_database)
    with psycopg.connect(calls_database) as conn:
        other = conn.execute("SELECT id FROM patients WHERE id <> %s ORDER BY id LIMIT 1", (MARIA_ID,)).fetchone()[0]
    now = _now()
    day = starts_at.astimezone(ZONE).date()
    free = patients.free_slots(console_conn, doctor, day, ZONE, slot_minutes=SLOT_MINUTES, now=now)[0]

    def book(at: datetime) -> patients.Appointment:
        return patients.book(
            console_conn,
            FRONTDESK,
            patient_id=other,
            doctor_id=doctor,
            starts_at=at,
            reason="",
            slot_minutes=SLOT_MINUTES,
            request_key=uuid.uuid4(),
            now=now,
        )

    def move(patient_id: int, to: datetime) -> patients.Appointment:
        return patients.move(
            console_conn,
            FRONTDESK,
            patient_id=patient_id,
            appointment_id=appointment,
            starts_at=to,
            slot_minutes=SLOT_MINUTES,
            request_key=uuid.uuid4(),
            now=now,
        )

    with pytest.raises(patients.Refused, match="no longer free"):
        book(starts_at)  # Maria's slot
    taken = book(free.starts_at)
    with pytest.raises(patients.Refused, match="no longer free"):
        move(MARIA_ID, taken.starts_at)  # the cancel of the old half is undone too
    # Not this patient's appointment: neither moved nor cancelled.
    with pytest.raises(patients.Refused, match="can't be moved"):
        move(other, starts_at + timedelta(minutes=SLOT_MINUTES))
    with pytest.raises(patients.Refused, match="can't be cancelled"):
        patients.cancel(console_conn, FRONTDESK, patient_id=other, appointment_id=appointment)
    console_conn.commit()
    assert _maria_booked(calls_database) == (appointment, doctor, starts_at)
    with psycopg.connect(calls_database) as conn:
        assert conn.execute("SELECT id FROM appointments WHERE booked_by = 'staff'").fetchall() == [(taken.id,)]


def test_staff_writes_refuse_past_appointments_in_the_database(
    console_conn: psycopg.Connection, calls_database: str
) -> None:
    """The wrappers take the database's now, not the client's, as the earliest appointment they change."""
    yesterday = _now() - timedelta(days=1)
    with psycopg.connect(calls_database, autocommit=True) as conn:
        doctor = conn.execute("SELECT min(id) FROM doctors WHERE active").fetchone()[0]
        conn.execute(
            "INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES (%s, %s, %s)",
            (doctor, yesterday, yesterday + timedelta(hours=1)),
        )
        past = conn.execute(
            "INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, booked_by) "
            "VALUES (%s, %s, %s, %s, 'seed') RETURNING id",
            (MARIA_ID, doctor, yesterday, yesterday + timedelta(minutes=30)),
        ).fetchone()[0]
    assert (
        console_conn.execute(
            "SELECT * FROM staff_cancel_appointment(%s, %s, 'staff:alice')", (past, MARIA_ID)
        ).fetchall()
        == []
    )
    console_conn.commit()
    with psycopg.connect(calls_database) as conn:
        assert conn.execute("SELECT status FROM appointments WHERE id = %s", (past,)).fetchone() == ("booked",)


@pytest.mark.parametrize("actor", ["agent", "staff:", "alice", "", "staff:" + "x" * 75])
def test_staff_writes_refuse_an_actor_that_is_not_staff(
    console_conn: psycopg.Connection, calls_database: str, seed_today: date, actor: str
) -> None:
    appointment, doctor, starts_at = _maria_booked(calls_database)
    free = patients.free_slots(
        console_conn, doctor, starts_at.astimezone(ZONE).date(), ZONE, slot_minutes=SLOT_MINUTES, now=_now()
    )[0]
    slot = timedelta(minutes=SLOT_MINUTES)
    for statement, params in (
        (
            "SELECT * FROM staff_book_appointment(%s, %s, %s, %s, 'x', %s, %s)",
            (MARIA_ID, doctor, free.starts_at, slot, uuid.uuid4(), actor),
        ),
        (
            "SELECT * FROM staff_move_appointment(%s, %s, %s, %s, %s, %s)",
            (appointment, MARIA_ID, free.starts_at, slot, uuid.uuid4(), actor),
        ),
        ("SELECT * FROM staff_cancel_appointment(%s, %s, %s)", (appointment, MARIA_ID, actor)),
    ):
        with pytest.raises(errors.InvalidParameterValue, match="staff actor"):
            console_conn.execute(statement, params)
        console_conn.rollback()
    assert _maria_booked(calls_database) == (appointment, doctor, starts_at)
    with psycopg.connect(calls_database) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log WHERE entity = 'appointment'").fetchone() == (0,)


def test_bad_bookings_write_nothing(console_conn: psycopg.Connection, calls_database: str, seed_today: date) -> None:
    now = _now()
    patel = _patel(console_conn)
    free = patients.free_slots(console_conn, patel, seed_today + timedelta(days=2), ZONE, slot_minutes=30, now=now)
    attempts = [
        ({"starts_at": now - timedelta(days=1), "reason": ""}, "has passed"),
        ({"starts_at": free[0].starts_at, "reason": "x" * 501}, "at most 500"),
        ({"starts_at": free[0].starts_at + timedelta(minutes=7), "reason": ""}, "no longer free"),
        (
            {"starts_at": datetime.combine(seed_today + timedelta(days=2), time(22), ZONE), "reason": ""},
            "no longer free",
        ),
    ]
    for fields, message in attempts:
        with pytest.raises(patients.Refused, match=message):
            patients.book(
                console_conn,
                FRONTDESK,
                patient_id=MARIA_ID,
                doctor_id=patel,
                slot_minutes=30,
                request_key=uuid.uuid4(),
                now=now,
                **fields,
            )
    console_conn.commit()
    with psycopg.connect(calls_database) as conn:
        assert conn.execute("SELECT count(*) FROM appointments WHERE booked_by = 'staff'").fetchone() == (0,)


# --- Audit ---------------------------------------------------------------------------------------------------


def test_audit_shows_who_read_what_from_which_front_end(console_conn: psycopg.Connection, calls_database: str) -> None:
    with psycopg.connect(calls_database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO audit_log (actor, action, patient_id, entity, entity_id) VALUES ('agent', 'read', %s, "
            "'patient', %s)",
            (MARIA_ID, MARIA_ID),
        )
    patients.search(console_conn, ADMIN, "MRN100001")
    console_conn.commit()
    entries = audit.recent(console_conn, patient_id=MARIA_ID)
    assert [(e.front_end, e.actor, e.action) for e in entries] == [
        ("console", "staff:root-admin", "read"),
        ("voice agent", "agent", "read"),
    ]
    assert [e.actor for e in audit.recent(console_conn, actor="agent")] == ["agent"]

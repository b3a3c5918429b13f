"""The yoyo migrations against a real PostgreSQL: apply, rollback, verify, and the rules the schema enforces."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from agent.db import migrations, seed, verify
from tests.conftest import LATEST_MIGRATION, MIGRATION_IDS, SEED_TIMEZONE

BOOK_FUNCTION = (
    "function book_appointment(for_patient bigint, with_doctor integer, slot_start timestamp with time zone, "
    "slot_length interval, visit_reason text, booked_via text, in_session bigint, request_key uuid, acting text)"
)
# What rolling back each migration takes away from (and gives back to) the schema, as verify names it.
ROLLED_BACK = {
    "0010_console_appointment_functions": (
        [
            "function staff_book_appointment(for_patient bigint, with_doctor integer, "
            "slot_start timestamp with time zone, slot_length interval, visit_reason text, request_key uuid, "
            "acting text)",
            "function staff_booked_slots(window_start timestamp with time zone, window_end timestamp with time zone)",
            "function staff_call_events(for_call bigint, acting text, max_rows integer)",
            "function staff_cancel_appointment(cancelled_appointment bigint, for_patient bigint, acting text)",
            "function staff_free_slots(window_start timestamp with time zone, window_end timestamp with time zone, "
            "only_doctor integer, slot_length interval, not_before timestamp with time zone, max_slots integer)",
            "function staff_move_appointment(moved_appointment bigint, for_patient bigint, "
            "slot_start timestamp with time zone, slot_length interval, request_key uuid, acting text)",
        ],
        [],
    ),
    "0009_console_read_audit": (
        [
            *(
                f"column console_list_reads.{name}"
                for name in ("actor", "at", "callback_request_id", "console_session", "patient_id")
            ),
            *(
                f"constraint console_list_reads.console_list_reads_{name}"
                for name in ("actor_check", "callback_request_id_fkey", "once", "one_subject", "patient_id_fkey")
            ),
            "function staff_open_queue(acting text, viewing_session uuid, zone text, max_rows integer)",
            "function staff_upcoming_appointments(for_patient bigint, not_before timestamp with time zone, "
            "max_rows integer, acting text)",
            "index console_list_reads_once",
            "table console_list_reads",
        ],
        [],
    ),
    "0008_console_indexes": (
        [
            "index call_events_emergency_idx",
            "index call_sessions_needs_person_idx",
            "index callback_requests_session_idx",
        ],
        [],
    ),
    "0007_console": (
        sorted(
            [
                *(f"column follow_up_notes.{name}" for name in ("at", "author", "follow_up_id", "id", "note")),
                *(
                    f"column follow_ups.{name}"
                    for name in ("call_session_id", "callback_request_id", "claimed_at", "claimed_by", "id")
                ),
                "column follow_ups.resolved_at",
                "column follow_ups.resolved_by",
                *(
                    f"constraint follow_up_notes.follow_up_notes_{name}"
                    for name in ("author_check", "follow_up_id_fkey", "note_check", "pkey")
                ),
                *(
                    f"constraint follow_ups.follow_ups_{name}"
                    for name in (
                        "call_session_id_fkey",
                        "call_session_id_key",
                        "callback_request_id_fkey",
                        "callback_request_id_key",
                        "claim_whole",
                        "claimed_by_check",
                        "one_subject",
                        "pkey",
                        "resolution_whole",
                        "resolved_by_check",
                        "resolved_when_claimed",
                    )
                ),
                "function staff_find_patients(term text, acting text, max_rows integer)",
                "index follow_up_notes_follow_up_idx",
                "index follow_up_notes_pkey",
                "index follow_ups_call_session_id_key",
                "index follow_ups_callback_request_id_key",
                "index follow_ups_pkey",
                "table follow_up_notes",
                "table follow_ups",
            ]
        ),
        [],
    ),
    "0006_identity_and_schedule_locks": (
        sorted(
            [f"column identity_attempts.{c}" for c in ("at", "call_session_id", "claim", "id", "kind", "outcome")]
            + ["column identity_attempts.patient_id"]
            + [f"column identity_claims.{c}" for c in ("claim", "failures", "last_failure_at", "locked_until")]
            + ["column identity_key.only_row", "column identity_key.secret"]
            + [
                f"column identity_lockouts.{c}"
                for c in ("call_session_ids", "claim", "failures", "last_failure_at", "locked_until", "patient_ids")
            ]
            + [
                f"constraint identity_attempts.identity_attempts_{c}"
                for c in ("call_session_id_fkey", "claim_fkey", "kind_check", "outcome_check", "patient_id_fkey")
            ]
            + ["constraint identity_attempts.identity_attempts_pkey"]
            + [f"constraint identity_claims.identity_claims_{c}" for c in ("claim_check", "failures_check", "pkey")]
            + [f"constraint identity_key.identity_key_{c}" for c in ("only_row_check", "pkey", "secret_check")]
            + [
                "function identity_claim(full_name text)",
                "function identity_gate(claimed bytea, in_session bigint)",
                "function identity_outcome(claimed bytea, in_session bigint, attempt text, result text, "
                "patient bigint)",
                "function patient_name_key(full_name text)",
                "function register_new_patient(name_given text, born date, phone_given text, new_mrn text, "
                "email_given text, in_session bigint, acting text)",
                "function slot_facts(with_doctor integer, slot_start timestamp with time zone, slot_length interval, "
                "except_appointment bigint)",
                "function verify_patient(name_given text, born date, phone_given text, in_session bigint, acting text, "
                "lookup text)",
            ]
            + [f"index {i}" for i in ("identity_attempts_claim_idx", "identity_attempts_pkey")]
            + [f"index {i}" for i in ("identity_attempts_session_idx", "identity_claims_pkey", "identity_key_pkey")]
            + ["table identity_attempts", "table identity_claims", "table identity_key", "view identity_lockouts"]
        ),
        [],
    ),
    "0005_call_functions": (
        [
            BOOK_FUNCTION,
            "function cancel_appointment(cancelled_appointment bigint, for_patient bigint, "
            "not_before timestamp with time zone, in_session bigint, acting text)",
            "function find_doctors(of_specialty text, named text, speaking text, max_rows integer)",
            "function find_patient(name_given text, born date, phone_given text, in_session bigint, acting text, "
            "lookup text)",
            "function move_appointment(moved_appointment bigint, for_patient bigint, "
            "not_before timestamp with time zone, slot_start timestamp with time zone, slot_length interval, "
            "to_doctor integer, booked_via text, in_session bigint, request_key uuid, acting text)",
            "function register_patient(name_given text, born date, phone_given text, new_mrn text, "
            "email_given text, in_session bigint, acting text)",
            "function upcoming_appointments(for_patient bigint, not_before timestamp with time zone, "
            "max_rows integer, in_session bigint, acting text)",
        ],
        [],
    ),
    "0004_free_slots": (
        [
            "function free_slots(window_start timestamp with time zone, window_end timestamp with time zone, "
            "only_doctor integer, only_specialty text, slot_length interval, not_before timestamp with time zone, "
            "max_slots integer)",
            "index appointments_doctor_booked_idx",
            "index shifts_doctor_starts_idx",
        ],
        ["index shifts_window_idx"],
    ),
}


def _params(url: str) -> dict[str, str]:
    return conninfo_to_dict(url)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows} - migrations.YOYO_TABLES


def _scratch_databases(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'verify\\_%'")]


def test_every_migration_has_a_rollback() -> None:
    sources = sorted(path for path in migrations.MIGRATIONS_DIR.glob("*.sql") if ".rollback." not in path.name)
    assert [path.stem for path in sources] == MIGRATION_IDS
    for path in sources:
        assert path.with_suffix(".rollback.sql").is_file(), f"{path.name} has no rollback"


def test_apply_seed_rollback_all_apply_again(empty_database: str) -> None:
    params = _params(empty_database)
    assert migrations.apply(params) == MIGRATION_IDS
    report = seed.seed(params, environment="dev", today=date(2026, 3, 2), timezone=SEED_TIMEZONE)
    assert not report.already_seeded
    assert report.counts["appointments"] > 0

    assert migrations.rollback(params, None) == list(reversed(MIGRATION_IDS))
    assert _tables(empty_database) == set()
    with psycopg.connect(empty_database) as conn:
        functions = conn.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
        ).fetchone()
    assert functions == (0,)

    assert migrations.apply(params) == MIGRATION_IDS
    assert verify.verify(params) == []


def test_apply_twice_is_a_no_op(empty_database: str) -> None:
    params = _params(empty_database)
    migrations.apply(params)
    tables = _tables(empty_database)
    assert migrations.apply(params) == []
    assert _tables(empty_database) == tables
    assert {
        "departments",
        "doctors",
        "shifts",
        "patients",
        "appointments",
        "call_sessions",
        "call_events",
        "callback_requests",
        "audit_log",
        "hospital_info",
    } <= tables


def test_status_lists_applied_and_pending(empty_database: str) -> None:
    params = _params(empty_database)
    fresh = migrations.status(params)
    assert (fresh.applied, fresh.pending, fresh.version) == ([], MIGRATION_IDS, None)

    migrations.apply(params)
    assert migrations.rollback(params, len(MIGRATION_IDS) - 2) == list(reversed(MIGRATION_IDS[2:]))
    state = migrations.status(params)
    assert [applied.id for applied in state.applied] == MIGRATION_IDS[:2]
    assert state.pending == MIGRATION_IDS[2:]
    assert state.version == MIGRATION_IDS[1]
    assert "appointments" not in _tables(empty_database)


def test_each_later_migration_rolls_back_to_the_schema_before_it(empty_database: str) -> None:
    params = _params(empty_database)
    migrations.apply(params)
    assert list(ROLLED_BACK) == list(reversed(MIGRATION_IDS))[: len(ROLLED_BACK)]
    for migration, (removed, added) in ROLLED_BACK.items():
        with psycopg.connect(empty_database) as conn:
            before = verify.snapshot(conn)
        assert migrations.rollback(params, 1) == [migration]
        with psycopg.connect(empty_database) as conn:
            after = verify.snapshot(conn)
        assert sorted(before.keys() - after.keys()) == removed, migration
        assert sorted(after.keys() - before.keys()) == added, migration
    assert migrations.apply(params) == list(reversed(ROLLED_BACK))
    assert verify.verify(params) == []


def test_verify_passes_after_apply_and_cleans_up(empty_database: str) -> None:
    params = _params(empty_database)
    migrations.apply(params)
    assert verify.verify(params) == []
    assert _scratch_databases(empty_database) == []


MANUAL_CHANGES = [
    ("ALTER TABLE patients ADD COLUMN nickname text", "column patients.nickname: not in the migrations"),
    ("DROP INDEX doctors_name_tokens_idx", "index doctors_name_tokens_idx: missing"),
    (
        "ALTER TABLE patients ALTER COLUMN phone TYPE varchar(20)",
        "column patients.phone: type is character varying(20), migrations say text",
    ),
    (
        "ALTER TABLE callback_requests DROP CONSTRAINT callback_requests_status_check, "
        "ADD CONSTRAINT callback_requests_status_check CHECK (status IN ('open', 'done', 'archived'))",
        "constraint callback_requests.callback_requests_status_check: definition is CHECK ((status = ANY "
        "(ARRAY['open'::text, 'done'::text, 'archived'::text]))), migrations say CHECK ((status = ANY "
        "(ARRAY['open'::text, 'done'::text])))",
    ),
    (
        "ALTER TABLE doctors ALTER COLUMN active DROP NOT NULL",
        "column doctors.active: nullability is NULL, migrations say NOT NULL",
    ),
    (
        "ALTER TABLE appointments DISABLE TRIGGER appointments_within_shift",
        "trigger appointments.appointments_within_shift: definition is",
    ),
    (
        "ALTER TABLE appointments DROP CONSTRAINT appointments_no_double_booking",
        "constraint appointments.appointments_no_double_booking: missing",
    ),
    (
        "ALTER FUNCTION book_appointment RESET plan_cache_mode",
        f"{BOOK_FUNCTION}: definition is",
    ),
]


def test_verify_names_each_manual_change(empty_database: str) -> None:
    params = _params(empty_database)
    migrations.apply(params)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        for change, _ in MANUAL_CHANGES:
            conn.execute(change)
    differences = verify.verify(params)
    for _, expected in MANUAL_CHANGES:
        assert any(line.startswith(expected) for line in differences), (expected, differences)
    assert _scratch_databases(empty_database) == []


def test_verify_reports_pending_migrations(empty_database: str) -> None:
    params = _params(empty_database)
    migrations.apply(params)
    migrations.rollback(params, 1)
    differences = verify.verify(params)
    assert differences[0] == f"migration {LATEST_MIGRATION}: pending (not applied)"
    assert (
        "function staff_cancel_appointment(cancelled_appointment bigint, for_patient bigint, acting text): missing"
        in differences
    )


# --- rules the database itself enforces ----------------------------------------------------------------------

NY = ZoneInfo(SEED_TIMEZONE)
DAY = date(2031, 6, 2)


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=NY)


@pytest.fixture
def clinic(migrated_database: str) -> Iterator[psycopg.Connection]:
    """A migrated database with one doctor (id 1) on one 09:00-17:00 shift and one patient (id 1)."""
    conn = psycopg.connect(migrated_database, autocommit=True)
    conn.execute("INSERT INTO departments (name, location) VALUES ('Cardiology', 'Building A')")
    conn.execute("INSERT INTO doctors (full_name, specialty, department_id) VALUES ('Ada Test', 'Cardiology', 1)")
    conn.execute("INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES (1, %s, %s)", (_at(9), _at(17)))
    conn.execute("INSERT INTO patients (mrn, full_name, date_of_birth) VALUES ('MRN000001', 'Pat Test', '1980-01-01')")
    yield conn
    conn.close()


def _book(conn: psycopg.Connection, starts: datetime, ends: datetime, status: str = "booked") -> None:
    conn.execute(
        "INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, status, booked_by, cancelled_at) "
        "VALUES (1, 1, %s, %s, %s, 'staff', CASE WHEN %s = 'cancelled' THEN now() END)",
        (starts, ends, status, status),
    )


def test_overlapping_booked_appointments_are_refused(clinic: psycopg.Connection) -> None:
    _book(clinic, _at(10), _at(10, 30))
    with pytest.raises(errors.ExclusionViolation) as refused:
        _book(clinic, _at(10, 15), _at(10, 45))
    assert refused.value.diag.constraint_name == "appointments_no_double_booking"
    # Back to back is fine, and a cancelled appointment does not hold its slot.
    _book(clinic, _at(10, 30), _at(11))
    _book(clinic, _at(10), _at(10, 30), status="cancelled")


def test_appointment_outside_every_shift_is_refused(clinic: psycopg.Connection) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        _book(clinic, _at(16, 45), _at(17, 15))
    assert refused.value.diag.constraint_name == "appointments_within_shift"


def test_shift_cannot_shrink_under_a_booked_appointment(clinic: psycopg.Connection) -> None:
    _book(clinic, _at(16), _at(16, 30))
    with pytest.raises(errors.CheckViolation) as refused:
        clinic.execute("UPDATE shifts SET ends_at = %s", (_at(15),))
    assert refused.value.diag.constraint_name == "shifts_keep_appointments"


def test_overlapping_shifts_of_one_doctor_are_refused(clinic: psycopg.Connection) -> None:
    with pytest.raises(errors.ExclusionViolation) as refused:
        clinic.execute("INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES (1, %s, %s)", (_at(16), _at(20)))
    assert refused.value.diag.constraint_name == "shifts_no_overlap"
    clinic.execute("INSERT INTO doctors (full_name, specialty, department_id) VALUES ('Bo Test', 'Cardiology', 1)")
    clinic.execute("INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES (2, %s, %s)", (_at(16), _at(20)))


def test_status_is_a_closed_set(clinic: psycopg.Connection) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        _book(clinic, _at(10), _at(10, 30), status="maybe")
    assert refused.value.diag.constraint_name == "appointments_status_check"


@pytest.mark.parametrize("length", [timedelta(0), timedelta(minutes=-30)])
def test_appointment_must_end_after_it_starts(clinic: psycopg.Connection, length: timedelta) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        _book(clinic, _at(11), _at(11) + length)
    assert refused.value.diag.constraint_name == "appointments_ends_after_start"


def test_shift_must_end_after_it_starts(clinic: psycopg.Connection) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        clinic.execute("INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES (1, %s, %s)", (_at(20), _at(19)))
    assert refused.value.diag.constraint_name == "shifts_ends_after_start"


def test_times_are_timestamptz(clinic: psycopg.Connection) -> None:
    rows = clinic.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND (column_name LIKE '%\\_at' OR column_name = 'at')"
    ).fetchall()
    assert rows
    assert {data_type for _, _, data_type in rows} == {"timestamp with time zone"}, rows


def test_concurrent_applies_apply_each_migration_once(empty_database: str) -> None:
    params = _params(empty_database)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: migrations.apply(params), range(3)))
    assert sorted(migration for result in results for migration in result) == MIGRATION_IDS
    assert migrations.status(params).pending == []

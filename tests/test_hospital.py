"""The data layer against a real PostgreSQL: every operation, the free-slot rules, refusals, audit rows."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import psycopg
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agent.call import IDENTITY_CHECKS_PER_CALL
from agent.hospital import (
    Actor,
    Booked,
    BookingRefused,
    IdentityClosed,
    InvalidInput,
    NoMatch,
    NotFound,
    Patient,
    PostgresHospital,
    Registered,
    RegistrationRefused,
    Slot,
    SlotTaken,
    Verified,
    name_key,
)
from agent.hospital.pool import create_pool
from agent.settings import DatabaseSettings
from devtools.testing.factories import (
    ZONE,
    Clinic,
    add_appointment,
    add_clinic,
    add_department,
    add_doctor,
    add_patient,
    add_shift,
    cancel_appointment,
    create_migrated_database,
    local,
    unique,
)

TODAY = date(2030, 3, 4)  # a Monday; 2030-03-10 is the day US clocks go forward


class Clock:
    """The data layer's idea of "now", set by each test."""

    def __init__(self) -> None:
        self.now = local(TODAY, 7)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def database_url(postgres_server) -> str:
    return create_migrated_database(postgres_server)


@pytest_asyncio.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(DatabaseSettings(database_url=database_url, app_env="dev"), max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hospital(pool: asyncpg.Pool, clock: Clock) -> PostgresHospital:
    return PostgresHospital(pool, slot_minutes=30, timezone=ZONE, clock=clock, retry_delays=())


@pytest_asyncio.fixture
async def clinic(pool: asyncpg.Pool) -> Clinic:
    async with pool.acquire() as conn:
        return await add_clinic(conn, first_day=TODAY)


@pytest_asyncio.fixture
async def call(hospital: PostgresHospital) -> Actor:
    return Actor(call_session_id=await hospital.start_call(room=unique("room"), job_id="job-1"))


async def audit_rows(pool: asyncpg.Pool, session: int) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM audit_log WHERE call_session_id = $1 ORDER BY id", session)


async def test_a_phone_calls_room_is_kept_without_the_callers_number(hospital, pool):
    # LiveKit names an individual dispatch rule's room "<prefix>_<caller number>_<random>" (livekit/protocol,
    # sip/sip.go); the number is the caller's, not the call's id.
    session = await hospital.start_call(room="call-_+15550142398_Zk3mPq9xYt2a", job_id="AJ_1")
    assert await pool.fetchval("SELECT room FROM call_sessions WHERE id = $1", session) == "call-_[number]_Zk3mPq9xYt2a"


# -- patients -----------------------------------------------------------------------------------------------


async def test_verify_patient_by_name_and_birth_date_or_phone_and_audit_each_read(hospital, pool, call):
    async with pool.acquire() as conn:
        patient_id = await add_patient(
            conn, full_name="Mary-Jane O'Neil", date_of_birth=date(1971, 2, 3), phone="+15550001111"
        )
    by_birth = await hospital.verify_patient(call, full_name="  mary-jane   o'neil ", date_of_birth=date(1971, 2, 3))
    by_phone = await hospital.verify_patient(call, full_name="MARY-JANE O'NEIL", phone="+1 (555) 000-1111")
    assert isinstance(by_birth, Verified)
    assert by_birth.patient.id == patient_id
    assert by_phone == by_birth
    assert by_birth.patient.full_name == "Mary-Jane O'Neil"
    assert by_birth.patient.mrn.startswith("MRN")

    wrong_birth = await hospital.verify_patient(call, full_name="Mary-Jane O'Neil", date_of_birth=date(1971, 2, 4))
    assert wrong_birth == NoMatch()
    assert await hospital.verify_patient(call, full_name="Mary O'Neil", phone="+15550001111") == NoMatch()

    rows = await audit_rows(pool, call.call_session_id)
    assert [(r["action"], r["entity"], r["patient_id"]) for r in rows] == [
        ("read", "patient", patient_id),
        ("read", "patient", patient_id),
        ("read", "patient", None),
        ("read", "patient", None),
    ]
    details = [json.loads(r["detail"]) for r in rows]
    assert details[0] == {"lookup": "dob", "matches": 1}
    assert details[2]["matches"] == 0
    assert all("Neil" not in r["detail"] and "1971" not in r["detail"] for r in rows)  # no PHI in the audit


async def test_two_patients_with_the_same_name_and_birth_date_identify_nobody(hospital, pool, call):
    name = unique("Sam Lee")
    async with pool.acquire() as conn:
        await add_patient(conn, full_name=name, date_of_birth=date(1990, 1, 1))
        await add_patient(conn, full_name=name, date_of_birth=date(1990, 1, 1))
    assert await hospital.verify_patient(call, full_name=name, date_of_birth=date(1990, 1, 1)) == NoMatch()


async def test_verify_patient_needs_a_second_fact(hospital, call):
    with pytest.raises(InvalidInput, match="date of birth or the phone"):
        await hospital.verify_patient(call, full_name="Ann Smith")


async def test_register_patient_creates_once_and_audits(hospital, pool, call):
    name = "Zoë " + unique("angstrom")
    registered = await hospital.register_patient(
        call, full_name=name, date_of_birth=date(2000, 2, 29), phone="+44 20 7946 0958", email="zoe@example.org"
    )
    # Spacing and case (non-ASCII too, whatever the database's locale) don't make another person.
    again = await hospital.register_patient(
        call,
        full_name=f"  {name[:3].upper()}   {name[4:].upper()} ",
        date_of_birth=date(2000, 2, 29),
        phone="+442079460958",
        email="someone.else@example.org",
    )
    assert not registered.on_file
    first = registered.patient
    # A retried registration finds the record instead of duplicating it, and changes nothing on it.
    assert again == Registered(first, on_file=True)
    assert first.full_name == name
    assert first.phone == "+442079460958"
    assert first.email == "zoe@example.org"
    assert first.mrn.startswith("MRN")
    assert len(first.mrn) == 13
    assert await pool.fetchval("SELECT count(*) FROM patients WHERE full_name = $1", name) == 1
    actions = [(r["action"], r["patient_id"]) for r in await audit_rows(pool, call.call_session_id)]
    assert actions == [("create", first.id), ("read", first.id)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phone": "555-1234"}, "international number"),
        ({"phone": "+0123456789"}, "international number"),
        ({"date_of_birth": date(1899, 12, 31)}, "before 1900"),
        ({"date_of_birth": date(2030, 3, 5)}, "in the future"),
        ({"full_name": "x" * 201}, "too long"),
        ({"full_name": "   "}, "empty"),
        ({"full_name": "Ann\x00Smith"}, "can't be stored"),
        ({"email": "not-an-address"}, "email"),
    ],
)
async def test_register_patient_refuses_malformed_input_before_writing(hospital, pool, call, changes, message):
    arguments = {"full_name": "Valid Name", "date_of_birth": date(1980, 1, 1), "phone": "+15551230000"} | changes
    before = await pool.fetchval("SELECT count(*) FROM patients")
    with pytest.raises(InvalidInput, match=message):
        await hospital.register_patient(call, **arguments)
    assert await pool.fetchval("SELECT count(*) FROM patients") == before


# -- identity checks: limits per call and per name, in the database ----------------------------------------


async def new_call(hospital: PostgresHospital) -> Actor:
    return Actor(call_session_id=await hospital.start_call(room=unique("room"), job_id="job"))


async def test_a_call_gets_three_identity_checks_then_none_even_with_the_right_details(hospital, pool):
    name = unique("Rita Moreno")
    async with pool.acquire() as conn:
        await add_patient(conn, full_name=name, date_of_birth=date(1961, 12, 11))
    call = await new_call(hospital)
    for day in range(1, IDENTITY_CHECKS_PER_CALL + 1):
        assert await hospital.verify_patient(call, full_name=name, date_of_birth=date(1961, 1, day)) == NoMatch()
    right = await hospital.verify_patient(call, full_name=name, date_of_birth=date(1961, 12, 11))
    assert right == IdentityClosed("call_limit")
    # Other names too: the limit is the call's. Registering is an identity attempt as well.
    other = await hospital.verify_patient(call, full_name=unique("Ann Other"), date_of_birth=date(1970, 1, 1))
    assert other == IdentityClosed("call_limit")
    refused = await hospital.register_patient(
        call, full_name=unique("New Person"), date_of_birth=date(1990, 1, 1), phone="+15550007777"
    )
    assert refused == IdentityClosed("call_limit")
    # Another call may try again: the name is not locked yet.
    assert isinstance(
        await hospital.verify_patient(await new_call(hospital), full_name=name, date_of_birth=date(1961, 12, 11)),
        Verified,
    )


async def wrong_guesses(hospital: PostgresHospital, name: str, count: int) -> list[object]:
    """`count` wrong birth dates for `name`, each from a new call (so only the per-name limit applies)."""
    return [
        await hospital.verify_patient(await new_call(hospital), full_name=name, date_of_birth=date(1950, 1, 1 + day))
        for day in range(count)
    ]


async def test_five_failures_for_a_name_lock_it_for_a_day_without_telling_whether_it_is_on_file(hospital, pool):
    on_file, not_on_file = unique("Lena Horne"), unique("Nobody Here")
    async with pool.acquire() as conn:
        patient = await add_patient(conn, full_name=on_file, date_of_birth=date(1917, 6, 30))
    for name in (on_file, not_on_file):
        assert await wrong_guesses(hospital, name, 5) == [NoMatch()] * 5
    # The right details in a new call: refused, in the same words as for a name nobody has.
    for name in (on_file, not_on_file):
        right = await hospital.verify_patient(await new_call(hospital), full_name=name, date_of_birth=date(1917, 6, 30))
        assert right == IdentityClosed("locked")
    registering = await hospital.register_patient(
        await new_call(hospital), full_name=not_on_file, date_of_birth=date(1917, 6, 30), phone="+15550007778"
    )
    assert registering == IdentityClosed("locked")

    # Staff see the lock, the patient under that name and the calls that tried; no name or birth date is stored.
    locks = await pool.fetch("SELECT * FROM identity_lockouts WHERE $1 = ANY(patient_ids)", patient)
    assert len(locks) == 1
    assert locks[0]["failures"] == 5
    assert len(locks[0]["call_session_ids"]) == 6
    assert locks[0]["locked_until"] - locks[0]["last_failure_at"] == timedelta(days=1)
    stored = await pool.fetch(
        "SELECT row_to_json(a)::text AS a, row_to_json(c)::text AS c FROM identity_attempts a "
        "JOIN identity_claims c USING (claim) WHERE a.claim = identity_claim($1)",
        on_file,
    )
    assert len(stored) == 6
    assert not any(word in row["a"] + row["c"] for row in stored for word in [*on_file.split(), "1917", "1950"])

    # A day later the name can be verified again.
    await pool.execute(
        "UPDATE identity_claims SET locked_until = now() - interval '1 second' WHERE claim = identity_claim($1)",
        on_file,
    )
    again = await hospital.verify_patient(await new_call(hospital), full_name=on_file, date_of_birth=date(1917, 6, 30))
    assert isinstance(again, Verified)


async def test_a_success_clears_the_count_and_failures_fade_after_a_day(hospital, pool):
    name = unique("Nina Simone")
    async with pool.acquire() as conn:
        await add_patient(conn, full_name=name, date_of_birth=date(1933, 2, 21))
    assert await wrong_guesses(hospital, name, 4) == [NoMatch()] * 4
    right = await hospital.verify_patient(await new_call(hospital), full_name=name, date_of_birth=date(1933, 2, 21))
    assert isinstance(right, Verified)
    assert await wrong_guesses(hospital, name, 4) == [NoMatch()] * 4
    await pool.execute(
        "UPDATE identity_claims SET last_failure_at = now() - interval '25 hours' WHERE claim = identity_claim($1)",
        name,
    )
    assert await wrong_guesses(hospital, name, 4) == [NoMatch()] * 4


async def test_concurrent_guesses_at_one_name_are_counted_one_after_another(hospital, pool):
    name = unique("Ella Fitzgerald")
    calls = [await new_call(hospital) for _ in range(12)]
    results = await asyncio.gather(
        *(hospital.verify_patient(call, full_name=name, date_of_birth=date(1960, 1, 1)) for call in calls)
    )
    assert results.count(NoMatch()) == 5
    assert results.count(IdentityClosed("locked")) == 7


async def test_registration_never_makes_a_second_record_for_a_name_and_birth_date_on_file(hospital, pool):
    name = unique("Billie Holiday")
    async with pool.acquire() as conn:
        patient = await add_patient(conn, full_name=name, date_of_birth=date(1915, 4, 7), phone="+15550002222")
    call = await new_call(hospital)
    refused = await hospital.register_patient(
        call, full_name=name.upper(), date_of_birth=date(1915, 4, 7), phone="+15550003333", email="x@example.org"
    )
    assert refused == RegistrationRefused()
    assert await pool.fetchval("SELECT count(*) FROM patients WHERE name_key = $1", name_key(name)) == 1
    # The real patient is not locked out, and the refusal counted as a failed attempt of this call.
    found = await hospital.verify_patient(call, full_name=name, date_of_birth=date(1915, 4, 7))
    assert found == Verified(await patient_record(pool, patient))
    outcomes = await pool.fetch(
        "SELECT outcome FROM identity_attempts WHERE call_session_id = $1 ORDER BY id", call.call_session_id
    )
    assert [r["outcome"] for r in outcomes] == ["registration_refused", "verified"]
    denied = await pool.fetch(
        "SELECT detail FROM audit_log WHERE call_session_id = $1 AND action = 'denied'", call.call_session_id
    )
    assert [json.loads(r["detail"]) for r in denied] == [{"reason": "registration_refused"}]


async def test_concurrent_registrations_of_one_person_make_one_record(hospital, pool):
    name = unique("Sarah Vaughan")
    calls = [await new_call(hospital) for _ in range(8)]
    results = await asyncio.gather(
        *(
            hospital.register_patient(call, full_name=name, date_of_birth=date(1924, 3, 27), phone=f"+1555000{n:04d}")
            for n, call in enumerate(calls)
        )
    )
    # One record; the others are refused, and after five refusals the name is locked.
    assert sum(isinstance(r, Registered) for r in results) == 1
    assert results.count(RegistrationRefused()) == 5
    assert results.count(IdentityClosed("locked")) == 2
    assert await pool.fetchval("SELECT count(*) FROM patients WHERE name_key = $1", name_key(name)) == 1


async def patient_record(pool: asyncpg.Pool, patient_id: int) -> Patient:
    row = await pool.fetchrow(
        "SELECT id, mrn, full_name, date_of_birth, phone, email FROM patients WHERE id = $1", patient_id
    )
    return Patient(**dict(row))


# -- names compare as people say them, the same in Python and in the database ---------------------------------

SAID_ALIKE = [
    "Zoë O'Connor",
    "zoë o'connor",
    "ZOË O'CONNOR",
    "Zoe\u0308 O\u2019Connor",  # E + combining diaeresis, typographic apostrophe
    "ZOE\u0308 O\u2018CONNOR",
    "  Zoë   O\u02bcConnor ",
    "\uff3a\uff4f\u00eb O'Connor",  # full-width Z and o
]
NOT_ALIKE = [
    "Zoe O'Connor",  # no diaeresis: another name
    "Zoë OConnor",
    "Z\u043e\u00eb O'Connor",  # Cyrillic o
    "Zoë O'C\u043enn\u043er",
]


@pytest.mark.parametrize("said", SAID_ALIKE)
async def test_a_name_said_any_of_these_ways_finds_the_patient(hospital, pool, said):
    birth = date(1999, 12, 31)
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM patients WHERE full_name = 'Zoë O''Connor'"):
            await add_patient(conn, full_name="Zoë O'Connor", date_of_birth=birth)
    found = await hospital.verify_patient(await new_call(hospital), full_name=said, date_of_birth=birth)
    assert isinstance(found, Verified)
    assert found.patient.full_name == "Zoë O'Connor"


@pytest.mark.parametrize("said", NOT_ALIKE)
async def test_look_alike_letters_and_missing_marks_do_not_find_the_patient(hospital, pool, said):
    assert name_key(said) != name_key("Zoë O'Connor")
    assert await pool.fetchval("SELECT patient_name_key($1) <> patient_name_key('Zoë O''Connor')", said)


@pytest.fixture(scope="module")
def keys_in_database(database_url: str) -> Iterator[Callable[[list[str]], list[str]]]:
    """patient_name_key of each name, computed by the database."""
    with psycopg.connect(database_url) as conn:
        yield lambda names: conn.execute(
            "SELECT array_agg(patient_name_key(n) ORDER BY i) FROM unnest(%s::text[]) WITH ORDINALITY AS t(n, i)",
            (names,),
        ).fetchone()[0]


NOT_IN_NAMES = ("Cs", "Co", "Cn")  # surrogates, private use, unassigned


def test_every_character_keys_the_same_in_python_and_in_the_database(keys_in_database):
    # Every assigned character (but NUL, which text can't hold), whatever the database's locale.
    names = [chr(code) for code in range(1, sys.maxunicode + 1) if unicodedata.category(chr(code)) not in NOT_IN_NAMES]
    assert keys_in_database(names) == [name_key(name) for name in names]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.text(st.characters(exclude_categories=NOT_IN_NAMES, exclude_characters="\x00"), min_size=1, max_size=30)
        | st.text(
            st.sampled_from("aAëËeE\u0308\u0301 '\u2019-\u2010İI\u0131iΣ\u03c3\u03c2ßẞﬁ\uff21Åå\u212b"), max_size=20
        ),
        min_size=1,
        max_size=40,
    )
)
def test_name_keys_agree_between_python_and_the_database(keys_in_database, names):
    assert keys_in_database(names) == [name_key(name) for name in names]
    assert [name_key(name_key(name)) for name in names] == [name_key(name) for name in names]


# -- directory ----------------------------------------------------------------------------------------------


async def test_departments_info_and_doctors_by_specialty_name_and_language(hospital, pool):
    specialty = unique("Endocrinology")
    async with pool.acquire() as conn:
        department = await add_department(conn, unique("Endocrine Centre"))
        patel = await add_doctor(
            conn, department, full_name=unique("Aisha Patel"), specialty=specialty, languages=("en", "hi")
        )
        await add_doctor(conn, department, full_name=unique("Luis Gómez"), specialty=specialty, languages=("es",))
        await add_doctor(conn, department, full_name=unique("Retired Doc"), specialty=specialty, active=False)
        await conn.execute(
            "INSERT INTO hospital_info (topic, answer) VALUES ('parking', 'Garage B, first hour free') "
            "ON CONFLICT DO NOTHING"
        )
    by_specialty = await hospital.find_doctors(specialty=specialty.upper())
    assert len(by_specialty) == 2  # the inactive doctor is not offered
    patel_name = next(d.full_name for d in by_specialty if d.id == patel)
    surname_token = patel_name.split()[-1]  # the unique suffix makes the surname unique
    by_name = await hospital.find_doctors(name=f"Dr. {surname_token}")
    assert [d.id for d in by_name] == [patel]
    assert by_name[0].languages == ("en", "hi")
    assert by_name[0].department.startswith("Endocrine Centre")
    by_language = await hospital.find_doctors(specialty=specialty, language="ES")
    assert [d.full_name.split()[0] for d in by_language] == ["Luis"]
    assert await hospital.find_doctors(specialty=specialty, language="fr") == []

    departments = await hospital.list_departments()
    assert any(d.id == department and d.phone_extension == "2040" for d in departments)
    assert (await hospital.hospital_info())["parking"] == "Garage B, first hour free"


# -- free slots ---------------------------------------------------------------------------------------------


async def test_free_slots_start_at_shift_start_and_end_at_shift_end(hospital, clinic):
    doctor = clinic.doctor_ids[0]
    slots = await hospital.free_slots(
        window_start=local(TODAY, 0), window_end=local(TODAY, 23), doctor_id=doctor, limit=50
    )
    assert len(slots) == 16
    assert slots[0].starts_at == local(TODAY, 9)
    assert slots[-1].ends_at == local(TODAY, 17)
    assert all(b.starts_at - a.starts_at == timedelta(minutes=30) for a, b in itertools.pairwise(slots))
    assert slots[0].starts_at.tzinfo == ZONE  # results are in the hospital's time zone


async def test_free_slots_exclude_booked_times_and_the_past(hospital, pool, clinic, clock):
    doctor = clinic.doctor_ids[0]
    async with pool.acquire() as conn:
        # A 45-minute staff booking blocks both slots it touches.
        await add_appointment(
            conn, patient_id=clinic.patient_ids[0], doctor_id=doctor, starts_at=local(TODAY, 10), minutes=45
        )
    clock.now = local(TODAY, 9, 10)
    slots = await hospital.free_slots(
        window_start=local(TODAY, 0), window_end=local(TODAY, 12), doctor_id=doctor, limit=50
    )
    assert [s.starts_at for s in slots] == [local(TODAY, 9, 30), local(TODAY, 11), local(TODAY, 11, 30)]


async def test_free_slots_ignore_cancelled_appointments_and_inactive_doctors(hospital, pool, clinic):
    first, second = clinic.doctor_ids
    specialty = await pool.fetchval("SELECT specialty FROM doctors WHERE id = $1", first)
    async with pool.acquire() as conn:
        retired = await add_doctor(conn, clinic.department_id, specialty=specialty, active=False)
        await add_shift(conn, retired, local(TODAY, 8), local(TODAY, 17))
        gone = await add_appointment(conn, patient_id=clinic.patient_ids[0], doctor_id=first, starts_at=local(TODAY, 9))
        await cancel_appointment(conn, gone)
    window = {"window_start": local(TODAY, 8), "window_end": local(TODAY, 10), "limit": 10}
    slots = await hospital.free_slots(specialty=specialty, **window)
    assert [(s.doctor_id, s.starts_at) for s in slots] == [
        (first, local(TODAY, 9)),
        (second, local(TODAY, 9)),
        (first, local(TODAY, 9, 30)),
        (second, local(TODAY, 9, 30)),
    ]
    assert await hospital.free_slots(doctor_id=retired, **window) == []


async def test_free_slots_for_a_specialty_are_earliest_first_across_doctors_and_limited(hospital, pool, clinic):
    first, second = clinic.doctor_ids
    async with pool.acquire() as conn:
        await add_appointment(conn, patient_id=clinic.patient_ids[0], doctor_id=first, starts_at=local(TODAY, 9))
    specialty = await pool.fetchval("SELECT specialty FROM doctors WHERE id = $1", first)
    slots = await hospital.free_slots(
        window_start=local(TODAY, 9), window_end=local(TODAY, 17), specialty=specialty.lower(), limit=3
    )
    assert [(s.doctor_id, s.starts_at) for s in slots] == [
        (second, local(TODAY, 9)),
        (first, local(TODAY, 9, 30)),
        (second, local(TODAY, 9, 30)),
    ]


async def test_free_slots_window_is_half_open_and_accepts_other_zones_and_naive_local_times(hospital, clinic):
    doctor = clinic.doctor_ids[0]
    in_utc = await hospital.free_slots(
        window_start=local(TODAY, 10).astimezone(UTC),
        window_end=local(TODAY, 11).astimezone(UTC),
        doctor_id=doctor,
        limit=10,
    )
    naive = await hospital.free_slots(
        window_start=datetime(2030, 3, 4, 10), window_end=datetime(2030, 3, 4, 11), doctor_id=doctor, limit=10
    )
    assert [s.starts_at for s in in_utc] == [s.starts_at for s in naive] == [local(TODAY, 10), local(TODAY, 10, 30)]


async def test_free_slots_on_the_day_clocks_go_forward(hospital, pool):
    dst_day = date(2030, 3, 10)
    async with pool.acquire() as conn:
        department = await add_department(conn)
        doctor = await add_doctor(conn, department)
        # Local 01:00-04:00 on that day is two real hours: 02:00-03:00 does not exist.
        await add_shift(conn, doctor, local(dst_day, 1), local(dst_day, 4))
    slots = await hospital.free_slots(
        window_start=local(dst_day, 0), window_end=local(dst_day, 6), doctor_id=doctor, limit=10
    )
    assert len(slots) == 4
    assert [s.starts_at.strftime("%H:%M %Z") for s in slots] == ["01:00 EST", "01:30 EST", "03:00 EDT", "03:30 EDT"]


async def test_free_slots_walk_past_fully_booked_shifts(hospital, pool, clinic):
    # More booked-out shifts, and more doctors starting together, than the first read of shifts covers.
    days = [date(2030, 4, 1) + timedelta(days=n) for n in range(7)]
    specialty = unique("Nephrology")
    patient = clinic.patient_ids[0]
    async with pool.acquire() as conn:
        department = await add_department(conn)
        busy = await add_doctor(conn, department, specialty=specialty)
        for day in days:
            await add_shift(conn, busy, local(day, 9), local(day, 10))
            if day != days[-1]:
                for hour, minute in ((9, 0), (9, 30)):
                    await add_appointment(conn, patient_id=patient, doctor_id=busy, starts_at=local(day, hour, minute))
        together = [await add_doctor(conn, department, specialty=specialty) for _ in range(10)]
        for doctor in together:
            await add_shift(conn, doctor, local(days[0], 14), local(days[0], 15))
            if doctor != together[-1]:
                await add_appointment(conn, patient_id=patient, doctor_id=doctor, starts_at=local(days[0], 14))
    by_doctor = await hospital.free_slots(
        window_start=local(days[0], 0), window_end=local(days[-1], 23), doctor_id=busy, limit=3
    )
    assert [(s.doctor_id, s.starts_at) for s in by_doctor] == [
        (busy, local(days[-1], 9)),
        (busy, local(days[-1], 9, 30)),
    ]
    by_specialty = await hospital.free_slots(
        window_start=local(days[0], 12), window_end=local(days[0], 23), specialty=specialty, limit=3
    )
    assert [(s.doctor_id, s.starts_at) for s in by_specialty] == [
        (together[-1], local(days[0], 14)),
        (together[0], local(days[0], 14, 30)),
        (together[1], local(days[0], 14, 30)),
    ]


async def test_free_slots_leave_no_session_state_behind(database_url, clinic, clock):
    # The function's plan_cache_mode lasts only for the call: a pooler hands the connection on unchanged.
    settings = DatabaseSettings(database_url=database_url, app_env="dev")
    single = await create_pool(settings, min_size=1, max_size=1)
    try:
        hospital = PostgresHospital(single, slot_minutes=30, timezone=ZONE, clock=clock, retry_delays=())
        changed = "SELECT name FROM pg_settings WHERE source = 'session'"
        assert await single.fetch(changed) == []
        slots = await hospital.free_slots(
            window_start=local(TODAY, 0), window_end=local(TODAY, 23), doctor_id=clinic.doctor_ids[0]
        )
        assert len(slots) == 3
        assert await single.fetch(changed) == []
        assert await single.fetchval("SHOW plan_cache_mode") == "auto"
    finally:
        await single.close()


# The free-slot rules, once more, as the slowest obvious loop: the database function must agree with it on any
# calendar (shifts of any length and offset, appointments on and off the slot grid, cancelled ones, an inactive
# doctor, windows and "now" anywhere, a clock change inside the span).
# In UTC: Python adds and compares two datetimes of one zone by wall clock, which repeats an hour that day.
CALENDAR_START = local(date(2030, 11, 2), 0).astimezone(UTC)  # US clocks go back on 2030-11-03
FIVE_MINUTES = timedelta(minutes=5)


@st.composite
def calendars(draw: st.DrawFn) -> dict:
    def steps(low_minutes: int, high_minutes: int) -> timedelta:
        return draw(st.integers(low_minutes // 5, high_minutes // 5)) * FIVE_MINUTES

    doctors = draw(st.integers(1, 3))
    span = 2 * 24 * 60
    shifts = [
        (draw(st.integers(0, doctors)), start, start + steps(15, 12 * 60))  # doctor index `doctors` is inactive
        for start in (CALENDAR_START + steps(-12 * 60, span) for _ in range(draw(st.integers(0, 8))))
    ]
    appointments = []
    for _ in range(draw(st.integers(0, 12)) if shifts else 0):
        doctor, shift_start, shift_end = draw(st.sampled_from(shifts))
        # Mostly inside the shift and off the slot grid; some reach past its edges and are refused.
        start = shift_start + steps(-30, (shift_end - shift_start) // timedelta(minutes=1) - 5)
        cancelled = draw(st.integers(0, 3)) == 0
        appointments.append((doctor, start, draw(st.integers(1, 24)) * 5, cancelled))  # length in minutes
    # Windows anywhere, or opening inside an appointment, where a slot overlapping its tail must not be offered.
    inside = [start for _, start, _, _ in appointments]
    if inside and draw(st.booleans()):
        window_start = draw(st.sampled_from(inside)) + steps(5, 60)
    else:
        window_start = CALENDAR_START + steps(-6 * 60, span)
    return {
        "doctors": doctors,
        "shifts": shifts,
        "appointments": appointments,
        "slot_minutes": draw(st.sampled_from([5, 15, 20, 30, 45, 60, 90])),
        "window": (window_start, window_start + steps(5, 3 * 24 * 60)),
        "now": window_start + steps(-24 * 60, 3 * 60),
        "limit": draw(st.integers(1, 12)),
        "by_doctor": draw(st.one_of(st.none(), st.integers(0, doctors))),
    }


def reference_free_slots(*, shifts, booked, wanted, window, now, slot, limit) -> list[tuple[datetime, int]]:
    found = []
    for doctor, shift_start, shift_end in shifts:
        if doctor not in wanted:
            continue
        at = shift_start
        while at + slot <= shift_end:
            clash = any(d == doctor and start < at + slot and end > at for d, start, end in booked)
            if window[0] <= at < window[1] and at >= now and not clash:
                found.append((at, doctor))
            at += slot
    return sorted(found)[:limit]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendar=calendars())
async def test_free_slots_agree_with_a_brute_force_reference(pool, calendar):
    specialty = unique("Geriatrics")
    async with pool.acquire() as conn:
        department = await add_department(conn)
        doctor_ids = [await add_doctor(conn, department, specialty=specialty) for _ in range(calendar["doctors"])]
        doctor_ids.append(await add_doctor(conn, department, specialty=specialty, active=False))
        patient = await add_patient(conn)
        shifts, booked = [], []
        for index, starts_at, ends_at in calendar["shifts"]:
            try:
                await add_shift(conn, doctor_ids[index], starts_at, ends_at)
            except asyncpg.ExclusionViolationError:
                continue  # overlaps another shift of that doctor: the schema refuses it
            shifts.append((doctor_ids[index], starts_at, ends_at))
        for index, starts_at, minutes, cancelled in calendar["appointments"]:
            try:
                appointment = await add_appointment(
                    conn, patient_id=patient, doctor_id=doctor_ids[index], starts_at=starts_at, minutes=minutes
                )
            except (asyncpg.ExclusionViolationError, asyncpg.CheckViolationError):
                continue  # overlaps a booking, or lies outside every shift
            if cancelled:
                await cancel_appointment(conn, appointment)
            else:
                booked.append((doctor_ids[index], starts_at, starts_at + timedelta(minutes=minutes)))
    event(f"{len(booked)} booked")
    slot = timedelta(minutes=calendar["slot_minutes"])
    hospital = PostgresHospital(
        pool, slot_minutes=calendar["slot_minutes"], timezone=ZONE, clock=lambda: calendar["now"], retry_delays=()
    )
    if calendar["by_doctor"] is None:
        wanted, query = set(doctor_ids[:-1]), {"specialty": specialty.upper()}
    else:
        doctor = doctor_ids[calendar["by_doctor"]]
        wanted, query = ({doctor} - {doctor_ids[-1]}), {"doctor_id": doctor}
    window = calendar["window"]
    slots = await hospital.free_slots(window_start=window[0], window_end=window[1], limit=calendar["limit"], **query)
    expected = reference_free_slots(
        shifts=shifts,
        booked=booked,
        wanted=wanted,
        window=window,
        now=calendar["now"],
        slot=slot,
        limit=calendar["limit"],
    )
    # Compared in UTC: a time in the repeated hour never equals one in another zone (PEP 495).
    assert [(s.starts_at.astimezone(UTC), s.doctor_id) for s in slots] == expected
    assert all(s.ends_at.astimezone(UTC) - s.starts_at.astimezone(UTC) == slot for s in slots)
    assert all(s.specialty == specialty and s.starts_at.tzinfo == ZONE for s in slots)
    if expected:
        event("slots found")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"window_start": local(TODAY, 10), "window_end": local(TODAY, 9), "doctor_id": 1}, "after window_start"),
        ({"window_start": local(TODAY, 10), "window_end": local(TODAY, 11)}, "doctor or a specialty"),
        (
            {"window_start": local(TODAY, 0), "window_end": local(TODAY, 1) + timedelta(days=400), "doctor_id": 1},
            "longer than a year",
        ),
        ({"window_start": datetime(1, 1, 1, tzinfo=UTC), "window_end": local(TODAY, 1), "doctor_id": 1}, "plausible"),
        ({"window_start": local(TODAY, 0), "window_end": local(TODAY, 1), "doctor_id": 1, "limit": 0}, "limit"),
        ({"window_start": local(TODAY, 0), "window_end": local(TODAY, 1), "doctor_id": 2**40}, "doctor_id"),
    ],
)
async def test_free_slots_refuse_malformed_windows(hospital, arguments, message):
    with pytest.raises(InvalidInput, match=message):
        await hospital.free_slots(**arguments)


# -- booking ------------------------------------------------------------------------------------------------


async def test_book_writes_the_appointment_and_an_audit_row(hospital, pool, clinic, call):
    patient, doctor = clinic.patient_ids[0], clinic.doctor_ids[0]
    result = await hospital.book(
        call,
        patient_id=patient,
        doctor_id=doctor,
        starts_at=local(TODAY, 14),
        reason="chest pain follow-up",
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(result, Booked)
    booked = result.appointment
    assert (booked.patient_id, booked.doctor_id, booked.status) == (patient, doctor, "booked")
    assert (booked.starts_at, booked.ends_at) == (local(TODAY, 14), local(TODAY, 14, 30))
    row = await pool.fetchrow("SELECT booked_by, call_session_id FROM appointments WHERE id = $1", booked.id)
    assert tuple(row) == ("agent", call.call_session_id)
    audits = [(r["action"], r["entity"], r["entity_id"]) for r in await audit_rows(pool, call.call_session_id)]
    assert audits == [("create", "appointment", booked.id)]
    assert local(TODAY, 14) not in [
        s.starts_at
        for s in await hospital.free_slots(
            window_start=local(TODAY, 13), window_end=local(TODAY, 16), doctor_id=doctor, limit=10
        )
    ]


async def test_book_taken_slot_returns_alternatives_of_the_same_doctor(hospital, clinic, call):
    doctor = clinic.doctor_ids[0]
    first = await hospital.book(
        call,
        patient_id=clinic.patient_ids[0],
        doctor_id=doctor,
        starts_at=local(TODAY, 10),
        reason="",
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(first, Booked)
    second = await hospital.book(
        call,
        patient_id=clinic.patient_ids[1],
        doctor_id=doctor,
        starts_at=local(TODAY, 10),
        reason="",
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(second, SlotTaken)
    assert [(s.doctor_id, s.starts_at) for s in second.alternatives] == [
        (doctor, local(TODAY, 10, 30)),
        (doctor, local(TODAY, 11)),
        (doctor, local(TODAY, 11, 30)),
    ]


async def test_booking_refusals_say_why(hospital, pool, clinic, call, clock):
    patient, doctor = clinic.patient_ids[0], clinic.doctor_ids[0]
    async with pool.acquire() as conn:
        inactive = await add_doctor(conn, clinic.department_id, active=False)

    async def book(**changes):
        arguments = {
            "patient_id": patient,
            "doctor_id": doctor,
            "starts_at": local(TODAY, 15),
            "reason": "",
            "idempotency_key": uuid.uuid4(),
        } | changes
        return await hospital.book(call, **arguments)

    before = await pool.fetchval("SELECT count(*) FROM appointments")
    with pytest.raises(BookingRefused, match="outside the doctor's working hours"):
        await book(starts_at=local(TODAY, 17))
    with pytest.raises(BookingRefused, match="outside the doctor's working hours"):
        await book(starts_at=local(TODAY, 8, 30))
    with pytest.raises(BookingRefused, match="30-minute grid"):
        await book(starts_at=local(TODAY, 15, 10))
    clock.now = local(TODAY, 15, 5)
    with pytest.raises(BookingRefused, match="in the past"):
        await book(starts_at=local(TODAY, 15))
    with pytest.raises(NotFound, match="no such patient"):
        await book(patient_id=2**40, starts_at=local(TODAY, 16))
    with pytest.raises(NotFound, match="no such doctor"):
        await book(doctor_id=2**30, starts_at=local(TODAY, 16))
    with pytest.raises(BookingRefused, match="not taking appointments"):
        await book(doctor_id=inactive, starts_at=local(TODAY, 16))
    with pytest.raises(InvalidInput, match="reason is too long"):
        await book(reason="x" * 501, starts_at=local(TODAY, 16))
    with pytest.raises(InvalidInput, match="idempotency_key"):
        await book(idempotency_key="not-a-uuid", starts_at=local(TODAY, 16))
    assert await pool.fetchval("SELECT count(*) FROM appointments") == before


async def test_a_retried_booking_returns_the_first_result(hospital, pool, clinic, call):
    key = uuid.uuid4()
    arguments = {
        "patient_id": clinic.patient_ids[0],
        "doctor_id": clinic.doctor_ids[0],
        "starts_at": local(TODAY, 12),
        "reason": "retry",
        "idempotency_key": key,
    }
    first = await hospital.book(call, **arguments)
    again = await hospital.book(call, **arguments)
    assert isinstance(first, Booked)
    assert again == first
    assert await pool.fetchval("SELECT count(*) FROM appointments WHERE idempotency_key = $1", key) == 1
    with pytest.raises(InvalidInput, match="already used"):
        await hospital.book(call, **arguments | {"starts_at": local(TODAY, 12, 30)})


# -- reschedule and cancel ----------------------------------------------------------------------------------


async def book_one(hospital, call, clinic, hour: int, *, patient: int = 0, doctor: int = 0):
    result = await hospital.book(
        call,
        patient_id=clinic.patient_ids[patient],
        doctor_id=clinic.doctor_ids[doctor],
        starts_at=local(TODAY, hour),
        reason="check-up",
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(result, Booked)
    return result.appointment


async def test_a_slot_is_checked_before_it_is_read_back(hospital, pool, clinic, call, clock):
    doctor = clinic.doctor_ids[0]
    async with pool.acquire() as conn:
        inactive = await add_doctor(conn, clinic.department_id, active=False)
        await add_shift(conn, inactive, local(TODAY, 9), local(TODAY, 17))
        name, specialty = await conn.fetchrow("SELECT full_name, specialty FROM doctors WHERE id = $1", doctor)
    free = await hospital.bookable_slot(doctor_id=doctor, starts_at=local(TODAY, 10))
    assert free == Slot(doctor, name, specialty, local(TODAY, 10), local(TODAY, 10, 30))

    refusals = [
        (local(TODAY, 6, 30), doctor, BookingRefused, "in the past"),
        (datetime(1, 1, 1, 9), doctor, InvalidInput, "not a plausible date"),
        (local(TODAY + timedelta(days=1), 3), doctor, BookingRefused, "outside the doctor's working hours"),
        (local(TODAY, 10, 10), doctor, BookingRefused, "30-minute grid"),
        (local(TODAY, 10), 2**30, NotFound, "no such doctor"),
        (local(TODAY, 10), inactive, BookingRefused, "not taking appointments"),
    ]
    for starts_at, doctor_id, error, message in refusals:
        with pytest.raises(error, match=message):
            await hospital.bookable_slot(doctor_id=doctor_id, starts_at=starts_at)

    booked = await book_one(hospital, call, clinic, 10)
    taken = await hospital.bookable_slot(doctor_id=doctor, starts_at=local(TODAY, 10))
    assert isinstance(taken, SlotTaken)
    assert [slot.starts_at for slot in taken.alternatives] == [
        local(TODAY, 10, 30),
        local(TODAY, 11),
        local(TODAY, 11, 30),
    ]
    # The appointment being moved does not take the time it is moved within.
    moving = await hospital.bookable_slot(doctor_id=doctor, starts_at=local(TODAY, 10), moving_appointment=booked.id)
    assert isinstance(moving, Slot)


async def test_reschedule_moves_atomically(hospital, pool, clinic, call):
    old = await book_one(hospital, call, clinic, 9)
    key = uuid.uuid4()
    moved = await hospital.reschedule(
        call,
        patient_id=old.patient_id,
        appointment_id=old.id,
        new_starts_at=local(TODAY + timedelta(days=1), 11),
        idempotency_key=key,
    )
    assert isinstance(moved, Booked)
    new = moved.appointment
    assert (new.doctor_id, new.starts_at, new.reason) == (
        old.doctor_id,
        local(TODAY + timedelta(days=1), 11),
        "check-up",
    )
    rows = await pool.fetch(
        "SELECT id, status, rescheduled_from FROM appointments WHERE id = ANY($1) ORDER BY id", [old.id, new.id]
    )
    assert [tuple(r) for r in rows] == [(old.id, "cancelled", None), (new.id, "booked", old.id)]
    replay = await hospital.reschedule(
        call,
        patient_id=old.patient_id,
        appointment_id=old.id,
        new_starts_at=local(TODAY + timedelta(days=1), 11),
        idempotency_key=key,
    )
    assert replay == moved
    audits = [(r["action"], r["entity_id"]) for r in await audit_rows(pool, call.call_session_id)]
    assert audits[1:] == [("update", old.id), ("create", new.id), ("read", new.id)]  # book, move, replay


async def test_reschedule_into_an_overlapping_slot_of_the_same_doctor(hospital, pool, clinic, call):
    async with pool.acquire() as conn:
        department = await add_department(conn)
        doctor = await add_doctor(conn, department)
        await add_shift(conn, doctor, local(TODAY, 9), local(TODAY, 10))
    result = await hospital.book(
        call,
        patient_id=clinic.patient_ids[0],
        doctor_id=doctor,
        starts_at=local(TODAY, 9),
        reason="",
        idempotency_key=uuid.uuid4(),
    )
    moved = await hospital.reschedule(
        call,
        patient_id=clinic.patient_ids[0],
        appointment_id=result.appointment.id,
        new_starts_at=local(TODAY, 9),
        new_doctor_id=doctor,
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(moved, Booked)
    assert moved.appointment.id != result.appointment.id


async def test_reschedule_to_a_taken_slot_leaves_the_old_appointment_booked(hospital, pool, clinic, call):
    mine = await book_one(hospital, call, clinic, 9, patient=0)
    await book_one(hospital, call, clinic, 10, patient=1)
    result = await hospital.reschedule(
        call,
        patient_id=mine.patient_id,
        appointment_id=mine.id,
        new_starts_at=local(TODAY, 10),
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(result, SlotTaken)
    assert result.alternatives[0].starts_at == local(TODAY, 10, 30)
    assert await pool.fetchval("SELECT status FROM appointments WHERE id = $1", mine.id) == "booked"
    with pytest.raises(BookingRefused, match="outside"):
        await hospital.reschedule(
            call,
            patient_id=mine.patient_id,
            appointment_id=mine.id,
            new_starts_at=local(TODAY, 18),
            idempotency_key=uuid.uuid4(),
        )
    assert await pool.fetchval("SELECT status FROM appointments WHERE id = $1", mine.id) == "booked"


async def test_only_the_patients_own_future_booked_appointment_can_move_or_cancel(hospital, pool, clinic, call, clock):
    mine = await book_one(hospital, call, clinic, 13, patient=0)
    other_patient = clinic.patient_ids[1]
    with pytest.raises(NotFound, match="no such appointment"):
        await hospital.cancel(call, patient_id=other_patient, appointment_id=mine.id)
    with pytest.raises(NotFound, match="no such appointment"):
        await hospital.reschedule(
            call,
            patient_id=other_patient,
            appointment_id=mine.id,
            new_starts_at=local(TODAY, 15),
            idempotency_key=uuid.uuid4(),
        )
    with pytest.raises(NotFound, match="no such appointment"):
        await hospital.reschedule(
            call,
            patient_id=other_patient,
            appointment_id=mine.id,
            new_starts_at=local(TODAY, 15),
            new_doctor_id=clinic.doctor_ids[1],
            idempotency_key=uuid.uuid4(),
        )
    with pytest.raises(NotFound):
        await hospital.cancel(call, patient_id=mine.patient_id, appointment_id=2**40)
    with pytest.raises(NotFound, match="no such appointment"):
        await hospital.own_appointment(call, patient_id=other_patient, appointment_id=mine.id)
    # Every reach for someone else's appointment (or one that doesn't exist) is on the record, against its owner.
    denied = await pool.fetch(
        "SELECT patient_id, entity, entity_id, detail FROM audit_log WHERE call_session_id = $1 AND action = 'denied' "
        "ORDER BY id",
        call.call_session_id,
    )
    assert [(r["patient_id"], r["entity"], r["entity_id"]) for r in denied] == [
        (mine.patient_id, "appointment", mine.id),
        (mine.patient_id, "appointment", mine.id),
        (mine.patient_id, "appointment", mine.id),
        (None, "appointment", 2**40),
        (mine.patient_id, "appointment", mine.id),
    ]
    assert [json.loads(r["detail"])["caller_patient_id"] for r in denied] == [other_patient] * 3 + [
        mine.patient_id,
        other_patient,
    ]
    assert (await hospital.own_appointment(call, patient_id=mine.patient_id, appointment_id=mine.id)) == mine

    clock.now = local(TODAY, 13, 5)
    with pytest.raises(BookingRefused, match="in the past"):
        await hospital.cancel(call, patient_id=mine.patient_id, appointment_id=mine.id)
    clock.now = local(TODAY, 12)
    cancelled = await hospital.cancel(call, patient_id=mine.patient_id, appointment_id=mine.id)
    assert cancelled.status == "cancelled"
    assert await hospital.cancel(call, patient_id=mine.patient_id, appointment_id=mine.id) == cancelled
    with pytest.raises(BookingRefused, match="already cancelled"):
        await hospital.reschedule(
            call,
            patient_id=mine.patient_id,
            appointment_id=mine.id,
            new_starts_at=local(TODAY, 15),
            idempotency_key=uuid.uuid4(),
        )


async def test_upcoming_appointments_are_the_patients_booked_future_ones_in_order(hospital, pool, clinic, call, clock):
    later = await book_one(hospital, call, clinic, 16)
    sooner = await book_one(hospital, call, clinic, 9)
    cancelled = await book_one(hospital, call, clinic, 11)
    await hospital.cancel(call, patient_id=cancelled.patient_id, appointment_id=cancelled.id)
    await book_one(hospital, call, clinic, 12, patient=1)
    clock.now = local(TODAY, 8)
    assert [a.id for a in await hospital.upcoming_appointments(call, patient_id=sooner.patient_id)] == [
        sooner.id,
        later.id,
    ]
    clock.now = local(TODAY, 10)
    assert [a.id for a in await hospital.upcoming_appointments(call, patient_id=sooner.patient_id)] == [later.id]
    async with pool.acquire() as conn:
        lonely = await add_patient(conn)
    assert await hospital.upcoming_appointments(call, patient_id=lonely) == []
    with pytest.raises(NotFound, match="no such patient"):
        await hospital.upcoming_appointments(call, patient_id=2**40)
    reads = [r for r in await audit_rows(pool, call.call_session_id) if r["action"] == "read"]
    assert [json.loads(r["detail"])["upcoming"] for r in reads] == [2, 1, 0]


# -- calls, callbacks, denials ------------------------------------------------------------------------------


async def test_call_sessions_events_callbacks_and_denials(hospital, pool, clinic, call):
    session = call.call_session_id
    await hospital.record_event(
        session, "tool_call", tool="find_free_slots", outcome="ok", duration_ms=3.5, detail={"doctor_id": 7}
    )
    await hospital.audit_denied(call, entity="appointment", reason="caller not verified")
    request = await hospital.add_callback_request(
        call,
        caller_name="Jo Bloggs",
        callback_phone="+15557654321",
        message="Please call about my results",
        patient_id=clinic.patient_ids[0],
    )
    await hospital.end_call(session, outcome="completed", patient_id=clinic.patient_ids[0])

    event = await pool.fetchrow(
        "SELECT kind, tool, outcome, duration_ms, detail FROM call_events WHERE call_session_id = $1", session
    )
    assert tuple(event) == ("tool_call", "find_free_slots", "ok", 3.5, '{"doctor_id": 7}')
    ended = await pool.fetchrow("SELECT outcome, patient_id, ended_at FROM call_sessions WHERE id = $1", session)
    assert ended["outcome"] == "completed"
    assert ended["patient_id"] == clinic.patient_ids[0]
    assert ended["ended_at"]
    assert await pool.fetchval("SELECT caller_name FROM callback_requests WHERE id = $1", request) == "Jo Bloggs"
    audits = [(r["action"], r["entity"], json.loads(r["detail"])) for r in await audit_rows(pool, session)]
    assert audits == [
        ("denied", "appointment", {"reason": "caller not verified"}),
        ("update", "patient", {"callback_request_id": request}),
    ]

    with pytest.raises(InvalidInput, match="event kind"):
        await hospital.record_event(session, "said_something")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="plain JSON"):
        await hospital.record_event(session, "tool_call", detail={"x": float("nan")})
    with pytest.raises(NotFound, match="call session"):
        await hospital.record_event(2**40, "call_ended")
    with pytest.raises(NotFound, match="call session"):
        await hospital.end_call(2**40, outcome="abandoned")
    with pytest.raises(NotFound, match="call session"):
        await hospital.audit_denied(Actor(call_session_id=2**40), entity="patient", reason="x")


# -- property tests: odd names and dates never corrupt anything ---------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE patients;--",
        'Dwayne "The Rock" Johnson',
        "Siobhán Ní Bhriain",
        "李小龙",
        "N" * 200,
        "O'Brien-Smith 🙂",
        "%_\\ wildcard",
    ],
)
async def test_awkward_names_round_trip_exactly(hospital, pool, name):
    actor = Actor(call_session_id=None, name="test")
    created = await hospital.register_patient(
        actor, full_name=name, date_of_birth=date(1960, 6, 1), phone="+15550004444"
    )
    found = await hospital.verify_patient(actor, full_name=name, phone="+15550004444")
    assert found == Verified(created.patient)
    assert found.patient.full_name == name
    assert await pool.fetchval("SELECT to_regclass('patients') IS NOT NULL")


names = st.one_of(
    st.text(min_size=0, max_size=250),
    st.text(alphabet=st.sampled_from("'\"`;\\%_-. ŁøéÆ李王🙂\u200b\t\n\x00"), min_size=1, max_size=60),
    st.builds(lambda n: "a" * n, st.integers(min_value=150, max_value=10_000)),
)

birth_dates = st.one_of(
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(2000, 2, 29), date(1904, 2, 29), date(1900, 1, 1)]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, birth=birth_dates)
async def test_any_name_and_birth_date_is_stored_exactly_or_refused(hospital, pool, name, birth):
    before = await pool.fetchval("SELECT count(*) FROM patients")
    actor = Actor(call_session_id=None, name="property-test")
    try:
        registration = await hospital.register_patient(actor, full_name=name, date_of_birth=birth, phone="+15550009999")
    except InvalidInput:
        assert await pool.fetchval("SELECT count(*) FROM patients") == before
        return
    patient = registration.patient
    if registration.on_file:  # an earlier example stored a name with the same key and birth date
        assert (name_key(patient.full_name), patient.date_of_birth) == (name_key(name.strip()), birth)
        assert await pool.fetchval("SELECT count(*) FROM patients") == before
        return
    event("stored")
    assert patient.full_name == name.strip()
    assert patient.date_of_birth == birth
    assert date(1900, 1, 1) <= birth <= TODAY
    stored = await pool.fetchrow("SELECT full_name, date_of_birth FROM patients WHERE id = $1", patient.id)
    assert tuple(stored) == (name.strip(), birth)
    assert await hospital.verify_patient(actor, full_name=name, date_of_birth=birth) == Verified(patient)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59),
        timezones=st.sampled_from([UTC, ZONE, None]),
    )
)
async def test_absurd_appointment_times_are_refused_and_write_nothing(hospital, pool, moment):
    before = await pool.fetchval("SELECT count(*) FROM appointments")
    actor = Actor(call_session_id=None, name="property-test")
    try:
        result = await hospital.book(
            actor, patient_id=1, doctor_id=1, starts_at=moment, reason="", idempotency_key=uuid.uuid4()
        )
    except (InvalidInput, BookingRefused, NotFound):
        assert await pool.fetchval("SELECT count(*) FROM appointments") == before
        return
    # Only a time on an existing shift's grid can succeed.
    assert isinstance(result, Booked | SlotTaken)

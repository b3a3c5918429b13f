"""Through PgBouncer in transaction mode (a stand-in for RDS Proxy's multiplexing), every operation works."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from agent.hospital import Actor, Booked, PostgresHospital, Verified
from agent.hospital.pool import create_pool
from agent.settings import DatabaseSettings
from devtools.testing.factories import ZONE, Clinic, add_clinic, create_migrated_database, local
from devtools.testing.pgbouncer import PGBOUNCER_HINT, PgBouncer, pgbouncer_binary
from devtools.testing.postgres import require_os_package

DAY = date(2030, 5, 6)
SESSIONS = 50
DOCTORS = 5


@pytest.fixture(scope="module")
def bouncer(postgres_server) -> Iterator[PgBouncer]:
    require_os_package(pgbouncer_binary() is not None, PGBOUNCER_HINT)
    bouncer = PgBouncer(root=Path(tempfile.mkdtemp(prefix="pytest-pgbouncer-")), target=postgres_server).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module")
def database(postgres_server) -> str:
    return create_migrated_database(postgres_server).rsplit("/", 1)[1]


@pytest_asyncio.fixture(scope="module")
async def clinic(postgres_server, database) -> Clinic:
    conn = await asyncpg.connect(postgres_server.dsn(database))
    try:
        return await add_clinic(conn, first_day=DAY, days=2, doctors=DOCTORS, patients=0)
    finally:
        await conn.close()


def pooled_settings(url: str, cache: int = 0) -> DatabaseSettings:
    return DatabaseSettings(
        _env_file=None,
        app_env="dev",
        database_url=url,
        database_pool_max_size=SESSIONS,
        database_statement_cache_size=cache,
    )


@pytest_asyncio.fixture
async def pool(bouncer, database) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(pooled_settings(bouncer.dsn(database)), min_size=SESSIONS)
    yield pool
    await pool.close()


async def one_call(hospital: PostgresHospital, clinic: Clinic, index: int) -> None:
    """A whole call's worth of data operations, each slot unique to this session."""
    session = await hospital.start_call(room=f"room-{index}", job_id=f"job-{index}")
    actor = Actor(call_session_id=session)
    registration = await hospital.register_patient(
        actor,
        full_name=f"Caller Number{index}",
        date_of_birth=date(1980, 1, 1 + index % 28),
        phone=f"+1555300{index:04d}",
    )
    patient = registration.patient
    by_birth = await hospital.verify_patient(actor, full_name=patient.full_name, date_of_birth=patient.date_of_birth)
    by_phone = await hospital.verify_patient(actor, full_name=patient.full_name, phone=patient.phone)
    assert by_birth == by_phone == Verified(patient)
    await hospital.list_departments()
    await hospital.hospital_info()
    doctors = await hospital.find_doctors(specialty=(await hospital.find_doctors(name=None))[0].specialty)
    assert doctors
    doctor = clinic.doctor_ids[index % DOCTORS]
    slot = local(DAY, 9) + timedelta(minutes=30 * (index // DOCTORS))
    assert await hospital.free_slots(window_start=slot, window_end=slot + timedelta(hours=1), doctor_id=doctor)
    booked = await hospital.book(
        actor,
        patient_id=patient.id,
        doctor_id=doctor,
        starts_at=slot,
        reason="check-up",
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(booked, Booked)
    moved = await hospital.reschedule(
        actor,
        patient_id=patient.id,
        appointment_id=booked.appointment.id,
        new_starts_at=slot + timedelta(days=1),
        idempotency_key=uuid.uuid4(),
    )
    assert isinstance(moved, Booked)
    assert [a.id for a in await hospital.upcoming_appointments(actor, patient_id=patient.id)] == [moved.appointment.id]
    await hospital.cancel(actor, patient_id=patient.id, appointment_id=moved.appointment.id)
    await hospital.record_event(session, "tool_call", tool="book_appointment", outcome="ok", duration_ms=1.0)
    await hospital.add_callback_request(
        actor, caller_name=patient.full_name, callback_phone=patient.phone, message="call me", patient_id=patient.id
    )
    await hospital.audit_denied(actor, entity="patient", reason="caller not verified")
    await hospital.end_call(session, outcome="completed", patient_id=patient.id)


async def test_fifty_sessions_do_every_operation_through_pgbouncer(pool, clinic, postgres_server, database):
    hospital = PostgresHospital(pool, slot_minutes=30, timezone=ZONE, clock=lambda: local(DAY, 7), retry_delays=())
    await asyncio.gather(*(one_call(hospital, clinic, index) for index in range(SESSIONS)))

    direct = await asyncpg.connect(postgres_server.dsn(database))
    try:
        counts = await direct.fetchrow(
            "SELECT (SELECT count(*) FROM call_sessions WHERE outcome = 'completed') AS calls, "
            "(SELECT count(*) FROM appointments WHERE status = 'cancelled') AS cancelled, "
            "(SELECT count(*) FROM callback_requests) AS callbacks"
        )
        # Far fewer server connections than client sessions: PgBouncer really multiplexed the transactions.
        servers = await direct.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
        )
    finally:
        await direct.close()
    assert tuple(counts) == (SESSIONS, 2 * SESSIONS, SESSIONS)
    assert servers <= 10


async def test_the_pooler_really_breaks_session_state(bouncer, database):
    """Control: with asyncpg's named prepared statements on, the same traffic fails behind PgBouncer."""
    pool = await create_pool(pooled_settings(bouncer.dsn(database), cache=100), min_size=SESSIONS)
    try:

        async def query(index: int) -> None:
            for _ in range(5):
                await pool.fetchval("SELECT $1::int + count(*) FROM departments", index)

        results = await asyncio.gather(*(query(index) for index in range(SESSIONS)), return_exceptions=True)
    finally:
        await pool.close()
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures, "named prepared statements should break under transaction pooling"
    assert all(isinstance(f, asyncpg.PostgresError | asyncpg.InterfaceError) for f in failures)

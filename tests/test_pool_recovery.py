"""The database restarts under load: the pool recovers by itself and no booking is lost or made twice.

These tests restart their own server (never the session's shared one).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from agent.hospital import Actor, Booked, DatabaseUnavailable, PostgresHospital
from agent.hospital.pool import create_pool
from agent.settings import DatabaseSettings
from devtools.testing.factories import ZONE, Clinic, add_clinic, create_migrated_database, local
from devtools.testing.postgres import (
    DEBIAN_PACKAGE_HINT,
    PostgresServer,
    debian_bin_dir,
    pgserver_bin_dir,
    require_os_package,
)

DAY = date(2030, 6, 3)
WORKERS = 10
BOOKINGS = 80
DEADLINE_SECONDS = 30


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    bin_dir = debian_bin_dir() or pgserver_bin_dir()
    require_os_package(bin_dir is not None, DEBIAN_PACKAGE_HINT)
    server = (
        PostgresServer(
            root=Path(tempfile.mkdtemp(prefix="pytest-restart-postgres-")),
            bin_dir=bin_dir,
            # A commit the client saw must survive the server process dying (the OS does not crash here).
            settings={"synchronous_commit": "on"},
        )
        .init()
        .start()
    )
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def database_url(server: PostgresServer) -> str:
    return create_migrated_database(server)


@pytest_asyncio.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    settings = DatabaseSettings(
        _env_file=None,
        app_env="dev",
        database_url=database_url,
        database_pool_max_size=WORKERS,
        database_timeout_seconds=2,
    )
    pool = await create_pool(settings)
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def clinic(pool: asyncpg.Pool) -> Clinic:
    async with pool.acquire() as conn:
        return await add_clinic(conn, first_day=DAY, days=2, doctors=4, patients=10)


@pytest.fixture
def hospital(pool: asyncpg.Pool) -> PostgresHospital:
    return PostgresHospital(
        pool, slot_minutes=30, timezone=ZONE, clock=lambda: local(DAY, 7), retry_delays=(0.05, 0.2, 0.5)
    )


@dataclass(frozen=True)
class Intent:
    key: uuid.UUID
    patient: int
    doctor: int
    starts_at: datetime


async def started_at(pool: asyncpg.Pool) -> datetime:
    return await pool.fetchval("SELECT pg_postmaster_start_time()")


async def test_restart_mid_load_loses_and_duplicates_no_booking(server, pool, clinic, hospital):
    slots = [local(DAY + timedelta(days=d), 9) + timedelta(minutes=30 * i) for d in range(2) for i in range(16)]
    intents = [
        Intent(uuid.uuid4(), clinic.patient_ids[n % 10], clinic.doctor_ids[n % 4], slots[n // 4])
        for n in range(BOOKINGS)
    ]
    queue: asyncio.Queue[Intent] = asyncio.Queue()
    for intent in intents:
        queue.put_nowait(intent)
    first_start = await started_at(pool)
    finished: list[float] = []
    quarter_done = asyncio.Event()

    async def worker() -> None:
        actor = Actor(call_session_id=None)
        while not queue.empty():
            intent = queue.get_nowait()
            deadline = time.monotonic() + DEADLINE_SECONDS
            while True:  # the agent's behaviour: say "one moment" and try again with the same key
                try:
                    await hospital.free_slots(
                        window_start=intent.starts_at,
                        window_end=intent.starts_at + timedelta(hours=2),
                        doctor_id=intent.doctor,
                    )
                    result = await hospital.book(
                        actor,
                        patient_id=intent.patient,
                        doctor_id=intent.doctor,
                        starts_at=intent.starts_at,
                        reason="",
                        idempotency_key=intent.key,
                    )
                    break
                except DatabaseUnavailable:
                    assert time.monotonic() < deadline, "the pool did not recover"
                    await asyncio.sleep(0.2)
            assert isinstance(result, Booked)
            finished.append(time.monotonic())
            if len(finished) >= BOOKINGS // 4:
                quarter_done.set()

    async def restart_when_a_quarter_is_done() -> float:
        await quarter_done.wait()
        await asyncio.to_thread(server.restart, 0.5)
        return time.monotonic()

    restarter = asyncio.create_task(restart_when_a_quarter_is_done())
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    restarted_at = await restarter

    assert await started_at(pool) > first_start  # the server really restarted during the run
    assert any(moment > restarted_at for moment in finished)  # and the load went on after it
    rows = await pool.fetch(
        "SELECT idempotency_key, count(*) AS n FROM appointments WHERE idempotency_key = ANY($1) "
        "AND status = 'booked' GROUP BY idempotency_key",
        [intent.key for intent in intents],
    )
    assert {row["idempotency_key"] for row in rows} == {intent.key for intent in intents}  # none lost
    assert all(row["n"] == 1 for row in rows)  # none twice
    assert (
        await pool.fetchval("SELECT count(*) FROM appointments WHERE doctor_id = ANY($1)", clinic.doctor_ids)
        == BOOKINGS
    )


async def test_a_stopped_server_is_reported_and_the_pool_comes_back_on_its_own(server, hospital, pool):
    window = {"window_start": local(DAY, 9), "window_end": local(DAY, 10), "specialty": "none"}
    await hospital.free_slots(**window)
    server.stop("immediate")
    await asyncio.sleep(0.2)  # the pool's idle connections see the server hang up
    try:
        with pytest.raises(DatabaseUnavailable, match="nothing was saved"):
            await hospital.start_call(room="room-down", job_id=None)
        with pytest.raises(DatabaseUnavailable):
            await hospital.free_slots(**window)
    finally:
        server.start()
    assert await hospital.start_call(room="room-up", job_id=None) > 0
    assert await hospital.free_slots(**window) == []


# -- the retry policy, with a stand-in pool that fails on cue ------------------------------------------------


class FlakyConnection:
    """Wraps a real connection; its next query fails as a dropped connection does, before reaching the server
    ("lost") or after the server did the work ("ran")."""

    def __init__(self, connection: asyncpg.Connection, faults: list[str]) -> None:
        self._connection = connection
        self._faults = faults

    def __getattr__(self, name: str):
        method = getattr(self._connection, name)
        if name not in {"fetch", "fetchrow", "fetchval", "execute"}:
            return method

        async def call(*args, **kwargs):
            fault = self._faults.pop(0) if self._faults else None
            if fault == "ran":
                await method(*args, **kwargs)  # the server did the work; the answer is lost on the way back
            if fault is not None:
                raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
            return await method(*args, **kwargs)

        return call


class FlakyPool:
    """A stand-in for asyncpg.Pool: `faults` says, per attempt, whether acquiring fails ("connect"), the query
    is lost before the server ("lost") or after it ran ("ran"), or nothing goes wrong (anything else)."""

    def __init__(self, pool: asyncpg.Pool, faults: list[str]) -> None:
        self._pool = pool
        self._faults = faults
        self.attempts = 0

    def acquire(self, timeout: float | None = None):
        pool, faults, outer = self._pool, self._faults, self

        class Acquired:
            async def __aenter__(self):
                outer.attempts += 1
                fault = faults.pop(0) if faults else None
                if fault == "connect":
                    raise ConnectionRefusedError(111, "Connect call failed")
                self._held = await pool.acquire(timeout=timeout)
                return FlakyConnection(self._held, [fault] if fault in {"lost", "ran"} else [])

            async def __aexit__(self, *exc_info):
                await pool.release(self._held)

        return Acquired()


def flaky_hospital(pool: asyncpg.Pool, faults: list[str]) -> tuple[PostgresHospital, FlakyPool]:
    flaky = FlakyPool(pool, faults)
    hospital = PostgresHospital(
        flaky, slot_minutes=30, timezone=ZONE, clock=lambda: local(DAY, 7), retry_delays=(0.01, 0.01)
    )
    return hospital, flaky


async def test_reads_are_repeated_after_a_lost_connection(pool, clinic):
    hospital, flaky = flaky_hospital(pool, ["lost", "ran"])
    slots = await hospital.free_slots(
        window_start=local(DAY, 9), window_end=local(DAY, 10), doctor_id=clinic.doctor_ids[0]
    )
    assert len(slots) == 2
    assert flaky.attempts == 3


async def test_a_write_without_a_key_is_not_repeated_once_it_may_have_reached_the_server(pool):
    hospital, flaky = flaky_hospital(pool, ["ran"])
    before = await pool.fetchval("SELECT count(*) FROM call_sessions")
    with pytest.raises(DatabaseUnavailable, match="may or may not have been saved"):
        await hospital.start_call(room="room-flaky", job_id=None)
    assert flaky.attempts == 1
    assert await pool.fetchval("SELECT count(*) FROM call_sessions") == before + 1  # it was: never twice


async def test_a_write_is_repeated_when_it_never_reached_the_server(pool):
    hospital, flaky = flaky_hospital(pool, ["connect", "connect"])
    assert await hospital.start_call(room="room-late", job_id=None) > 0
    assert flaky.attempts == 3


async def test_a_booking_whose_answer_was_lost_is_repeated_and_returns_the_first_result(pool, clinic):
    hospital, flaky = flaky_hospital(pool, ["ran"])
    key = uuid.uuid4()
    result = await hospital.book(
        Actor(call_session_id=None),
        patient_id=clinic.patient_ids[0],
        doctor_id=clinic.doctor_ids[1],
        starts_at=local(DAY, 15),
        reason="",
        idempotency_key=key,
    )
    assert isinstance(result, Booked)
    assert flaky.attempts == 2
    assert await pool.fetchval("SELECT count(*) FROM appointments WHERE idempotency_key = $1", key) == 1

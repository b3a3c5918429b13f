"""Data-layer latency and throughput, each figure beside the floor measured in the same run.

The floor is a primary-key SELECT over the same pool: what one round trip costs here. Everything runs
against a throwaway PostgreSQL (and PgBouncer in transaction mode, when installed) on 127.0.0.1, with a
mid-size hospital's data (devtools/testing/factories.populate). The pool runs as in production behind a
pooler: statement cache 0 (asyncpg then prepares and executes each query, two round trips).

Phases, each direct and through PgBouncer:
- single session: every operation in turn, no contention;
- open loop: 50 concurrent calls, each making a data call at random (Poisson) times, on average every 2 s
  (25 operations/s) and every 0.2 s (250/s, 10x); latency counts from the moment the call was due;
- saturation: 50 sessions in a closed loop, operations/s as a ratio to the floor's;
- 50 connections held open at once, and the floor measured while they are.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from agent.hospital import Actor, Booked, PostgresHospital
from agent.hospital.pool import create_pool
from agent.settings import DatabaseSettings
from devtools.testing.factories import ZONE, create_migrated_database, local, populate
from devtools.testing.pgbouncer import PgBouncer, pgbouncer_binary
from devtools.testing.postgres import PostgresServer, debian_bin_dir, pgserver_bin_dir

CALLS = 50
SINGLE_SESSION_SAMPLES = 300
SATURATION_SECONDS = 1.0
SLOT_MINUTES = 30
# Goals (issue 2): single-session reads p99 <= 3x floor; booking p99 <= 10 ms; every op p99 < 20 ms at 10x.
READ_RATIO_GOAL = 3.0
BOOKING_P99_GOAL_MS = 10.0
LOADED_P99_GOAL_MS = 20.0
CLIENT_LAG = "(client wake-up lag)"
READS = (
    "verify_patient",
    "find_doctors",
    "free_slots_doctor",
    "free_slots_specialty",
    "upcoming",
    "departments",
    "hospital_info",
)
# How often each operation comes up in a call (weights), for the open-loop and mixed saturation phases.
MIX = {
    "floor": 4,
    "verify_patient": 3,
    "register_patient": 1,
    "find_doctors": 3,
    "departments": 1,
    "hospital_info": 2,
    "free_slots_doctor": 4,
    "free_slots_specialty": 4,
    "book": 3,
    "reschedule": 1,
    "cancel": 1,
    "upcoming": 2,
    "start_call": 1,
    "record_event": 6,
    "end_call": 1,
    "callback": 1,
    "audit_denied": 1,
}
# At 10x the phase lasts until the rarest operation has about 300 samples, so its p99 is its 3rd or 4th slowest
# sample. With 100 it was the 2nd slowest, which two of this machine's stalls (every query in flight late at once,
# the floor too) decide on their own.
P99_SAMPLES = 300
TEN_X_RATE = 250.0
OPEN_LOOP = (  # (operations/s, seconds)
    (25.0, 8.0),
    (TEN_X_RATE, P99_SAMPLES * sum(MIX.values()) / min(MIX.values()) / TEN_X_RATE),
)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Workload:
    """The operations, with the data they need; bookings take free slots and cancellations give them back."""

    hospital: PostgresHospital
    pool: asyncpg.Pool
    patients: list[asyncpg.Record]
    doctors: list[int]
    specialties: list[str]
    free: deque[tuple[int, datetime]]
    rng: random.Random = field(default_factory=lambda: random.Random(11))  # noqa: S311 - load shape, not secrets
    mine: deque[tuple[int, int, int, datetime]] = field(default_factory=deque)  # (appointment, patient, doctor, at)
    calls: deque[int] = field(default_factory=deque)

    def operations(self) -> dict[str, Callable[[], Awaitable[object]]]:
        return {name: getattr(self, f"op_{name}") for name in MIX}

    def _actor(self) -> Actor:
        return Actor(call_session_id=self.calls[-1] if self.calls else None)

    async def op_floor(self) -> None:
        await self.pool.fetchval("SELECT id FROM patients WHERE id = $1", self.rng.choice(self.patients)["id"])

    async def op_verify_patient(self) -> None:
        patient = self.rng.choice(self.patients)
        await self.hospital.verify_patient(
            self._actor(), full_name=patient["full_name"], date_of_birth=patient["date_of_birth"]
        )

    async def op_register_patient(self) -> None:
        number = self.rng.randrange(10**7)
        await self.hospital.register_patient(
            self._actor(),
            full_name=f"Bench Caller {number}",
            date_of_birth=date(1970, 1, 1),
            phone=f"+1555{number:07d}",
        )

    async def op_find_doctors(self) -> None:
        await self.hospital.find_doctors(specialty=self.rng.choice(self.specialties))

    async def op_departments(self) -> None:
        await self.hospital.list_departments()

    async def op_hospital_info(self) -> None:
        await self.hospital.hospital_info()

    def _window(self) -> tuple[datetime, datetime]:
        start = datetime.now(UTC) + timedelta(days=self.rng.randrange(7))
        return start, start + timedelta(days=14)

    async def op_free_slots_doctor(self) -> None:
        start, end = self._window()
        await self.hospital.free_slots(window_start=start, window_end=end, doctor_id=self.rng.choice(self.doctors))

    async def op_free_slots_specialty(self) -> None:
        start, end = self._window()
        await self.hospital.free_slots(window_start=start, window_end=end, specialty=self.rng.choice(self.specialties))

    async def op_book(self) -> None:
        doctor, at = self.free.popleft()
        patient = self.rng.choice(self.patients)["id"]
        result = await self.hospital.book(
            self._actor(),
            patient_id=patient,
            doctor_id=doctor,
            starts_at=at,
            reason="bench",
            idempotency_key=uuid.uuid4(),
        )
        if isinstance(result, Booked):
            self.mine.append((result.appointment.id, patient, doctor, at))

    async def op_reschedule(self) -> None:
        if not self.mine:
            return await self.op_book()
        appointment, patient, doctor, at = self.mine.popleft()
        new_doctor, new_at = self.free.popleft()
        result = await self.hospital.reschedule(
            self._actor(),
            patient_id=patient,
            appointment_id=appointment,
            new_starts_at=new_at,
            new_doctor_id=new_doctor,
            idempotency_key=uuid.uuid4(),
        )
        if isinstance(result, Booked):
            self.free.append((doctor, at))
            self.mine.append((result.appointment.id, patient, new_doctor, new_at))
        return None

    async def op_cancel(self) -> None:
        if not self.mine:
            return await self.op_book()
        appointment, patient, doctor, at = self.mine.popleft()
        await self.hospital.cancel(self._actor(), patient_id=patient, appointment_id=appointment)
        self.free.append((doctor, at))
        return None

    async def op_upcoming(self) -> None:
        await self.hospital.upcoming_appointments(self._actor(), patient_id=self.rng.choice(self.patients)["id"])

    async def op_start_call(self) -> None:
        self.calls.append(await self.hospital.start_call(room=f"bench-{uuid.uuid4().hex[:8]}", job_id=None))

    async def op_record_event(self) -> None:
        if not self.calls:
            return await self.op_start_call()
        await self.hospital.record_event(self.calls[-1], "tool_call", tool="bench", outcome="ok", duration_ms=1.0)
        return None

    async def op_end_call(self) -> None:
        if not self.calls:
            return await self.op_start_call()
        await self.hospital.end_call(self.calls[-1], outcome="completed")
        return None

    async def op_callback(self) -> None:
        await self.hospital.add_callback_request(
            self._actor(), caller_name="Bench Caller", callback_phone="+15550001234", message="please call back"
        )

    async def op_audit_denied(self) -> None:
        await self.hospital.audit_denied(self._actor(), entity="patient", reason="caller not verified")


async def timed(operation: Callable[[], Awaitable[object]], due: float | None = None) -> float:
    """Milliseconds from `due` (or now) until the operation finished."""
    started = due if due is not None else time.perf_counter()
    await operation()
    return (time.perf_counter() - started) * 1000


async def single_session(work: Workload, samples: int = SINGLE_SESSION_SAMPLES) -> dict[str, list[float]]:
    """Each operation in turn, round after round, so a burst of outside load hits the floor and the rest alike."""
    operations = work.operations()
    for operation in operations.values():
        for _ in range(5):  # warm up: connections, caches
            await operation()
    results: dict[str, list[float]] = defaultdict(list)
    for _ in range(samples):
        for name, operation in operations.items():
            results[name].append(await timed(operation))
    return results


async def open_loop(work: Workload, rate: float, seconds: float) -> dict[str, list[float]]:
    """CALLS callers, each due to make a data call at Poisson times (CALLS * mean gap = 1 / rate)."""
    operations = work.operations()
    names, weights = list(MIX), list(MIX.values())
    results: dict[str, list[float]] = defaultdict(list)
    pending: set[asyncio.Task] = set()
    mean_gap = CALLS / rate
    end = time.perf_counter() + seconds

    async def one(name: str, due: float) -> None:
        results[name].append(await timed(operations[name], due))

    async def caller() -> None:
        due = time.perf_counter() + work.rng.expovariate(1 / mean_gap)
        while due < end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(one(work.rng.choices(names, weights)[0], due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            due += work.rng.expovariate(1 / mean_gap)

    async def lag_probe() -> None:
        """How late this process wakes up: the part of every latency above that is the client, not the database."""
        while time.perf_counter() < end:
            due = time.perf_counter() + 0.005
            await asyncio.sleep(0.005)
            results[CLIENT_LAG].append((time.perf_counter() - due) * 1000)

    await asyncio.gather(lag_probe(), *(caller() for _ in range(CALLS)))
    await asyncio.gather(*pending)
    return results


async def saturation(operation: Callable[[], Awaitable[object]], seconds: float = SATURATION_SECONDS) -> float:
    """Operations per second with CALLS sessions each running `operation` back to back."""
    done = 0
    end = time.perf_counter() + seconds

    async def session() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await operation()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(CALLS)))
    return done / (time.perf_counter() - started)


def mixed(work: Workload) -> Callable[[], Awaitable[object]]:
    operations, names, weights = work.operations(), list(MIX), list(MIX.values())

    def pick() -> Awaitable[object]:
        return operations[work.rng.choices(names, weights)[0]]()

    return pick


def print_latencies(title: str, results: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print(f"  {'operation':<22}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'p99/floor':>11}")
    floor = percentile(results["floor"], 0.99)
    for name in [*MIX, CLIENT_LAG]:
        samples = results.get(name)
        if not samples:
            continue
        p99 = percentile(samples, 0.99)
        print(f"  {name:<22}{len(samples):>6}{percentile(samples, 0.5):>9.2f}{p99:>9.2f}{p99 / floor:>10.1f}x")


@dataclass
class Target:
    name: str
    url: str


async def measure(target: Target, work_for: Callable[[asyncpg.Pool], Workload]) -> dict[str, object]:
    settings = DatabaseSettings(
        _env_file=None,
        app_env="dev",
        database_url=target.url,
        database_pool_max_size=CALLS,
        database_statement_cache_size=0,
    )
    pool = await create_pool(settings, min_size=CALLS)
    try:
        work = work_for(pool)
        figures: dict[str, object] = {}
        single = await single_session(work)
        figures["single"] = single
        print_latencies(f"[{target.name}] single session, no contention", single)
        for rate, seconds in OPEN_LOOP:
            loaded = await open_loop(work, rate, seconds)
            figures[f"open {rate:g}"] = loaded
            print_latencies(
                f"[{target.name}] open loop {rate:g} ops/s ({CALLS} calls, one data call every "
                f"{CALLS / rate:g} s on average each) for {seconds:g} s",
                loaded,
            )
        floor_rate = await saturation(work.op_floor)
        print(f"\n[{target.name}] saturation, {CALLS} sessions closed loop, {SATURATION_SECONDS:g} s each")
        print(f"  {'floor (primary-key SELECT)':<34}{floor_rate:>9.0f} ops/s   1.00x")
        for name in ("verify_patient", "free_slots_specialty", "book", "record_event"):
            rate = await saturation(work.operations()[name])
            print(f"  {name:<34}{rate:>9.0f} ops/s   {rate / floor_rate:.2f}x")
        rate = await saturation(mixed(work))
        print(f"  {'the call mix':<34}{rate:>9.0f} ops/s   {rate / floor_rate:.2f}x")
        return figures
    finally:
        await pool.close()


async def connections_held(target: Target, server: PostgresServer, database: str) -> None:
    """Open CALLS connections at once, keep them, and run the floor on every one of them concurrently."""
    started = time.perf_counter()
    settings = DatabaseSettings(_env_file=None, app_env="dev", database_url=target.url, database_pool_max_size=CALLS)
    pool = await create_pool(settings, min_size=CALLS, server_settings={"application_name": "bench-held"})
    opened_ms = (time.perf_counter() - started) * 1000
    try:
        connections = [await pool.acquire() for _ in range(CALLS)]
        samples = []
        for _ in range(20):
            samples += await asyncio.gather(*(timed(lambda c=c: c.fetchval("SELECT 1")) for c in connections))
        direct = await asyncpg.connect(server.dsn(database))
        try:
            server_side = await direct.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'bench-held'",
                database,
            )
        finally:
            await direct.close()
        for connection in connections:
            await pool.release(connection)
    finally:
        await pool.close()
    print(
        f"\n[{target.name}] {CALLS} connections held: opened in {opened_ms:.0f} ms; {CALLS} concurrent queries "
        f"p50 {percentile(samples, 0.5):.2f} ms, p99 {percentile(samples, 0.99):.2f} ms; "
        f"server connections serving them: {server_side}"
    )


def verdicts(figures: dict[str, dict[str, object]]) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\ngoals (machine load average now {load} on {os.cpu_count()} CPUs: other work inflates p99)")
    for target, results in figures.items():
        single = results["single"]
        floor_p99 = percentile(single["floor"], 0.99)
        worst_read = max(READS, key=lambda name: percentile(single[name], 0.99))
        ratio = percentile(single[worst_read], 0.99) / floor_p99
        book_p99 = percentile(single["book"], 0.99)
        loaded = results[f"open {OPEN_LOOP[-1][0]:g}"]
        worst_loaded = max(MIX, key=lambda name: percentile(loaded[name], 0.99))
        loaded_p99 = percentile(loaded[worst_loaded], 0.99)
        lag_p99 = percentile(loaded[CLIENT_LAG], 0.99)
        loaded_floor_p99 = percentile(loaded["floor"], 0.99)
        print(
            f"  [{target}] single-session reads p99 <= {READ_RATIO_GOAL:g}x floor: worst {worst_read} "
            f"{ratio:.1f}x -> {'met' if ratio <= READ_RATIO_GOAL else 'NOT met'}"
        )
        print(
            f"  [{target}] booking p99 <= {BOOKING_P99_GOAL_MS:g} ms: {book_p99:.2f} ms -> "
            f"{'met' if book_p99 <= BOOKING_P99_GOAL_MS else 'NOT met'}"
        )
        print(
            f"  [{target}] every op p99 < {LOADED_P99_GOAL_MS:g} ms at {OPEN_LOOP[-1][0]:g} ops/s: worst "
            f"{worst_loaded} {loaded_p99:.2f} ms (floor p99 {loaded_floor_p99:.2f} ms, "
            f"client wake-up lag p99 {lag_p99:.2f} ms) "
            f"-> {'met' if loaded_p99 < LOADED_P99_GOAL_MS else 'NOT met'}"
        )


async def run(server: PostgresServer, database: str, bouncer: PgBouncer | None) -> None:
    first_day = datetime.now(ZONE).date() + timedelta(days=1)
    setup = await asyncpg.connect(server.dsn(database))
    try:
        made = await populate(setup, first_day=first_day)
        patients = await setup.fetch("SELECT id, full_name, date_of_birth FROM patients")
        specialties = [row[0] for row in await setup.fetch("SELECT DISTINCT specialty FROM doctors")]
        free_rows = await setup.fetch(
            """SELECT s.doctor_id, slot FROM shifts s,
                      generate_series(s.starts_at, s.ends_at - interval '30 minutes', interval '30 minutes') slot
               WHERE NOT EXISTS (SELECT 1 FROM appointments a WHERE a.doctor_id = s.doctor_id
                                 AND a.status = 'booked' AND a.starts_at = slot)
               ORDER BY random()"""
        )
        await setup.execute("ANALYZE")
    finally:
        await setup.close()
    free = deque((row["doctor_id"], row["slot"]) for row in free_rows)
    print(
        f"data: {len(made['doctors'])} doctors, {len(patients)} patients, {len(free)} free slots from "
        f"{first_day} ({SLOT_MINUTES}-minute slots, shifts {local(first_day, 8):%H:%M}-16:00 hospital time)"
    )

    def work_for(pool: asyncpg.Pool) -> Workload:
        hospital = PostgresHospital(pool, slot_minutes=SLOT_MINUTES, timezone=ZONE)
        return Workload(hospital, pool, list(patients), made["doctors"], specialties, free)

    targets = [Target("direct", server.dsn(database))]
    if bouncer is not None:
        targets.append(Target("pgbouncer", bouncer.dsn(database)))
    figures = {}
    for target in targets:
        figures[target.name] = await measure(target, work_for)
    for target in targets:
        await connections_held(target, server, database)
    await pooler_tax(targets[0], work_for)
    verdicts(figures)


async def pooler_tax(target: Target, work_for: Callable[[asyncpg.Pool], Workload]) -> None:
    """For comparison only: a direct connection with asyncpg's statement cache on (one round trip, no re-plan),
    which is what a pooler in transaction mode rules out."""
    settings = DatabaseSettings(
        _env_file=None, app_env="dev", database_url=target.url, database_statement_cache_size=100
    )
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        cached = await single_session(work_for(pool), samples=100)
    finally:
        await pool.close()
    print_latencies(f"[{target.name}, statement cache 100: not possible behind a pooler] single session", cached)


def main() -> None:
    bin_dir = debian_bin_dir() or pgserver_bin_dir()
    if bin_dir is None:
        print("skipped: needs PostgreSQL (Debian package 'postgresql', or the pgserver wheel)")
        return
    server = (
        PostgresServer(
            root=Path(tempfile.mkdtemp(prefix="bench-postgres-")),
            bin_dir=bin_dir,
            settings={"synchronous_commit": "on", "shared_buffers": "128MB"},
        )
        .init()
        .start()
    )
    bouncer = None
    try:
        database = create_migrated_database(server).rsplit("/", 1)[1]
        if pgbouncer_binary() is not None:
            bouncer = PgBouncer(root=Path(tempfile.mkdtemp(prefix="bench-pgbouncer-")), target=server).start()
        else:
            print("PgBouncer not installed (Debian package 'pgbouncer'): measuring direct connections only")
        print(f"server: PostgreSQL from {bin_dir} on 127.0.0.1, fsync off, synchronous_commit on")
        asyncio.run(run(server, database, bouncer))
    finally:
        if bouncer is not None:
            bouncer.stop()
        server.destroy()

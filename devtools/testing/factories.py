"""Test and benchmark data: migrated databases and small, explicit hospital fixtures.

Independent of the seed data (`python -m agent.db seed`): each test builds exactly what it asserts on, with
unique names so tests sharing one database never see each other's rows.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import psycopg
from psycopg.conninfo import conninfo_to_dict

from agent.db import migrations
from devtools.testing.postgres import PostgresServer

TEMPLATE_DATABASE = "hospital_migrated_template"
ZONE = ZoneInfo("America/New_York")

_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def create_migrated_database(server: PostgresServer) -> str:
    """A new database with the schema applied, copied from a template migrated once per server; its URL."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
            migrations.apply(conninfo_to_dict(server.dsn(TEMPLATE_DATABASE)))
        name = f"h_{uuid.uuid4().hex[:12]}"
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}")
    return server.dsn(name)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in the hospital's zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


async def add_department(conn: asyncpg.Connection, name: str | None = None) -> int:
    return await conn.fetchval(
        "INSERT INTO departments (name, location, phone_extension, description) VALUES ($1, $2, $3, $4) RETURNING id",
        name or unique("Department"),
        "Building A, floor 2",
        "2040",
        "synthetic test department",
    )


async def add_doctor(
    conn: asyncpg.Connection,
    department_id: int,
    *,
    full_name: str | None = None,
    specialty: str = "Cardiology",
    languages: tuple[str, ...] = ("en",),
    active: bool = True,
) -> int:
    return await conn.fetchval(
        "INSERT INTO doctors (full_name, specialty, department_id, languages, active) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING id",
        full_name or unique("Doctor"),
        specialty,
        department_id,
        list(languages),
        active,
    )


async def add_shift(conn: asyncpg.Connection, doctor_id: int, starts_at: datetime, ends_at: datetime) -> int:
    return await conn.fetchval(
        "INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES ($1, $2, $3) RETURNING id",
        doctor_id,
        starts_at,
        ends_at,
    )


async def add_patient(
    conn: asyncpg.Connection,
    *,
    full_name: str | None = None,
    date_of_birth: date = date(1980, 5, 17),
    phone: str | None = None,
) -> int:
    number = next(_sequence)
    return await conn.fetchval(
        "INSERT INTO patients (mrn, full_name, date_of_birth, phone) VALUES ($1, $2, $3, $4) RETURNING id",
        f"MRN{uuid.uuid4().int % 10**8:08d}{number % 100:02d}",
        full_name or unique("Patient"),
        date_of_birth,
        phone or f"+1555{number % 10**7:07d}",
    )


async def add_appointment(
    conn: asyncpg.Connection, *, patient_id: int, doctor_id: int, starts_at: datetime, minutes: int = 30
) -> int:
    return await conn.fetchval(
        "INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, booked_by) "
        "VALUES ($1, $2, $3, $4, 'staff') RETURNING id",
        patient_id,
        doctor_id,
        starts_at,
        starts_at + timedelta(minutes=minutes),
    )


async def cancel_appointment(conn: asyncpg.Connection, appointment_id: int) -> None:
    await conn.execute(
        "UPDATE appointments SET status = 'cancelled', cancelled_at = now() WHERE id = $1", appointment_id
    )


@dataclass
class Clinic:
    """One department with doctors working 09:00-17:00 (hospital time) on each of `days` days from `first_day`."""

    department_id: int
    doctor_ids: list[int]
    first_day: date
    days: int
    patient_ids: list[int] = field(default_factory=list)


async def add_clinic(
    conn: asyncpg.Connection,
    *,
    first_day: date,
    days: int = 3,
    doctors: int = 2,
    specialty: str | None = None,
    patients: int = 2,
    languages: tuple[str, ...] = ("en",),
) -> Clinic:
    department = await add_department(conn)
    specialty = specialty or unique("Specialty")
    doctor_ids = []
    for _ in range(doctors):
        doctor = await add_doctor(conn, department, specialty=specialty, languages=languages)
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            await add_shift(conn, doctor, local(day, 9), local(day, 17))
        doctor_ids.append(doctor)
    clinic = Clinic(department, doctor_ids, first_day, days)
    clinic.patient_ids = [await add_patient(conn) for _ in range(patients)]
    return clinic


async def populate(conn: asyncpg.Connection, *, first_day: date, seed: int = 7) -> dict[str, list[int]]:
    """A mid-size hospital for benchmarks: 6 departments, 30 doctors with 3 weeks of shifts, 300 patients and
    about 400 booked appointments (the shape of the dev seed, made here so the benchmark stands alone)."""
    rng = random.Random(seed)
    specialties = ["Cardiology", "Dermatology", "Pediatrics", "Orthopedics", "Neurology", "Family Medicine"]
    doctors, patients = [], []
    for specialty in specialties:
        department = await add_department(conn, f"{specialty} {uuid.uuid4().hex[:6]}")
        for _ in range(5):
            doctor = await add_doctor(
                conn, department, specialty=specialty, languages=("en", rng.choice(["es", "fr", "zh"]))
            )
            doctors.append(doctor)
            rows = [
                (doctor, local(first_day + timedelta(days=d), 8), local(first_day + timedelta(days=d), 16))
                for d in range(21)
                if (first_day + timedelta(days=d)).weekday() < 5
            ]
            await conn.executemany("INSERT INTO shifts (doctor_id, starts_at, ends_at) VALUES ($1, $2, $3)", rows)
    for _ in range(300):
        patients.append(await add_patient(conn, date_of_birth=date(rng.randint(1930, 2020), rng.randint(1, 12), 1)))
    booked = 0
    while booked < 400:
        day = first_day + timedelta(days=rng.randrange(21))
        if day.weekday() >= 5:
            continue
        starts = local(day, 8) + timedelta(minutes=30 * rng.randrange(16))
        try:
            await add_appointment(
                conn, patient_id=rng.choice(patients), doctor_id=rng.choice(doctors), starts_at=starts
            )
        except asyncpg.ExclusionViolationError:
            continue
        booked += 1
    return {"doctors": doctors, "patients": patients}


def add_finished_call(
    conn: psycopg.Connection,
    *,
    room: str,
    started: datetime,
    outcome: str,
    turn_ms: tuple[float, ...] = (),
    patient_id: int | None = None,
) -> int:
    """A three-minute call as the agent leaves it: the session, its start event and one event per agent turn."""
    session = conn.execute(
        "INSERT INTO call_sessions (room, started_at, ended_at, outcome, patient_id) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (room, started, started + timedelta(minutes=3), outcome, patient_id),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO call_events (call_session_id, at, kind) VALUES (%s, %s, 'call_started')", (session, started)
    )
    for turn in turn_ms:
        conn.execute(
            "INSERT INTO call_events (call_session_id, at, kind, duration_ms) VALUES (%s, %s, 'agent_turn', %s)",
            (session, started + timedelta(seconds=10), turn),
        )
    return session

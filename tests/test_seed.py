"""The seed: realistic, deterministic, idempotent, never in prod, always inside the schema's rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from agent.db import migrations, seed
from devtools.testing.postgres import PostgresServer
from tests.conftest import LATEST_MIGRATION, SEED_TIMEZONE

NY = ZoneInfo(SEED_TIMEZONE)


@pytest.fixture(scope="module")
def seeded(postgres_server: PostgresServer, hospital_template: str) -> Iterator[psycopg.Connection]:
    """Read-only checks share one copy of the session's seeded template (the template itself stays unused,
    since PostgreSQL copies a template only while nobody is connected to it)."""
    name = f"seed_checks_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(f"CREATE DATABASE {name} TEMPLATE {hospital_template}")
    with psycopg.connect(postgres_server.dsn(name)) as conn:
        yield conn
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _one(conn: psycopg.Connection, query: str, *args: object) -> object:
    row = conn.execute(query, args or None).fetchone()
    assert row is not None
    return row[0]


def test_counts_are_those_of_a_mid_size_hospital(seeded: psycopg.Connection) -> None:
    counts = seed.table_counts(seeded)
    assert counts["departments"] == len(seed.DEPARTMENTS) == 8
    assert 25 <= counts["doctors"] <= 40
    assert 250 <= counts["patients"] <= 400
    assert 200 <= counts["appointments"] <= 600
    assert counts["shifts"] >= 20 * 4 * 4  # at least 20 doctors x 4 shifts a week x 4 weeks


def test_every_department_has_active_doctors_of_its_specialties(seeded: psycopg.Connection) -> None:
    rows = seeded.execute(
        "SELECT d.name, count(*) FILTER (WHERE doc.active), array_agg(DISTINCT doc.specialty) "
        "FROM departments d JOIN doctors doc ON doc.department_id = d.id GROUP BY d.name"
    ).fetchall()
    specialties = {department.name: set(department.specialties) for department in seed.DEPARTMENTS}
    assert {name for name, _, _ in rows} == set(specialties)
    for name, active, found in rows:
        assert active >= 3, name
        assert set(found) == specialties[name], name
    assert _one(seeded, "SELECT count(*) FROM departments WHERE phone_extension IS NULL OR location = ''") == 0


def test_doctors_speak_several_languages(seeded: psycopg.Connection) -> None:
    languages = _one(seeded, "SELECT array_agg(DISTINCT language) FROM doctors, unnest(languages) AS language")
    assert {"en", "es", "fr", "zh", "hi"} <= set(languages)
    assert _one(seeded, "SELECT count(*) FROM doctors WHERE NOT ('en' = ANY(languages))") == 0
    assert _one(seeded, "SELECT count(*) FROM doctors WHERE cardinality(languages) > 1") >= 8


def test_shifts_cover_the_coming_four_weeks_in_local_working_hours(
    seeded: psycopg.Connection, seed_today: date
) -> None:
    first = datetime.combine(seed_today, time(0), NY)
    end = datetime.combine(seed_today + timedelta(weeks=4), time(0), NY)
    assert _one(seeded, "SELECT min(starts_at) >= %s AND max(ends_at) <= %s FROM shifts", first, end) is True
    shifts = seeded.execute("SELECT doctor_id, starts_at, ends_at FROM shifts").fetchall()
    for _, starts_at, ends_at in shifts:
        local_start, local_end = starts_at.astimezone(NY), ends_at.astimezone(NY)
        assert local_start.date() == local_end.date()
        assert local_start.hour >= 7, local_start
        assert local_end.hour <= 21, local_end
    weeks = {(starts_at.astimezone(NY).date() - seed_today).days // 7 for _, starts_at, _ in shifts}
    assert weeks == {0, 1, 2, 3}
    saturdays = [s for _, s, _ in shifts if s.astimezone(NY).weekday() == 5]
    evenings = [e for _, _, e in shifts if e.astimezone(NY).hour >= 19]
    assert saturdays
    assert evenings
    assert not [s for _, s, _ in shifts if s.astimezone(NY).weekday() == 6]
    # The database forbids overlaps; check the data agrees, whatever the constraints say.
    overlaps = _one(
        seeded,
        "SELECT count(*) FROM shifts a JOIN shifts b ON a.doctor_id = b.doctor_id AND a.id < b.id "
        "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
    )
    assert overlaps == 0
    assert _one(seeded, "SELECT count(*) FROM shifts s JOIN doctors d ON d.id = s.doctor_id WHERE NOT d.active") == 0


def test_appointments_lie_inside_shifts_and_never_overlap(seeded: psycopg.Connection, seed_today: date) -> None:
    outside = _one(
        seeded,
        "SELECT count(*) FROM appointments a WHERE NOT EXISTS (SELECT 1 FROM shifts s "
        "WHERE s.doctor_id = a.doctor_id AND s.starts_at <= a.starts_at AND a.ends_at <= s.ends_at)",
    )
    assert outside == 0
    overlapping = _one(
        seeded,
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.doctor_id = b.doctor_id AND a.id < b.id "
        "AND a.status = 'booked' AND b.status = 'booked' AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
    )
    assert overlapping == 0
    assert _one(seeded, "SELECT array_agg(DISTINCT booked_by) FROM appointments") == ["seed"]
    cancelled_share = _one(seeded, "SELECT avg((status = 'cancelled')::int)::float FROM appointments")
    assert 0.03 <= cancelled_share <= 0.25
    durations = _one(seeded, "SELECT array_agg(DISTINCT (ends_at - starts_at)) FROM appointments")
    assert set(durations) == {timedelta(minutes=30), timedelta(minutes=60)}
    assert _one(seeded, "SELECT count(*) FROM appointments WHERE reason = ''") == 0
    # Busier soon than later, as a real calendar is.
    start = datetime.combine(seed_today, time(0), NY)
    first_week = _one(seeded, "SELECT count(*) FROM appointments WHERE starts_at < %s", start + timedelta(weeks=1))
    last_week = _one(seeded, "SELECT count(*) FROM appointments WHERE starts_at >= %s", start + timedelta(weeks=3))
    assert first_week > 2 * last_week


def test_patients_are_plausible(seeded: psycopg.Connection, seed_today: date) -> None:
    assert _one(seeded, "SELECT count(DISTINCT mrn) = count(*) FROM patients") is True
    assert _one(seeded, "SELECT count(*) FROM patients WHERE date_of_birth > %s", seed_today) == 0
    assert _one(seeded, "SELECT count(*) FILTER (WHERE phone IS NOT NULL)::float / count(*) FROM patients") > 0.8
    assert _one(seeded, "SELECT count(*) FILTER (WHERE email IS NOT NULL)::float / count(*) FROM patients") > 0.5
    assert _one(seeded, "SELECT count(*) FROM patients WHERE email !~ '@example\\.(com|org|net)$'") == 0
    children = _one(
        seeded, "SELECT count(*) FROM patients WHERE date_of_birth > %s", seed_today - timedelta(days=18 * 365)
    )
    assert children > 10  # Pediatrics has patients


def test_fixed_patients_and_their_appointments(seeded: psycopg.Connection, seed_today: date) -> None:
    rows = seeded.execute("SELECT full_name, date_of_birth, phone, email, mrn FROM patients WHERE mrn LIKE 'MRN1000__'")
    assert {tuple(row) for row in rows} == {
        (p.full_name, p.date_of_birth, p.phone, p.email, p.mrn) for p in seed.FIXED_PATIENTS
    }
    assert _one(seeded, "SELECT count(*) FROM patients WHERE name_key = 'james smith'") == 2
    assert _one(seeded, "SELECT count(*) FROM patients WHERE name_key = 'maria garcia'") == 1
    maria = seeded.execute(
        "SELECT d.full_name, a.starts_at, a.status FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "JOIN doctors d ON d.id = a.doctor_id WHERE p.mrn = 'MRN100001' ORDER BY a.status"
    ).fetchall()
    wednesday_10 = datetime.combine(seed_today + timedelta(days=2), time(10), NY)
    tuesday_9 = datetime.combine(seed_today + timedelta(days=1), time(9), NY)
    assert maria == [("Aisha Patel", wednesday_10, "booked"), ("Carlos Mendoza", tuesday_9, "cancelled")]
    patel = seeded.execute(
        "SELECT d.specialty, dep.name, d.languages FROM doctors d JOIN departments dep ON dep.id = d.department_id "
        "WHERE d.full_name = 'Aisha Patel'"
    ).fetchall()
    assert patel == [("Cardiology", "Cardiology", ["en", "hi"])]


def test_hospital_info_answers_practical_questions(seeded: psycopg.Connection) -> None:
    topics = {topic for (topic,) in seeded.execute("SELECT topic FROM hospital_info")}
    assert {"opening_hours", "address", "parking", "visiting_hours", "phone", "website", "emergency"} <= topics


def test_the_same_today_gives_the_same_rows() -> None:
    first = seed.build(date(2026, 3, 2), SEED_TIMEZONE)
    again = seed.build(date(2026, 3, 2), SEED_TIMEZONE)
    assert first == again
    other_seed = seed.build(date(2026, 3, 2), SEED_TIMEZONE, seed=seed.SEED + 1)
    assert other_seed.patients != first.patients
    # Another day shifts the dates, not the people.
    later = seed.build(date(2026, 3, 9), SEED_TIMEZONE)
    assert [row[:2] for row in later.patients] == [row[:2] for row in first.patients]
    assert [row[0] for row in later.doctors] == [row[0] for row in first.doctors]


def test_local_hours_hold_across_daylight_saving_time() -> None:
    # 2026-03-08: New York moves from UTC-5 to UTC-4 in the middle of these four weeks.
    data = seed.build(date(2026, 3, 2), SEED_TIMEZONE)
    offsets = {starts_at.utcoffset() for _, starts_at, _ in data.shifts}
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}
    week = dict(seed.FIXED_DOCTORS[0].week)
    patel = [(s, e) for name, s, e in data.shifts if name == "Aisha Patel"]
    assert len(patel) == 20
    assert {(s.hour, e.hour) for s, e in patel} == {week[0]}


def test_seeding_again_changes_nothing(hospital_database: str, seed_today: date) -> None:
    params = conninfo_to_dict(hospital_database)
    with psycopg.connect(hospital_database) as conn:
        before = seed.table_counts(conn)
    report = seed.seed(params, environment="dev", today=seed_today + timedelta(days=3), timezone=SEED_TIMEZONE)
    assert report.already_seeded
    assert report.counts == before


def test_two_databases_seeded_for_the_same_day_are_identical(
    hospital_database: str, migrated_database: str, seed_today: date
) -> None:
    seed.seed(conninfo_to_dict(migrated_database), environment="staging", today=seed_today, timezone=SEED_TIMEZONE)
    query = (
        "SELECT p.mrn, p.full_name, d.full_name, a.starts_at, a.ends_at, a.status FROM appointments a "
        "JOIN patients p ON p.id = a.patient_id JOIN doctors d ON d.id = a.doctor_id ORDER BY 1, 4"
    )
    with psycopg.connect(hospital_database) as one, psycopg.connect(migrated_database) as other:
        assert one.execute(query).fetchall() == other.execute(query).fetchall()


def test_seed_is_refused_in_prod_and_writes_nothing(migrated_database: str) -> None:
    with pytest.raises(seed.SeedRefused, match="never loaded in prod"):
        seed.seed(
            conninfo_to_dict(migrated_database), environment="prod", today=date(2026, 3, 2), timezone=SEED_TIMEZONE
        )
    with psycopg.connect(migrated_database) as conn:
        assert seed.table_counts(conn) == dict.fromkeys(seed.table_counts(conn), 0)


def test_seed_needs_the_migrations_first(empty_database: str) -> None:
    params = conninfo_to_dict(empty_database)
    migrations.apply(params)
    migrations.rollback(params, 1)
    with pytest.raises(seed.SeedRefused, match=LATEST_MIGRATION):
        seed.seed(params, environment="dev", today=date(2026, 3, 2), timezone=SEED_TIMEZONE)

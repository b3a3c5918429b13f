"""Shared fixtures: one real PostgreSQL server per test session, started and removed by the tests, and one moto
server for the AWS calls we make."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from moto.server import ThreadedMotoServer

from devtools.testing.postgres import (
    DEBIAN_PACKAGE_HINT,
    PostgresServer,
    debian_bin_dir,
    pgserver_bin_dir,
    require_os_package,
)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's AWS APIs in server mode on loopback (github.com/getmoto/moto): a stand-in for AWS that proves only our
    side of each call. Tests keep apart by the names they create."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = debian_bin_dir() or pgserver_bin_dir()
    require_os_package(bin_dir is not None, DEBIAN_PACKAGE_HINT)
    # Not under pytest's basetemp: as root, that is /tmp/pytest-of-root (mode 0700, re-tightened by every
    # pytest session), which the unprivileged server user can't traverse.
    root = Path(tempfile.mkdtemp(prefix="pytest-postgres-"))
    server = PostgresServer(root=root, bin_dir=bin_dir).init().start()
    yield server
    server.destroy()


@pytest.fixture
def empty_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the session's server; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    yield postgres_server.dsn(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- The hospital database: migrated and seeded once per session, copied per test ---------------------------

# The migrations in migrations/, in order: written out, so a migration added, lost or renamed fails a test.
MIGRATION_IDS = [
    "0001_directory",
    "0002_patients_and_calls",
    "0003_appointments",
    "0004_free_slots",
    "0005_call_functions",
    "0006_identity_and_schedule_locks",
    "0007_console",
    "0008_console_indexes",
    "0009_console_read_audit",
    "0010_console_appointment_functions",
]
LATEST_MIGRATION = MIGRATION_IDS[-1]
SEED_TIMEZONE = "America/New_York"  # the default HOSPITAL_TIMEZONE; the seed's local times are in this zone


@pytest.fixture(scope="session")
def seed_today() -> date:
    """The `today` the session's seed was made for: the Monday after the real today (hospital time zone).

    Every seeded shift and appointment is therefore in the future (never refused as "in the past"), the
    weekly pattern is always the same (day 0 is a Monday), and the data is identical from run to run except
    for the absolute dates.
    """
    today = datetime.now(ZoneInfo(SEED_TIMEZONE)).date()
    return today + timedelta(days=7 - today.weekday())


@pytest.fixture(scope="session")
def migrated_template(postgres_server: PostgresServer) -> Iterator[str]:
    """Name of a database on the session's server with every migration applied and no data."""
    from psycopg.conninfo import conninfo_to_dict

    from agent.db import migrations

    name = f"migrated_template_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    migrations.apply(conninfo_to_dict(postgres_server.dsn(name)))
    yield name
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def migrated_database(postgres_server: PostgresServer, migrated_template: str) -> Iterator[str]:
    """URL of a fresh database with every migration applied and no data (a copy of `migrated_template`)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name} TEMPLATE {migrated_template}")
    yield postgres_server.dsn(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def hospital_template(postgres_server: PostgresServer, seed_today: date) -> Iterator[str]:
    """Name of a database on the session's server, migrated and seeded once (see `hospital_database`)."""
    from psycopg.conninfo import conninfo_to_dict

    from agent.db import migrations, seed

    name = f"hospital_template_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    params = conninfo_to_dict(postgres_server.dsn(name))
    migrations.apply(params)
    seed.seed(params, environment="dev", today=seed_today, timezone=SEED_TIMEZONE)
    yield name
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def hospital_database(postgres_server: PostgresServer, hospital_template: str) -> Iterator[str]:
    """URL of a fresh copy of the migrated and seeded hospital database (CREATE DATABASE ... TEMPLATE).

    Seed: `agent.db.seed` with `today` = the `seed_today` fixture (a Monday) in America/New_York: 8 departments,
    31 doctors (1 inactive), shifts over 4 weeks from `seed_today`, 305 patients, a few hundred appointments
    (booked_by='seed', some cancelled), 14 hospital_info topics. Fixed records (agent.db.seed.FIXED_*):

    patients (full name, date of birth, phone, MRN):
      - Maria Garcia   1985-04-12  +15555550123  MRN100001  (email maria.garcia@example.com)
          booked: Aisha Patel (Cardiology), Wednesday after seed_today 10:00, "blood pressure follow-up";
          cancelled: Carlos Mendoza (Family Medicine), Tuesday after seed_today 09:00
      - James Smith    1972-11-03  +15555550187  MRN100002  booked: Marc Dubois (Neurology), Thursday 14:00
      - James Smith    1990-06-21  +15555550188  MRN100003  (same name: only birth date or phone tells them apart)
      - Li Wei         1958-02-28  +15555550142  MRN100004
      - Zoë O'Connor   1999-12-31  +447700900123 MRN100005  (apostrophe, diaeresis, UK number)
    doctors (languages; weekly shifts, local time):
      - Aisha Patel     Cardiology       en, hi  Mon-Fri 09-17
      - Carlos Mendoza  Family Medicine  en, es  Mon-Fri 08-16, Sat 09-13
      - Emily Chen      Pediatrics       en, zh  Mon-Thu 12-20
      - Marc Dubois     Neurology        en, fr  Tue-Thu 09-17
    """
    name = f"h_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name} TEMPLATE {hospital_template}")
    yield postgres_server.dsn(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

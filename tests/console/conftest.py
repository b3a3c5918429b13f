"""Fixtures for the console: the seeded hospital database, reached as the console's own role, with calls and a
callback request the agent could have left."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from console import talk
from console.identity import Identity
from devtools.testing.factories import add_finished_call
from devtools.testing.postgres import require_os_package
from tests.conftest import SEED_TIMEZONE

ZONE = ZoneInfo(SEED_TIMEZONE)
FRONTDESK = Identity(username="alice", roles=frozenset({"frontdesk"}))
ADMIN = Identity(username="root-admin", roles=frozenset({"admin", "frontdesk"}))
MARIA_ID = 1  # the seed's first fixed patient (tests/conftest.py: hospital_database)


def console_url(url: str) -> str:
    """The same database, as the migrations' hospital_console role (what the console's login is a member of)."""
    return f"{url}?options=-c%20role%3Dhospital_console"


@pytest.fixture
def calls_day() -> date:
    """Yesterday in the hospital's time zone: the day the fixture's calls were made."""
    return datetime.now(ZONE).date() - timedelta(days=1)


@pytest.fixture
def calls_database(hospital_database: str, calls_day: date) -> str:
    """The seeded hospital plus three calls on calls_day: an emergency, a callback request, a completed call."""
    at = datetime.combine(calls_day, datetime.min.time(), tzinfo=ZONE) + timedelta(hours=9)
    with psycopg.connect(hospital_database, autocommit=True) as conn:
        sessions = []
        for minutes, outcome, turns in (
            (0, "completed", [800.0, 1200.0, 1000.0]),
            (20, "handed_off", [900.0]),
            (40, "emergency", []),
        ):
            sid = add_finished_call(
                conn,
                room=f"room-{minutes}",
                started=at + timedelta(minutes=minutes),
                outcome=outcome,
                turn_ms=tuple(turns),
                patient_id=MARIA_ID if minutes == 20 else None,
            )
            sessions.append(sid)
        conn.execute(
            "INSERT INTO call_events (call_session_id, at, kind) VALUES (%s, %s, 'emergency')",
            (sessions[2], at + timedelta(minutes=41)),
        )
        conn.execute(
            "INSERT INTO callback_requests "
            "(call_session_id, patient_id, caller_name, callback_phone, message, created_at) "
            "VALUES (%s, %s, 'Maria Garcia', '+15555550123', 'Please call about my test results', %s)",
            (sessions[1], MARIA_ID, at + timedelta(minutes=22)),
        )
    return hospital_database


@pytest.fixture
def console_conn(calls_database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(console_url(calls_database)) as conn:
        yield conn


@pytest.fixture(scope="session")
def livekit_client() -> str:
    """The LiveKit browser client the console ships, built with `make console-client` (npm ci) when missing or
    older than console/web/package-lock.json."""
    require_os_package(shutil.which("npm") is not None, "Node.js 20 with npm (README, What the machine needs)")
    root = talk.CLIENT_FILE.parents[2]
    built = subprocess.run(
        ["make", "--no-print-directory", "console-client"], cwd=root, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return str(talk.CLIENT_FILE)

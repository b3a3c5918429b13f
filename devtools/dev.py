"""What `make dev` runs (`python -m devtools.dev`): a ready database, the staff console beside it, then the worker.

Unless DATABASE_URL (environment or .env) names another server, the local PostgreSQL 16 (`devtools.localdb`,
data in `.data/postgres/`) is started, or found running; it keeps running after this command and the worker
end, until `make db-stop`. The database is migrated, seeded (dev only, once) and checked; then the staff console
starts (`python -m console`, on 127.0.0.1, printing its URL) and the worker replaces this process
(`python -m agent dev`) with DATABASE_URL in their environments.
Without the provider keys, it says which are missing and where to get them, and stops there (exit 0: the
database part worked).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
from dotenv import dotenv_values
from pydantic import ValidationError
from yoyo import exceptions as yoyo_exceptions

from agent.db import migrations, seed
from agent.db.connect import ConnectionSetupError, connect, connection_params, describe, one_line
from agent.settings import WHERE_TO_GET, DatabaseSettings, Environment, Settings, SettingsError, describe_errors, load
from console.settings import ConsoleSettings
from devtools import localdb

CONSOLE_START_SECONDS = 60.0
# The console's connections take the least-privilege role the migrations create (migrations/0007_console.sql).
CONSOLE_DEV_ROLE = "hospital_console"

LOCAL_DATABASE_HELP = """The local PostgreSQL keeps running until `make db-stop` (`make db-start` starts it again).
For the database command:  export DATABASE_URL="$(make -s db-url)"; .venv/bin/python -m agent.db status"""


def _configured_database_url() -> str | None:
    """DATABASE_URL from the environment or .env (an empty value counts as unset, as in the settings)."""
    return os.environ.get("DATABASE_URL") or dotenv_values(".env").get("DATABASE_URL") or None


def prepare_database(settings: DatabaseSettings) -> None:
    """Migrate, seed (dev only) and check the database, printing what was done."""
    params = connection_params(settings)
    applied = migrations.apply(params)
    print(f"migrations: applied {', '.join(applied)}" if applied else "migrations: nothing pending")
    if settings.app_env is Environment.DEV:
        report = seed.seed(
            params,
            environment=settings.app_env.value,
            today=datetime.now(ZoneInfo(settings.hospital_timezone)).date(),
            timezone=settings.hospital_timezone,
            slot_minutes=settings.slot_minutes,
        )
        counts = ", ".join(f"{count} {table}" for table, count in report.counts.items())
        print(f"seed: {'already seeded, nothing changed' if report.already_seeded else 'loaded'} ({counts})")
    else:
        print(f"seed: skipped (APP_ENV={settings.app_env.value})")
    with connect(params) as conn:
        conn.execute("SELECT 1")
    print(f"database ready: {describe(params)} at schema {migrations.status(params).version}")


def _missing_keys_help(error: ValidationError) -> tuple[str, bool]:
    """The message for settings that don't load, and whether only variables are missing (no bad values)."""
    missing = [
        "_".join(str(part) for part in problem["loc"]).upper()
        for problem in error.errors()
        if problem["type"] == "missing"
    ]
    lines = ["The database is ready, but the agent can't start yet. Missing variables:"]
    lines += [f"  {name}: {WHERE_TO_GET.get(name, 'see .env.example')}" for name in missing]
    only_missing = len(missing) == error.error_count()
    if not only_missing:
        lines += ["Invalid values:", describe_errors(error, missing=False)]
    lines.append("Put them in .env (start from it with `cp .env.example .env`), then run `make dev` again.")
    return "\n".join(lines), only_missing


def _database_ready() -> str | None:
    """Run the database part; None when it worked, else a one-line reason (safe to print)."""
    try:
        configured = _configured_database_url()
        if configured is None or localdb.is_local(configured):
            url, state = localdb.start()
            os.environ["DATABASE_URL"] = url
            print(f"postgres: embedded PostgreSQL 16 (pgserver) {state}, data in {localdb.DATA_DIR}/")
        prepare_database(load(DatabaseSettings))
    except (SettingsError, ConnectionSetupError, seed.SeedRefused) as error:
        return str(error)
    except psycopg.Error as error:
        return f"database: {one_line(error)}"
    except subprocess.CalledProcessError:
        return f"the embedded PostgreSQL did not start; its log is {localdb.DATA_DIR}/log"
    except yoyo_exceptions.LockTimeout as error:
        return f"migrations are locked by another process: {one_line(error)}"
    return None


class ConsoleNotStarted(Exception):
    """The staff console did not come up; the message says why (safe to print)."""


def start_console() -> subprocess.Popen:
    """`python -m console` beside the worker (it outlives this process's exec), once it answers on loopback.

    It prints its own URL first; its connections take the migrations' least-privilege role.
    """
    os.environ.setdefault("CONSOLE_DATABASE_ROLE", CONSOLE_DEV_ROLE)
    try:
        port = load(ConsoleSettings).console_port
    except SettingsError as error:
        raise ConsoleNotStarted(f"the staff console can't start: {error}") from None
    sys.stdout.flush()
    process = subprocess.Popen([sys.executable, "-m", "console"])
    deadline = time.monotonic() + CONSOLE_START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok" and process.poll() is None:
                    return process
        except OSError:
            time.sleep(0.25)
    if process.poll() is None:
        process.terminate()
    raise ConsoleNotStarted("the staff console did not start (its reason is above)")


def main() -> int:
    problem = _database_ready()
    if problem:
        print(f"make dev: {problem}", file=sys.stderr)
        return 2
    if localdb.is_local(os.environ["DATABASE_URL"]):
        print(LOCAL_DATABASE_HELP)
    try:
        Settings()
    except ValidationError as error:
        message, only_missing = _missing_keys_help(error)
        print(message)
        return 0 if only_missing else 2
    try:
        start_console()
    except ConsoleNotStarted as error:
        print(f"make dev: {error}", file=sys.stderr)
        return 2
    print("starting the agent worker: python -m agent dev", flush=True)
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "agent", "dev"])  # noqa: S606 - replaces this process on purpose
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

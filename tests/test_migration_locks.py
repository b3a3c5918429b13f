"""Migrations run beside a serving agent: a schema change that cannot get its lock gives up quickly, and
index builds on existing tables do not block the agent's writes."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from agent.db import migrations
from tests.conftest import MIGRATION_IDS


def _copy_of_migrations(tmp_path: Path, extra_sql: str) -> Path:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, directory)
    last = MIGRATION_IDS[-1]
    (directory / "9999_probe.sql").write_text(f"-- depends: {last}\n{extra_sql}\n")
    (directory / "9999_probe.rollback.sql").write_text("SELECT 1;\n")
    return directory


def test_the_migration_connection_carries_lock_and_statement_timeouts(empty_database: str) -> None:
    with migrations.open_backend(conninfo_to_dict(empty_database)) as backend:
        lock_timeout = backend.execute("SHOW lock_timeout").fetchone()[0]
        statement_timeout = backend.execute("SHOW statement_timeout").fetchone()[0]
    assert (lock_timeout, statement_timeout) == (migrations.SCHEMA_LOCK_TIMEOUT, migrations.STATEMENT_TIMEOUT)


def test_a_migration_blocked_by_a_busy_table_gives_up_and_leaves_it_pending(
    empty_database: str, tmp_path: Path
) -> None:
    params = conninfo_to_dict(empty_database)
    migrations.apply(params)
    directory = _copy_of_migrations(tmp_path, "ALTER TABLE appointments ADD COLUMN probe text;")
    with psycopg.connect(empty_database) as agent:
        # An agent transaction that is still open holds a lock the ALTER TABLE must wait for.
        agent.execute("SELECT count(*) FROM appointments")
        started = time.monotonic()
        with pytest.raises(errors.LockNotAvailable):
            migrations.apply(params, directory)
        waited = time.monotonic() - started
        agent.rollback()
    assert waited < 30, f"the migration waited {waited:.1f} s for its lock"
    assert migrations.status(params, directory).pending == ["9999_probe"]


def _apply_until(params: dict[str, str], last_id: str) -> None:
    wanted = MIGRATION_IDS[: MIGRATION_IDS.index(last_id) + 1]
    with migrations.open_backend(params) as backend:
        backend.apply_migrations(backend.to_apply(migrations.all_migrations().filter(lambda m: m.id in wanted)))


def _waiting_backends(conn: psycopg.Connection, application_name: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
        [application_name],
    ).fetchone()[0]


def test_free_slot_indexes_do_not_queue_the_agents_writes(empty_database: str) -> None:
    """0004 indexes existing tables. While its index build waits for an open agent transaction, the agent's
    next write must still go through: a plain CREATE INDEX queues it behind its SHARE lock."""
    params = {**conninfo_to_dict(empty_database), "application_name": "migration-under-test"}
    _apply_until(params, "0003_appointments")
    failure: list[BaseException] = []

    def apply_rest() -> None:
        try:
            migrations.apply(params)
        except BaseException as error:  # handed to the test, which asserts there was none
            failure.append(error)

    with psycopg.connect(empty_database) as open_agent, psycopg.connect(empty_database, autocommit=True) as watcher:
        open_agent.execute("LOCK TABLE shifts IN ROW EXCLUSIVE MODE")  # what an insert holds until commit
        build = threading.Thread(target=apply_rest)
        build.start()
        deadline = time.monotonic() + 10
        while _waiting_backends(watcher, "migration-under-test") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_backends(watcher, "migration-under-test") == 1, "the index build never waited"
        with psycopg.connect(empty_database) as next_agent:
            next_agent.execute("SET lock_timeout = '1s'")
            next_agent.execute("LOCK TABLE shifts IN ROW EXCLUSIVE MODE")
            next_agent.rollback()
        open_agent.rollback()
        build.join(timeout=60)
    assert not build.is_alive(), "the migration never finished"
    assert not failure, failure
    assert migrations.status(params).pending == []

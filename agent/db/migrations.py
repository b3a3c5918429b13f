"""Apply, roll back and list the yoyo migrations in `migrations/` (driver: psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from psycopg import sql
from yoyo import read_migrations
from yoyo.backends import DatabaseBackend
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import MigrationList, default_migration_table

from agent.db.connect import connect

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# yoyo's bookkeeping tables: not part of the hospital schema.
YOYO_TABLES = frozenset({default_migration_table, "_yoyo_log", "_yoyo_version", "yoyo_lock"})
LOCK_TIMEOUT_SECONDS = 30
# Migrations run while the previous agent serves calls. A DDL statement waiting for a table lock queues every
# later query on that table behind it, so it gives up after SCHEMA_LOCK_TIMEOUT instead (apply again later);
# STATEMENT_TIMEOUT bounds a statement that holds a lock for long, generous enough for a concurrent index build.
SCHEMA_LOCK_TIMEOUT = "5s"
STATEMENT_TIMEOUT = "10min"


@dataclass(frozen=True)
class AppliedMigration:
    id: str
    applied_at: datetime


@dataclass(frozen=True)
class Status:
    applied: list[AppliedMigration]
    pending: list[str]
    unknown: list[str]  # applied to the database, but no longer in migrations/

    @property
    def version(self) -> str | None:
        """The id of the latest applied migration."""
        return self.applied[-1].id if self.applied else None


def all_migrations(directory: Path = MIGRATIONS_DIR) -> MigrationList:
    return read_migrations(str(directory))


@contextmanager
def open_backend(params: Mapping[str, str]) -> Iterator[DatabaseBackend]:
    """A yoyo backend from libpq keyword parameters (keeps TLS options such as hostaddr and sslrootcert)."""
    args = {key: value for key, value in params.items() if key != "dbname"}
    timeouts = f"-c lock_timeout={SCHEMA_LOCK_TIMEOUT} -c statement_timeout={STATEMENT_TIMEOUT}"
    args["options"] = f"{args['options']} {timeouts}" if args.get("options") else timeouts
    uri = DatabaseURI("postgresql+psycopg", None, None, None, None, params.get("dbname"), args)
    backend = PostgresqlPsycopgBackend(uri, default_migration_table)
    try:
        backend.init_database()
        yield backend
    finally:
        backend.connection.close()


def status(params: Mapping[str, str], directory: Path = MIGRATIONS_DIR) -> Status:
    """Read-only: it reads yoyo's table and creates, locks and writes nothing, so a role that may only read can ask."""
    migrations = all_migrations(directory)
    with connect(params) as conn:
        (recorded,) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (default_migration_table,)).fetchone()
        rows = (
            conn.execute(
                sql.SQL("SELECT migration_id, migration_hash, applied_at_utc FROM {} ORDER BY 3, 1").format(
                    sql.Identifier(default_migration_table)
                )
            ).fetchall()
            if recorded
            else []
        )
    applied_hashes = {row[1] for row in rows}
    known = {migration.id for migration in migrations}
    applied = [AppliedMigration(row[0], row[2]) for row in rows]
    return Status(
        applied=applied,
        pending=[migration.id for migration in migrations if migration.hash not in applied_hashes],
        unknown=[migration.id for migration in applied if migration.id not in known],
    )


def apply(params: Mapping[str, str], directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns their ids (empty when up to date)."""
    migrations = all_migrations(directory)
    with open_backend(params) as backend, backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
        return [migration.id for migration in pending]


def rollback(params: Mapping[str, str], steps: int | None = 1, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Roll back the latest `steps` applied migrations (all of them when steps is None); returns their ids."""
    migrations = all_migrations(directory)
    with open_backend(params) as backend, backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
        applied = backend.to_rollback(migrations)
        chosen = MigrationList(list(applied)[:steps] if steps is not None else list(applied))
        backend.rollback_migrations(chosen)
        return [migration.id for migration in chosen]

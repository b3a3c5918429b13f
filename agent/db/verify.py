"""Does the live schema equal the schema the migrations define?

The expected schema is built, not described: every migration is applied to a scratch database on the same
server (CREATE DATABASE verify_<random>, dropped afterwards), then catalog snapshots of both databases are
compared. Comparing against a real build means the check can't drift from the migrations, and the
definitions are compared in PostgreSQL's own canonical text (pg_get_constraintdef, pg_get_indexdef, ...).
The migration role must be allowed to create databases (on RDS it is the master user).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from agent.db import migrations
from agent.db.connect import connect, for_database


class VerifyImpossible(Exception):
    """The expected schema can't be built on this server with this role."""


# Every object of the application schema, keyed "kind name", with the properties that must match.
Snapshot = dict[str, dict[str, str]]

_YOYO = sorted(migrations.YOYO_TABLES)

_TABLES = """
SELECT c.relname, c.relkind::text, coalesce(pg_get_viewdef(c.oid), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> ALL(%(yoyo)s)
"""
_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0
  AND NOT a.attisdropped AND c.relname <> ALL(%(yoyo)s)
"""
_CONSTRAINTS = """
SELECT c.relname, k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname <> ALL(%(yoyo)s)
"""
_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = current_schema() AND t.relname <> ALL(%(yoyo)s)
"""
_TRIGGERS = """
SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN ' (disabled)' ELSE '' END
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT t.tgisinternal
"""
_FUNCTIONS = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
"""
_EXTENSIONS = "SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql'"
_RELKINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view"}


def snapshot(conn: psycopg.Connection) -> Snapshot:
    """The application schema (the connection's current schema, minus yoyo's tables) as comparable text."""
    args = {"yoyo": _YOYO}
    shot: Snapshot = {}
    for name, relkind, view in conn.execute(_TABLES, args):
        shot[f"{_RELKINDS[relkind]} {name}"] = {"definition": view} if view else {}
    for table, column, type_, not_null, default, identity, generated in conn.execute(_COLUMNS, args):
        shot[f"column {table}.{column}"] = {
            "type": type_,
            "nullability": "NOT NULL" if not_null else "NULL",
            "default": ("GENERATED ALWAYS AS " + default) if generated else default or "none",
            "identity": {"a": "ALWAYS", "d": "BY DEFAULT"}.get(identity, "none"),
        }
    for table, name, definition in conn.execute(_CONSTRAINTS, args):
        shot[f"constraint {table}.{name}"] = {"definition": definition}
    for name, definition in conn.execute(_INDEXES, args):
        shot[f"index {name}"] = {"definition": definition}
    for table, name, definition in conn.execute(_TRIGGERS):
        shot[f"trigger {table}.{name}"] = {"definition": definition}
    for signature, definition in conn.execute(_FUNCTIONS):
        shot[f"function {signature}"] = {"definition": definition}
    for name, version in conn.execute(_EXTENSIONS):
        shot[f"extension {name}"] = {"version": version}
    return shot


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(live: Snapshot, expected: Snapshot) -> list[str]:
    """One readable line per difference, in a stable order."""
    differences = []
    for key in sorted(expected.keys() - live.keys()):
        differences.append(f"{key}: missing")
    for key in sorted(live.keys() - expected.keys()):
        differences.append(f"{key}: not in the migrations")
    for key in sorted(live.keys() & expected.keys()):
        for prop, want in expected[key].items():
            have = live[key].get(prop, "")
            if have != want:
                differences.append(f"{key}: {prop} is {_short(have)!s}, migrations say {_short(want)!s}")
    return differences


@contextmanager
def scratch_database(params: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """A new database on the same server, migrated to the latest schema; dropped afterwards."""
    name = f"verify_{secrets.token_hex(6)}"
    with connect(params, autocommit=True) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege as error:
            raise VerifyImpossible(
                "verify builds the expected schema in a scratch database: the role needs CREATEDB"
            ) from error
    try:
        scratch = for_database(params, name)
        migrations.apply(scratch)
        yield scratch
    finally:
        with connect(params, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def verify(params: Mapping[str, str], directory: Path = migrations.MIGRATIONS_DIR) -> list[str]:
    """Every difference between the live schema and the migrations' schema (empty when identical)."""
    state = migrations.status(params, directory)
    differences = [f"migration {migration_id}: pending (not applied)" for migration_id in state.pending]
    differences += [f"migration {migration_id}: applied but not in migrations/" for migration_id in state.unknown]
    with connect(params) as conn:
        live = snapshot(conn)
    with scratch_database(params) as scratch, connect(scratch) as conn:
        expected = snapshot(conn)
    return differences + compare(live, expected)

"""Create or update the agent's own database role from its Secrets Manager secret: DML on the application
tables, no DDL, no access to the migration bookkeeping.

migrate.sh runs this after the migrations, connected as the master user with the same settings and TLS as
`python -m agent.db` (DATABASE_URL, APP_ENV, DATABASE_CA_FILE, DATABASE_TLS_SERVER_NAME). The agent reaches the
database through RDS Proxy as this role, whose password RDS does not rotate under it (RDS rotates the master
password every 7 days). The password travels as a SCRAM verifier computed here, so no statement log shows it.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from agent.db.migrations import YOYO_TABLES
from infra.scripts.database_url import update_login

_CREATE = "CREATE ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {verifier}"
_ALTER = "ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {verifier}"
_GRANTS = (
    "GRANT CONNECT ON DATABASE {db} TO {role}",
    "GRANT USAGE ON SCHEMA public TO {role}",
    "REVOKE CREATE ON SCHEMA public FROM {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    # Tables the migrations add later (created by the master user) are granted as they appear.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
)


def ensure_role(conn: psycopg.Connection, username: str, password: str) -> None:
    """Idempotent: create the role or reset its password, then (re)grant its privileges."""
    verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256").decode()
    names = {
        "role": sql.Identifier(username),
        "verifier": sql.Literal(verifier),
        "db": sql.Identifier(conn.info.dbname),
    }
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [username]).fetchone()
        conn.execute(sql.SQL(_ALTER if exists else _CREATE).format(**names))
        for statement in _GRANTS:
            conn.execute(sql.SQL(statement).format(**names))
        present = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        for (table,) in present:
            if table in YOYO_TABLES:
                conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(sql.Identifier(table), names["role"]))


def main(argv: list[str] | None = None) -> int:
    return update_login("app role", ensure_role, argv, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())

"""Create or update the console's login role from its Secrets Manager secret: a member of `hospital_console` (the
role migration 0007 creates, without login, holding exactly the console's rights) and nothing else.

migrate.sh runs this after the migrations and app_role.py, connected as the master user. The console reaches the
database through RDS Proxy as this login; it inherits hospital_console's rights, so its connections need no
`SET ROLE` (which would pin them to one proxy connection). The password travels as a SCRAM verifier.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from infra.scripts.database_url import update_login

GROUP_ROLE = "hospital_console"
_ATTRIBUTES = "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {verifier}"
_CREATE = "CREATE ROLE {role} WITH " + _ATTRIBUTES
_ALTER = "ALTER ROLE {role} WITH " + _ATTRIBUTES


class MissingGroupRole(Exception):
    """The migrations that create hospital_console have not run."""


def ensure_console_login(conn: psycopg.Connection, username: str, password: str) -> None:
    """Idempotent: create the login or reset its password; its only membership is hospital_console."""
    verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256").decode()
    names = {"role": sql.Identifier(username), "verifier": sql.Literal(verifier), "group": sql.Identifier(GROUP_ROLE)}
    with conn.transaction():
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [GROUP_ROLE]).fetchone():
            raise MissingGroupRole(f"role {GROUP_ROLE} does not exist: apply the migrations first (0007)")
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [username]).fetchone()
        conn.execute(sql.SQL(_ALTER if exists else _CREATE).format(**names))
        others = conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s AND g.rolname <> %s",
            [username, GROUP_ROLE],
        ).fetchall()
        for (other,) in others:
            conn.execute(sql.SQL("REVOKE {} FROM {role}").format(sql.Identifier(other), **names))
        conn.execute(sql.SQL("GRANT {group} TO {role}").format(**names))


def main(argv: list[str] | None = None) -> int:
    return update_login(
        "console role", ensure_console_login, argv, description=__doc__.splitlines()[0], refusals=(MissingGroupRole,)
    )


if __name__ == "__main__":
    raise SystemExit(main())

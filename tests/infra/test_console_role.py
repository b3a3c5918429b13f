"""The console's login role, set up by infra/scripts/console_role.py against real PostgreSQL: a SCRAM password,
membership of hospital_console (migration 0007) and nothing else, so it has exactly the console's rights."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from infra.scripts.console_role import MissingGroupRole, ensure_console_login
from tests.infra.test_app_role import _scram_matches

PASSWORD = "FakeConsolePassword0123456789abcdefABCD"  # made up for the test  # pragma: allowlist secret


def _memberships(conn: psycopg.Connection, username: str) -> list[str]:
    rows = conn.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s ORDER BY 1",
        [username],
    ).fetchall()
    return [row[0] for row in rows]


def test_login_joins_hospital_console_only_with_a_scram_password(migrated_database: str) -> None:
    with psycopg.connect(migrated_database) as conn:
        ensure_console_login(conn, "hospital_console_t1", PASSWORD)
        conn.execute("GRANT pg_read_all_data TO hospital_console_t1")  # a stray grant the next run takes back
        ensure_console_login(conn, "hospital_console_t1", PASSWORD)  # idempotent: alters, does not fail
        verifier = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'hospital_console_t1'").fetchone()
        assert _scram_matches(verifier[0], PASSWORD)
        assert PASSWORD not in verifier[0]
        assert _memberships(conn, "hospital_console_t1") == ["hospital_console"]
        flags = conn.execute(
            "SELECT rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
            "WHERE rolname = 'hospital_console_t1'"
        ).fetchone()
        assert flags == (True, True, False, False, False, False)
        conn.commit()
        # Inherited rights, with no SET ROLE (which would pin the connection in RDS Proxy): the schedule, yes;
        # patients' records only through the audited function; no DDL.
        conn.execute("SET SESSION AUTHORIZATION hospital_console_t1")
        conn.execute("SELECT count(*) FROM doctors")
        for statement in ("SELECT full_name FROM patients", "CREATE TABLE intruder (id int)"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
            conn.execute("SET SESSION AUTHORIZATION hospital_console_t1")
        conn.execute("RESET SESSION AUTHORIZATION")
        conn.execute("DROP ROLE hospital_console_t1")
        conn.commit()


def test_a_database_without_the_migrations_role_is_refused(migrated_database: str) -> None:
    with psycopg.connect(migrated_database) as conn:
        conn.execute("ALTER ROLE hospital_console RENAME TO hospital_console_elsewhere")
        with pytest.raises(MissingGroupRole, match="apply the migrations first"):
            ensure_console_login(conn, "hospital_console_t2", PASSWORD)
        conn.rollback()  # the rename is undone: the role belongs to the whole server
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'hospital_console_t2'").fetchone() is None

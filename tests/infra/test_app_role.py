"""The agent's database role, created by infra/scripts/app_role.py against real PostgreSQL: DML only."""

from __future__ import annotations

import base64
import hashlib
import hmac

import psycopg
import pytest
from psycopg import errors

from infra.scripts.app_role import ensure_role

PASSWORD = "FakeAppPassword0123456789abcdefABCDEF"  # made up for the test


def _scram_matches(verifier: str, password: str) -> bool:
    """Check a PostgreSQL SCRAM-SHA-256 verifier (RFC 5802 StoredKey) against a password."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return method == "SCRAM-SHA-256" and base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key


def test_role_gets_dml_but_no_ddl_and_a_scram_password(migrated_database: str) -> None:
    with psycopg.connect(migrated_database) as conn:
        ensure_role(conn, "hospital_app_t1", PASSWORD)
        ensure_role(conn, "hospital_app_t1", PASSWORD)  # idempotent: the second run alters, not fails
        verifier = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'hospital_app_t1'").fetchone()[0]
        assert PASSWORD not in verifier
        assert _scram_matches(verifier, PASSWORD)
        assert not _scram_matches(verifier, PASSWORD + "x")
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        app_tables = [t for t in tables if not t.startswith(("_yoyo", "yoyo"))]
        assert app_tables
        conn.execute("SET ROLE hospital_app_t1")
        for table in app_tables:
            conn.execute(f'SELECT count(*) FROM "{table}"')
        # The data layer's functions run with the caller's rights: executable by the role, and its DML suffices.
        # The staff console's audited reads and writes (staff_*, migrations 0007 onwards) are the console role's alone.
        functions = conn.execute(
            "SELECT p.proname, has_function_privilege(current_user, p.oid, 'EXECUTE') FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        ).fetchall()
        not_executable = {name for name, executable in functions if not executable}
        assert "staff_find_patients" in not_executable
        assert not_executable == {name for name, _ in functions if name.startswith("staff_")}
        conn.execute(
            "SELECT * FROM free_slots(now(), now() + interval '1 day', NULL, 'Any', interval '30 minutes', now(), 3)"
        )
        conn.execute("SELECT * FROM find_patient('Nobody Here', NULL, '+15550000000', NULL, 'agent', 'phone')")
        # The identity checks write their attempt records and the read-back's slot check reads the schedule.
        conn.execute("SELECT * FROM verify_patient('Nobody Here', NULL, '+15550000000', NULL, 'agent', 'phone')")
        conn.execute(
            "SELECT * FROM register_new_patient('Nobody Here', '1980-01-01', '+15550000000', 'MRN999999999', NULL, "
            "NULL, 'agent')"
        )
        conn.execute("SELECT * FROM slot_facts(1, now(), interval '30 minutes', NULL)")
        # A real booking: its trigger locks the doctor's row (FOR NO KEY UPDATE), which the role's UPDATE grant allows.
        conn.execute("RESET ROLE")
        conn.execute("INSERT INTO departments (name, location) VALUES ('Role Test', 'Here')")
        conn.execute(
            "INSERT INTO doctors (full_name, specialty, department_id) SELECT 'Role Doctor', 'Any', id FROM departments"
        )
        conn.execute(
            "INSERT INTO shifts (doctor_id, starts_at, ends_at) "
            "SELECT id, date_trunc('hour', now()) + interval '1 day', "
            "date_trunc('hour', now()) + interval '1 day 8 hours' FROM doctors"
        )
        conn.execute("SET ROLE hospital_app_t1")
        booked = conn.execute(
            "SELECT b.id FROM patients p, doctors d, book_appointment(p.id, d.id, date_trunc('hour', now()) + "
            "interval '1 day', interval '30 minutes', '', 'agent', NULL, gen_random_uuid(), 'agent') b"
        ).fetchall()
        assert len(booked) == 1
        conn.execute(
            "SELECT * FROM book_appointment(1, 1, now() + interval '1 day', interval '30 minutes', '', 'agent', NULL, "
            "gen_random_uuid(), 'agent')"
        )
        conn.execute("RESET ROLE")
        conn.commit()
        for statement in ("CREATE TABLE intruder (id int)", 'SELECT * FROM "_yoyo_migration"'):
            conn.execute("SET ROLE hospital_app_t1")
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
        flags = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = 'hospital_app_t1'"
        ).fetchone()
        assert flags == (False, False, False, True)
        conn.execute("DROP OWNED BY hospital_app_t1")
        conn.execute("DROP ROLE hospital_app_t1")
        conn.commit()

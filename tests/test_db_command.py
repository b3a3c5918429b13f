"""`python -m agent.db`: its output, exit codes, and one clear line (never a traceback) when it can't run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import trustme

from agent.db.__main__ import main
from devtools.testing.postgres import (
    DEBIAN_PACKAGE_HINT,
    PostgresServer,
    debian_bin_dir,
    free_port,
    require_os_package,
)
from tests.conftest import LATEST_MIGRATION, MIGRATION_IDS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def command_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Run the command in an empty directory (no developer .env) with only the variables a test sets."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "APP_ENV", "DATABASE_CA_FILE", "DATABASE_TLS_SERVER_NAME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_status_rollback_verify_seed(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], empty_database: str
) -> None:
    command_env.setenv("DATABASE_URL", empty_database)

    code, out, _ = _run(capsys, "status")
    assert code == 0
    assert "pending  0001_directory" in out
    assert f"pending  {LATEST_MIGRATION}" in out

    code, out, _ = _run(capsys, "apply")
    assert (code, out.splitlines()) == (0, [f"applied {migration}" for migration in MIGRATION_IDS])
    code, out, _ = _run(capsys, "apply")
    assert code == 0
    assert out.startswith("nothing to apply")

    code, out, _ = _run(capsys, "rollback", "--steps", "1")
    assert (code, out.strip()) == (0, f"rolled back {LATEST_MIGRATION}")
    code, out, _ = _run(capsys, "status")
    assert f"applied  {MIGRATION_IDS[-2]}" in out
    assert f"pending  {LATEST_MIGRATION}" in out

    code, out, err = _run(capsys, "verify")
    assert code == 1
    assert f"migration {LATEST_MIGRATION}: pending (not applied)" in out.splitlines()
    assert "difference(s)" in err

    _run(capsys, "apply")
    code, out, _ = _run(capsys, "verify")
    assert code == 0
    assert "matches the migrations" in out

    code, out, _ = _run(capsys, "seed")
    assert code == 0
    assert out.startswith("seeded")
    assert "31 doctors" in out
    code, out, _ = _run(capsys, "seed")
    assert code == 0
    assert out.startswith("already seeded, nothing changed")

    code, out, _ = _run(capsys, "rollback", "--all")
    assert code == 0
    assert out.splitlines()[-1] == "rolled back 0001_directory"


def test_verify_prints_a_manual_change(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], migrated_database: str
) -> None:
    command_env.setenv("DATABASE_URL", migrated_database)
    with psycopg.connect(migrated_database, autocommit=True) as conn:
        conn.execute("ALTER TABLE patients ADD COLUMN nickname text")
    code, out, _ = _run(capsys, "verify")
    assert code == 1
    assert out.splitlines() == ["column patients.nickname: not in the migrations"]


def test_rollback_steps_must_be_positive(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], migrated_database: str
) -> None:
    command_env.setenv("DATABASE_URL", migrated_database)
    code, _, err = _run(capsys, "rollback", "--steps", "0")
    assert code == 2
    assert "--steps must be at least 1" in err
    with psycopg.connect(migrated_database) as conn:
        assert conn.execute("SELECT to_regclass('appointments') IS NOT NULL").fetchone() == (True,)


def test_seed_is_refused_in_prod(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], migrated_database: str, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not used: the seed is refused before connecting\n")
    command_env.setenv("DATABASE_URL", migrated_database)
    command_env.setenv("APP_ENV", "prod")
    command_env.setenv("DATABASE_CA_FILE", str(ca_file))
    code, out, err = _run(capsys, "seed")
    assert code == 2
    assert out == ""
    assert err.strip() == "agent.db seed: seed data is never loaded in prod (APP_ENV=prod); nothing was changed"
    with psycopg.connect(migrated_database) as conn:
        assert conn.execute("SELECT count(*) FROM patients").fetchone() == (0,)


def _cli(env: dict[str, str], *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, as an operator runs it."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "APP_ENV"))}
    return subprocess.run(
        [sys.executable, "-m", "agent.db", *argv],
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PASSWORD = "s3cret-Pa55word"
CANNOT_RUN = {
    "missing": (None, "DATABASE_URL: missing"),
    "wrong-scheme": ("mysql://root@127.0.0.1/hospital", "DATABASE_URL: must start with postgresql://"),
    "unreachable-port": (
        "postgresql://postgres:{password}@127.0.0.1:{free_port}/postgres",
        "cannot reach the database",
    ),
    "unknown-role": (
        "postgresql://nobody_here:{password}@127.0.0.1:{port}/postgres",
        'role "nobody_here" does not exist',
    ),
    "unknown-database": (
        "postgresql://postgres:{password}@127.0.0.1:{port}/no_such_db",
        'database "no_such_db" does not exist',
    ),
    "unknown-host": (
        "postgresql://postgres:{password}@no-such-host.invalid:5432/postgres",
        "cannot reach the database",
    ),
    "bad-url": ("postgresql://postgres@127.0.0.1:notaport/postgres", 'invalid integer value "notaport"'),
}


def _assert_one_clear_line(code: int, out: str, err: str, expected: str) -> None:
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("agent.db status: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert PASSWORD not in err


@pytest.mark.parametrize("case", CANNOT_RUN)
def test_cannot_run_gives_one_clear_line(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], postgres_server: PostgresServer, case: str
) -> None:
    url, expected = CANNOT_RUN[case]
    if url is not None:
        command_env.setenv(
            "DATABASE_URL", url.format(password=PASSWORD, port=postgres_server.port, free_port=free_port())
        )
    _assert_one_clear_line(*_run(capsys, "status"), expected)


@pytest.mark.parametrize("case", ["missing", "unknown-role"])
def test_the_real_command_prints_no_traceback(postgres_server: PostgresServer, tmp_path: Path, case: str) -> None:
    url, expected = CANNOT_RUN[case]
    env = {} if url is None else {"DATABASE_URL": url.format(password=PASSWORD, port=postgres_server.port)}
    result = _cli(env, "status", cwd=tmp_path)
    _assert_one_clear_line(result.returncode, result.stdout, result.stderr, expected)


# --- TLS: verify-full outside dev, and the Private Link host-name trick ---------------------------------------

TLS_NAME = "db.internal.test"


@pytest.fixture(scope="module")
def tls_only_server() -> Iterator[tuple[PostgresServer, Path]]:
    """A server that accepts only TLS on TCP, with a certificate for TLS_NAME; yields it and its CA file."""
    bin_dir = debian_bin_dir()
    require_os_package(bin_dir is not None, DEBIAN_PACKAGE_HINT)
    root = Path(tempfile.mkdtemp(prefix="pytest-postgres-tls-"))
    tls = root / "tls"
    tls.mkdir()
    ca = trustme.CA()
    cert = ca.issue_cert(TLS_NAME)
    cert.cert_chain_pems[0].write_to_path(str(tls / "server.crt"))
    cert.private_key_pem.write_to_path(str(tls / "server.key"))
    (tls / "server.key").chmod(0o600)
    ca_file = Path(tempfile.mkdtemp(prefix="pytest-ca-")) / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = PostgresServer(
        root=root,
        bin_dir=bin_dir,
        settings={"ssl": "on", "ssl_cert_file": f"'{tls / 'server.crt'}'", "ssl_key_file": f"'{tls / 'server.key'}'"},
        hba=["local all all trust", "hostssl all all 127.0.0.1/32 trust", "hostnossl all all 0.0.0.0/0 reject"],
    )
    server.init().start()
    yield server, ca_file
    server.destroy()
    shutil.rmtree(ca_file.parent, ignore_errors=True)


def test_outside_dev_connects_with_verify_full_through_a_different_host_name(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tls_only_server: tuple[PostgresServer, Path]
) -> None:
    server, ca_file = tls_only_server
    # The URL even asks for no TLS: outside dev the command ignores that and verifies the certificate.
    command_env.setenv("DATABASE_URL", server.dsn(sslmode="disable"))
    command_env.setenv("APP_ENV", "staging")
    command_env.setenv("DATABASE_CA_FILE", str(ca_file))
    command_env.setenv("DATABASE_TLS_SERVER_NAME", TLS_NAME)
    code, out, err = _run(capsys, "status")
    assert (code, err) == (0, "")
    assert "pending  0001_directory" in out


@pytest.mark.parametrize("case", ["plain-in-dev", "wrong-host-name", "unknown-ca"])
def test_tls_failures_are_refused_in_one_line(
    command_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tls_only_server: tuple[PostgresServer, Path],
    tmp_path: Path,
    case: str,
) -> None:
    server, ca_file = tls_only_server
    if case == "plain-in-dev":
        command_env.setenv("DATABASE_URL", server.dsn(sslmode="disable"))
        expected = "no encryption"
    else:
        command_env.setenv("DATABASE_URL", server.dsn())
        command_env.setenv("APP_ENV", "staging")
        if case == "wrong-host-name":
            command_env.setenv("DATABASE_CA_FILE", str(ca_file))
            expected = f'server certificate for "{TLS_NAME}" does not match host name "127.0.0.1"'
        else:
            other_ca = tmp_path / "other-ca.pem"
            trustme.CA().cert_pem.write_to_path(str(other_ca))
            command_env.setenv("DATABASE_CA_FILE", str(other_ca))
            command_env.setenv("DATABASE_TLS_SERVER_NAME", TLS_NAME)
            expected = "certificate verify failed"
    _assert_one_clear_line(*_run(capsys, "status"), expected)


def test_verify_without_createdb_says_what_it_needs(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], migrated_database: str
) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated_database, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    command_env.setenv("DATABASE_URL", migrated_database.replace("postgres@", f"{role}@", 1))
    code, out, err = _run(capsys, "verify")
    assert code == 2
    assert out == ""
    assert err.strip() == (
        "agent.db verify: verify builds the expected schema in a scratch database: the role needs CREATEDB"
    )


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_rollback_all_outside_dev_needs_its_confirmation(
    command_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    migrated_database: str,
    tmp_path: Path,
    environment: str,
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not used: the rollback is refused before connecting\n")
    command_env.setenv("DATABASE_URL", migrated_database)
    command_env.setenv("APP_ENV", environment)
    command_env.setenv("DATABASE_CA_FILE", str(ca_file))
    code, out, err = _run(capsys, "rollback", "--all")
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"agent.db rollback: --all drops every table and all its data in APP_ENV={environment}; nothing was "
        "changed. To do it anyway, add --yes-drop-everything"
    )
    with psycopg.connect(migrated_database) as conn:
        assert conn.execute("SELECT to_regclass('appointments') IS NOT NULL").fetchone() == (True,)
    # Confirmed, it goes on to connect (here refused: the CA file is no certificate).
    code, _, err = _run(capsys, "rollback", "--all", "--yes-drop-everything")
    assert code == 2
    assert "--yes-drop-everything" not in err


def test_status_needs_only_read_access(
    command_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], migrated_database: str
) -> None:
    role = f"auditor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated_database, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
        conn.execute(f"GRANT SELECT ON _yoyo_migration TO {role}")
    command_env.setenv("DATABASE_URL", migrated_database.replace("postgres@", f"{role}@", 1))
    code, out, err = _run(capsys, "status")
    assert (code, err) == (0, "")
    assert f"applied  {LATEST_MIGRATION}" in out
    assert "pending" not in out

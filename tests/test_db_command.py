"""`python -m agent.db`: its output, exit codes, and one clear line (never a traceback) when it can't run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from agent.db.__main__ import main
from tests.support.postgres import PostgresServer, free_port

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
    assert "pending  0003_appointments" in out

    code, out, _ = _run(capsys, "apply")
    assert (code, out.splitlines()) == (
        0,
        ["applied 0001_directory", "applied 0002_patients_and_calls", "applied 0003_appointments"],
    )
    code, out, _ = _run(capsys, "apply")
    assert code == 0
    assert out.startswith("nothing to apply")

    code, out, _ = _run(capsys, "rollback", "--steps", "1")
    assert (code, out.strip()) == (0, "rolled back 0003_appointments")
    code, out, _ = _run(capsys, "status")
    assert "applied  0002_patients_and_calls" in out
    assert "pending  0003_appointments" in out

    code, out, err = _run(capsys, "verify")
    assert code == 1
    assert "migration 0003_appointments: pending (not applied)" in out.splitlines()
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

"""`make dev` (`python -m devtools.dev`): a ready database, then the worker, or the list of missing keys; and the
local database's own commands (`python -m devtools.localdb start|stop|url`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devtools import dev as local
from devtools import localdb
from devtools.testing.postgres import pgserver_bin_dir, require_os_package
from tests.conftest import LATEST_MIGRATION, MIGRATION_IDS

REPO = Path(__file__).resolve().parents[1]
PROVIDER_KEYS = (
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "DEEPGRAM_API_KEY",
    "OPENAI_API_KEY",
    "CARTESIA_API_KEY",
)
OWN_VARIABLES = ("DATABASE_", "APP_ENV", "LIVEKIT_", "DEEPGRAM_", "OPENAI_", "CARTESIA_", "HOSPITAL_", "SLOT_")


def _make_dev(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m devtools.dev` in `cwd` (no developer .env there), with only the variables given."""
    return _run(cwd, "devtools.dev", **env)


def _run(cwd: Path, module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(OWN_VARIABLES)}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM doctors), (SELECT count(*) FROM appointments)").fetchone()
    assert row is not None
    return row


def test_without_keys_prepares_the_database_and_lists_what_is_missing(empty_database: str, tmp_path: Path) -> None:
    first = _make_dev(tmp_path, DATABASE_URL=empty_database)
    assert first.returncode == 0, first.stderr
    assert f"migrations: applied {', '.join(MIGRATION_IDS)}" in first.stdout
    assert "seed: loaded" in first.stdout
    assert "database ready:" in first.stdout
    assert f"at schema {LATEST_MIGRATION}" in first.stdout
    missing = first.stdout[first.stdout.index("Missing variables") :]
    for name in PROVIDER_KEYS:
        assert f"  {name}: " in missing
    assert "platform.openai.com" in missing
    assert "console.deepgram.com" in missing
    assert "play.cartesia.ai" in missing
    assert "cp .env.example .env" in missing
    doctors, appointments = _counts(empty_database)
    assert doctors == 31
    assert appointments > 0

    second = _make_dev(tmp_path, DATABASE_URL=empty_database)
    assert second.returncode == 0, second.stderr
    assert "migrations: nothing pending" in second.stdout
    assert "seed: already seeded, nothing changed" in second.stdout
    assert _counts(empty_database) == (doctors, appointments)


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = _make_dev(tmp_path, DATABASE_URL="postgresql://postgres:pw-not-shown@127.0.0.1:1/hospital")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("make dev: database:")
    assert "pw-not-shown" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.fixture
def dev_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migrated_database: str) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(OWN_VARIABLES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", migrated_database)
    for name in PROVIDER_KEYS:
        monkeypatch.setenv(name, "made-up-test-value")
    monkeypatch.setenv("LIVEKIT_URL", "ws://127.0.0.1:7880")
    return monkeypatch


def test_with_every_key_it_becomes_the_worker(dev_env: pytest.MonkeyPatch, migrated_database: str) -> None:
    calls = []
    dev_env.setattr(local, "start_console", lambda: calls.append("console"))
    dev_env.setattr(local.os, "execv", lambda path, argv: calls.append((path, argv, os.environ["DATABASE_URL"])))
    assert local.main() == 0
    assert calls == ["console", (sys.executable, [sys.executable, "-m", "agent", "dev"], migrated_database)]


def test_an_invalid_key_stops_with_an_error(dev_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    dev_env.setenv("LIVEKIT_URL", "http://not-a-websocket")
    dev_env.delenv("OPENAI_API_KEY")
    dev_env.setattr(local.os, "execv", lambda *_: pytest.fail("must not start the worker"))
    assert local.main() == 2
    out = capsys.readouterr().out
    assert "  OPENAI_API_KEY: platform.openai.com" in out
    invalid = out[out.index("Invalid values:") :]
    assert "LIVEKIT_URL" in invalid
    assert "OPENAI_API_KEY" not in invalid  # listed once, as missing


@pytest.fixture
def project_dir() -> Iterator[Path]:
    """A checkout-like directory for the embedded server (outside pytest's 0700 root-only tree)."""
    path = Path(tempfile.mkdtemp(prefix="pytest-make-dev-"))
    yield path
    data_dir = path / localdb.DATA_DIR
    if (data_dir / "postmaster.pid").exists():  # a failed test may leave the server running
        subprocess.run(
            [
                "runuser",
                "-u",
                "pgserver",
                "--",
                str(pgserver_bin_dir() / "pg_ctl"),
                "-D",
                str(data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )
    shutil.rmtree(path, ignore_errors=True)


def _handles(project_dir: Path) -> list[int]:
    """pgserver's list of processes using the server (it stops the server when the last one exits)."""
    path = project_dir / ".data" / "postgres" / ".handle_pids.json"
    return json.loads(path.read_text()) if path.exists() else []


def test_embedded_postgres_keeps_running_until_stopped(project_dir: Path) -> None:
    require_os_package(pgserver_bin_dir() is not None, "Python package 'pgserver' (requirements-dev.txt)")
    pid_file = project_dir / ".data" / "postgres" / "postmaster.pid"
    first = _make_dev(project_dir)
    assert first.returncode == 0, first.stderr
    assert "postgres: embedded PostgreSQL 16 (pgserver) created and started, data in .data/postgres/" in first.stdout
    assert "seed: loaded" in first.stdout
    assert "make db-stop" in first.stdout
    assert (project_dir / ".data" / "postgres" / "PG_VERSION").read_text().strip() == "16"
    assert pid_file.exists(), "the server outlives make dev, so the URL it gives works"
    assert _handles(project_dir) == []

    # The printed recipe: the URL from `db-url` (`python -m devtools.localdb url`), then the database command.
    url = _run(project_dir, "devtools.localdb", "url")
    assert url.returncode == 0, url.stderr
    address = url.stdout.strip()
    assert "?host=" in address  # a Unix socket in the data directory, no TCP port
    status = _run(project_dir, "agent.db", "status", DATABASE_URL=address)
    assert status.returncode == 0, status.stderr
    assert f"applied  {LATEST_MIGRATION}" in status.stdout

    # Stopped, then the same URL in .env: make dev starts the local server again rather than fail on it.
    assert _run(project_dir, "devtools.localdb", "stop").stdout.strip() == "local PostgreSQL stopped"
    assert not pid_file.exists()
    assert _run(project_dir, "devtools.localdb", "url").returncode == 1
    (project_dir / ".env").write_text(f"DATABASE_URL={address}\n")
    second = _make_dev(project_dir)
    assert second.returncode == 0, second.stderr
    assert "postgres: embedded PostgreSQL 16 (pgserver) started" in second.stdout
    assert "migrations: nothing pending" in second.stdout
    assert "seed: already seeded, nothing changed" in second.stdout
    assert _run(project_dir, "devtools.localdb", "url").stdout.strip() == address

    stopped = _run(project_dir, "devtools.localdb", "stop")
    assert stopped.returncode == 0
    assert not pid_file.exists()
    assert "was not running" in _run(project_dir, "devtools.localdb", "stop").stdout


def test_a_process_that_execs_the_worker_holds_no_handle_on_the_server(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """make dev replaces itself with the worker (exec: no exit handlers run), so it must let go before."""
    require_os_package(pgserver_bin_dir() is not None, "Python package 'pgserver' (requirements-dev.txt)")
    monkeypatch.chdir(project_dir)
    try:
        url, state = localdb.start()
        assert state == "created and started"
        assert os.getpid() not in _handles(project_dir)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("hospital",)
    finally:
        assert localdb.stop()


def test_another_database_url_is_not_the_local_one() -> None:
    assert not localdb.is_local("postgresql://app@db.internal:5432/hospital")
    assert not localdb.is_local("postgresql://postgres:@/hospital?host=/tmp/elsewhere")
    assert localdb.is_local(f"postgresql://postgres:@/hospital?host={localdb.DATA_DIR.resolve()}")


def test_the_first_install_shows_its_progress() -> None:
    """The first `make dev` spends minutes in pip: the long install prints each package, not nothing."""
    makefile = (REPO / "Makefile").read_text()
    (install,) = [line for line in makefile.splitlines() if "-r requirements-dev.txt" in line]
    assert "--quiet" not in install
    assert " -q" not in install
    assert "--progress-bar on" in install

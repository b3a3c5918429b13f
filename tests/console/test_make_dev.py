"""`make dev` (devtools/dev.py) starts the console beside the worker, on loopback, as the least-privilege role."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import psycopg
import pytest

from devtools import dev as local
from devtools.testing.postgres import free_port


@pytest.fixture
def console_process(
    capfd: pytest.CaptureFixture[str], hospital_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, object]]:
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", hospital_database)
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("CONSOLE_PORT", str(port))
    monkeypatch.delenv("CONSOLE_DATABASE_ROLE", raising=False)
    monkeypatch.delenv("CONSOLE_AUTH", raising=False)
    process = local.start_console()
    yield port, process
    process.terminate()
    process.wait(timeout=10)


def test_make_dev_starts_the_console_and_it_prints_its_url(
    console_process: tuple[int, object], hospital_database: str, capfd: pytest.CaptureFixture[str]
) -> None:
    port, _ = console_process
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
        assert response.read() == b"ok"
    assert f"console: http://127.0.0.1:{port}" in capfd.readouterr().out


def test_a_console_that_cannot_start_stops_make_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/db")
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("CONSOLE_AUTH", "sso")
    with pytest.raises(local.ConsoleNotStarted, match="CONSOLE_AUTH"):
        local.start_console()


def test_the_dev_role_exists_after_the_migrations(hospital_database: str) -> None:
    with psycopg.connect(hospital_database) as conn:
        assert conn.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (local.CONSOLE_DEV_ROLE,)
        ).fetchone() == (False,)

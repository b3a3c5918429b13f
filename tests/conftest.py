"""Shared fixtures: one real PostgreSQL server per test session, started and removed by the tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.postgres import (
    DEBIAN_PACKAGE_HINT,
    PostgresServer,
    debian_bin_dir,
    pgserver_bin_dir,
    require_os_package,
)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    bin_dir = debian_bin_dir() or pgserver_bin_dir()
    require_os_package(bin_dir is not None, DEBIAN_PACKAGE_HINT)
    server = PostgresServer(root=tmp_path_factory.mktemp("postgres"), bin_dir=bin_dir).init().start()
    yield server
    server.destroy()


@pytest.fixture
def empty_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the session's server; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name}")
    yield postgres_server.dsn(name)
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

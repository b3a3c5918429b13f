"""Fixtures for the operations tests: a clean environment, so no developer .env or shell variable leaks in."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import logs
from agent.settings import DatabaseSettings, Settings
from devtools.testing.postgres import PostgresServer

# Made-up credentials, shaped like the real ones so the redaction tests mean something.
FAKE_SECRETS = {
    "LIVEKIT_API_KEY": "APIfakeKey123456",
    "LIVEKIT_API_SECRET": "fakeLiveKitSecretValue0123456789abcdefXYZ",
    "DEEPGRAM_API_KEY": "0123456789abcdef0123456789abcdef01234567",
    "OPENAI_API_KEY": "sk-proj-fakeOpenAIkey0123456789",
    "CARTESIA_API_KEY": "sk_car_fakeCartesiaKey0123456789",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No setting comes from the shell or a .env file: the test sets what it needs."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Tests that configure logging leave the process's logging as they found it."""
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    secrets = list(logs.redact.secrets)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    logs.redact.secrets = secrets


@pytest.fixture(scope="session")
def databases(postgres_server: PostgresServer) -> Iterator[dict[str, str]]:
    """URLs of two databases: "migrated" (at the expected schema version) and "empty" (every migration pending)."""
    from agent.db.connect import connection_params
    from agent.db.migrations import apply

    urls = {}
    for kind in ("migrated", "empty"):
        name = f"t_ops_{kind}_{uuid.uuid4().hex[:8]}"
        postgres_server.execute(f"CREATE DATABASE {name}")
        urls[kind] = postgres_server.dsn(name)
    apply(connection_params(DatabaseSettings(database_url=urls["migrated"], _env_file=None)))
    yield urls
    for url in urls.values():
        postgres_server.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

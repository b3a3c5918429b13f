"""Start-up checks against loopback stand-ins and a real PostgreSQL: ok, wrong key, timeout, refused."""

from __future__ import annotations

import re

import pytest

from agent import check
from agent.db.migrations import all_migrations
from tests.ops.conftest import FAKE_SECRETS
from tests.ops.standins import SilentListener, StandIns, free_port

SERVICES = ["database", "livekit", "deepgram", "openai", "cartesia"]


def _configure(env: pytest.MonkeyPatch, standins: StandIns, database_url: str, **overrides: str) -> None:
    for name, value in {**standins.environment(database_url), **overrides}.items():
        env.setenv(name, value)


def _lines(out: str) -> dict[str, str]:
    return {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines() if line.strip()}


def test_everything_reachable_and_accepted(clean_env, databases, capsys):
    with StandIns() as standins:
        _configure(clean_env, standins, databases["migrated"])
        assert check.main([]) == 0
    lines = _lines(capsys.readouterr().out)
    assert sorted(lines) == sorted(SERVICES)
    for service in SERVICES:
        assert re.fullmatch(r"ok \(\d+ ms\)", lines[service]), lines[service]


def test_wrong_keys_and_old_schema_fail_each_line(clean_env, databases, capsys):
    wrong = {name: value + "-wrong" for name, value in FAKE_SECRETS.items() if name != "LIVEKIT_API_KEY"}
    with StandIns() as standins:
        _configure(clean_env, standins, databases["empty"], **wrong)
        assert check.main([]) == 1
    out = capsys.readouterr().out
    lines = _lines(out)
    pending = len(list(all_migrations()))
    assert lines["database"] == f"failed: schema is not at the expected version: {pending} pending " + (
        "(" + ", ".join(migration.id for migration in all_migrations()) + ")"
    )
    assert lines["livekit"] == "failed: LiveKit refused the request (401 unauthenticated)"
    for provider in ("deepgram", "openai", "cartesia"):
        assert lines[provider] == "failed: key rejected (HTTP 401)"
    for value in (*FAKE_SECRETS.values(), *wrong.values()):
        assert value not in out


def test_a_service_that_hangs_times_out_and_the_others_still_report(clean_env, databases, capsys, monkeypatch):
    monkeypatch.setattr(check, "CHECK_TIMEOUT_SECONDS", 0.5)
    with StandIns(mode="slow", delay_seconds=1.0) as standins, SilentListener() as silent:
        _configure(clean_env, standins, f"postgresql://postgres@127.0.0.1:{silent.port}/hospital")
        assert check.main([]) == 1
    lines = _lines(capsys.readouterr().out)
    assert sorted(lines) == sorted(SERVICES)
    for service in SERVICES:
        assert lines[service] == "failed: no answer within 0.5 s", (service, lines[service])


def test_refused_connections(clean_env, capsys):
    closed = free_port()
    _configure(
        clean_env,
        StandIns(
            urls={name: f"http://127.0.0.1:{closed}" for name in ("deepgram", "openai", "cartesia")}
            | {"livekit": f"ws://127.0.0.1:{closed}"}
        ),
        f"postgresql://postgres@127.0.0.1:{closed}/hospital",
    )
    assert check.main([]) == 1
    lines = _lines(capsys.readouterr().out)
    for service in SERVICES:
        assert lines[service].startswith("failed: cannot connect"), (service, lines[service])


def test_env_option_validates_for_another_environment(clean_env, databases, capsys):
    with StandIns() as standins:
        _configure(clean_env, standins, databases["migrated"])
        assert check.main(["--env", "prod"]) == 2
    err = capsys.readouterr().err
    assert "DATABASE_CA_FILE: required when APP_ENV=prod" in err
    assert "LIVEKIT_URL: must use wss:// when APP_ENV=prod" in err


def test_preflight_logs_one_line_per_service(clean_env, databases, caplog):
    with StandIns() as standins:
        _configure(clean_env, standins, databases["migrated"], OPENAI_API_KEY="sk-fake-wrong-0123456789abcdef")
        settings = check.load(check.Settings)
        with caplog.at_level("INFO", logger="agent.check"):
            assert check.preflight(settings) is False
    events = {record.service: record for record in caplog.records if getattr(record, "event", "") == "startup_check"}
    assert sorted(events) == sorted(SERVICES)
    assert events["openai"].levelname == "ERROR"
    assert all(events[name].levelname == "INFO" for name in SERVICES if name != "openai")


def test_a_fallback_model_the_key_cannot_use_fails_the_openai_line(clean_env, databases, capsys):
    """A misspelt fallback would otherwise show only during another provider's outage."""
    with StandIns() as standins:
        _configure(clean_env, standins, databases["migrated"], LLM_FALLBACK_MODEL="gpt-4.1-mimi")
        clean_env.setenv("TTS_FALLBACK_MODEL", "tts-9")
        assert check.main([]) == 1
    lines = _lines(capsys.readouterr().out)
    assert (
        lines["openai"]
        == "failed: model(s) this key cannot use: LLM_FALLBACK_MODEL=gpt-4.1-mimi, TTS_FALLBACK_MODEL=tts-9"
    )
    assert all(lines[name].startswith("ok") for name in SERVICES if name != "openai")

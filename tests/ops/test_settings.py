"""Settings: one list, every problem reported at once by name, never a value."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.settings import Settings, SettingsError, TokenSettings, load
from tests.ops.conftest import FAKE_SECRETS

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = sorted(name.upper() for name, field in Settings.model_fields.items() if field.is_required())


def _env_example() -> list[tuple[str, str, str]]:
    """(name, value, the comment line right above it) for every assignment in .env.example."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    entries = []
    for index, line in enumerate(lines):
        match = re.fullmatch(r"([A-Z0-9_]+)=(.*)", line)
        if match:
            comment = lines[index - 1] if index else ""
            entries.append((match[1], match[2], comment))
    return entries


def test_env_example_lists_every_setting_once_with_a_comment():
    entries = _env_example()
    names = [name for name, _, _ in entries]
    assert len(names) == len(set(names)), "a variable appears twice in .env.example"
    assert set(names) == {name.upper() for name in Settings.model_fields}
    for name, _, comment in entries:
        assert comment.startswith("# "), f"{name} has no comment line above it"
        assert len(comment) > 4, f"{name} has an empty comment"


def test_env_example_defaults_match_the_settings():
    for name, value, _ in _env_example():
        field = Settings.model_fields[name.lower()]
        if field.is_required() or field.default is None:
            assert value == "", f"{name} must be blank in .env.example"
        else:
            expected = field.default.value if hasattr(field.default, "value") else field.default
            assert value == str(expected), f"{name}: .env.example says {value!r}, settings default {expected!r}"


def test_env_example_holds_no_secret():
    fields = Settings.model_fields.items()
    secret_fields = {name.upper() for name, field in fields if "SecretStr" in str(field.annotation)}
    assert {"DATABASE_URL", "LIVEKIT_API_SECRET", "METRICS_AWS_SECRET_ACCESS_KEY"} <= secret_fields
    for name, value, _ in _env_example():
        if name in secret_fields:
            assert value == "", f"{name} must be blank"


def test_every_problem_is_reported_at_once_by_name(clean_env):
    clean_env.setenv("APP_ENV", "prod")
    clean_env.setenv("LIVEKIT_URL", "ws://insecure.example")
    clean_env.setenv("ENDPOINTING_MIN_DELAY", "2")
    clean_env.setenv("ENDPOINTING_MAX_DELAY", "1")
    clean_env.setenv("METRICS_AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    clean_env.setenv("HOSPITAL_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(SettingsError) as caught:
        load(Settings)
    message = str(caught.value)
    for name in [
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "DATABASE_URL",
        "DEEPGRAM_API_KEY",
        "OPENAI_API_KEY",
        "CARTESIA_API_KEY",
    ]:
        assert f"{name}: missing" in message
    # Cross-field checks come in the same message as the missing variables.
    assert "DATABASE_CA_FILE: required when APP_ENV=prod" in message
    assert "LIVEKIT_URL: must use wss:// when APP_ENV=prod" in message
    assert "ENDPOINTING_MAX_DELAY: must not be below ENDPOINTING_MIN_DELAY" in message
    assert "METRICS_AWS_SECRET_ACCESS_KEY:" in message
    assert "HOSPITAL_TIMEZONE:" in message
    assert "(11 problem(s))" in message
    for value in ("insecure.example", "AKIAFAKEFAKEFAKEFAKE", "Olympus"):
        assert value not in message


def test_invalid_secret_is_named_not_echoed(clean_env):
    clean_env.setenv("DATABASE_URL", "mysql://admin:hunter2-password@db.example/hospital")
    with pytest.raises(SettingsError) as caught:
        load(Settings)
    assert "DATABASE_URL: must start with postgresql:// (or postgres://)" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_dev_accepts_a_complete_configuration(clean_env):
    for name, value in {
        **FAKE_SECRETS,
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "DATABASE_URL": "postgresql://app:pw-0123@127.0.0.1/hospital",
    }.items():
        clean_env.setenv(name, value)
    settings = load(Settings)
    assert settings.token_lifetime.total_seconds() == 3600
    # The redaction list holds every secret, the database password included.
    assert set(settings.secret_values()) >= {*FAKE_SECRETS.values(), "pw-0123"}


def test_empty_variable_counts_as_missing(clean_env):
    clean_env.setenv("LIVEKIT_API_KEY", "")
    clean_env.setenv("LIVEKIT_API_SECRET", "s")
    with pytest.raises(SettingsError, match="LIVEKIT_API_KEY: missing"):
        load(TokenSettings)


def test_check_with_nothing_configured_lists_everything_missing_without_a_traceback(tmp_path):
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "agent", "check"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    for name in REQUIRED:
        assert f"{name}: missing" in result.stderr
    assert "OPENAI_API_KEY: missing (platform.openai.com -> API keys)" in result.stderr  # where to get it, as make dev
    assert "DATABASE_URL: missing (`make dev` starts a local one" in result.stderr

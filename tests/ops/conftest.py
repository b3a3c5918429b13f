"""Fixtures for the operations tests: a clean environment, so no developer .env or shell variable leaks in."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.settings import Settings

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

"""Join tokens: one room, the agent dispatched by name, minimal grants, 1 h by default."""

from __future__ import annotations

import time

import jwt
import pytest

from agent import token
from tests.ops.conftest import FAKE_SECRETS

KEY, SECRET = FAKE_SECRETS["LIVEKIT_API_KEY"], FAKE_SECRETS["LIVEKIT_API_SECRET"]


@pytest.fixture
def livekit_only(clean_env):
    """Only LiveKit credentials: a token needs no provider keys and no database."""
    clean_env.setenv("LIVEKIT_API_KEY", KEY)
    clean_env.setenv("LIVEKIT_API_SECRET", SECRET)
    clean_env.setenv("AGENT_NAME", "front-desk")
    return clean_env


def _issue(capsys, *argv: str) -> dict:
    before = int(time.time())
    assert token.main(["--room", "clinic-42", "--identity", "caller-7", *argv]) == 0
    printed = capsys.readouterr().out.strip()
    claims = jwt.decode(printed, SECRET, algorithms=["HS256"], options={"require": ["exp", "nbf", "iss", "sub"]})
    claims["_issued_at"] = before
    return claims


def test_default_token_has_exactly_the_claims_a_caller_needs(livekit_only, capsys):
    claims = _issue(capsys)
    issued_at = claims.pop("_issued_at")
    assert claims["iss"] == KEY
    assert claims["sub"] == "caller-7"
    assert abs(claims["nbf"] - issued_at) <= 2
    assert claims["exp"] - claims["nbf"] == 3600
    assert claims["video"] == {
        "roomJoin": True,
        "room": "clinic-42",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canPublishSources": ["microphone"],
    }
    assert claims["roomConfig"] == {"agents": [{"agentName": "front-desk"}]}
    assert set(claims) == {"iss", "sub", "nbf", "exp", "video", "roomConfig"}


def test_ttl_option_and_setting(livekit_only, capsys):
    claims = _issue(capsys, "--ttl", "15m")
    assert claims["exp"] - claims["nbf"] == 900
    livekit_only.setenv("TOKEN_TTL", "2h")
    claims = _issue(capsys)
    assert claims["exp"] - claims["nbf"] == 7200


def test_token_is_refused_once_expired(livekit_only, capsys):
    assert token.main(["--room", "r", "--identity", "i", "--ttl", "90s"]) == 0
    printed = capsys.readouterr().out.strip()
    assert jwt.decode(printed, SECRET, algorithms=["HS256"])["sub"] == "i"
    # A negative leeway judges expiry as if 91 s had passed: just past the 90 s lifetime.
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(printed, SECRET, algorithms=["HS256"], leeway=-91, options={"verify_nbf": False})


@pytest.mark.parametrize(
    ("ttl", "reason"),
    [
        ("0", "not a positive duration like 90s, 15m or 1h"),
        ("-5m", "not a positive duration like 90s, 15m or 1h"),
        ("3 weeks", "not a positive duration like 90s, 15m or 1h"),
        ("", "not a positive duration like 90s, 15m or 1h"),
        ("0s", "a token lifetime must be longer than zero"),
        ("25h", "a token lifetime must be at most 24h"),
        ("86401s", "a token lifetime must be at most 24h"),
        # Past timedelta's range (999999999 days), and past int()'s digit limit.
        ("99999999999999h", "a token lifetime must be at most 24h"),
        ("9" * 5000 + "s", "a token lifetime must be at most 24h"),
    ],
    ids=lambda value: value[:20],
)
def test_bad_ttl_is_refused_with_a_clear_message(livekit_only, capsys, ttl, reason):
    with pytest.raises(SystemExit) as exited:
        token.main(["--room", "r", "--identity", "i", "--ttl", ttl])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"argument --ttl: {reason}" in captured.err


def test_bad_ttl_setting_is_refused(livekit_only, capsys):
    livekit_only.setenv("TOKEN_TTL", "3 weeks")
    assert token.main(["--room", "r", "--identity", "i"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "TOKEN_TTL: not a positive duration" in captured.err


@pytest.mark.parametrize("ttl", ["99999999999999h", "25h"])
def test_too_long_ttl_setting_is_refused_in_one_line(livekit_only, capsys, ttl):
    livekit_only.setenv("TOKEN_TTL", ttl)
    assert token.main(["--room", "r", "--identity", "i"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "TOKEN_TTL: a token lifetime must be at most 24h" in captured.err
    assert "Traceback" not in captured.err


def test_the_longest_allowed_ttl_is_issued(livekit_only, capsys):
    claims = _issue(capsys, "--ttl", "24h")
    assert claims["exp"] - claims["_issued_at"] in range(24 * 3600 - 5, 24 * 3600 + 5)


def test_missing_credentials_are_named(clean_env, capsys):
    assert token.main(["--room", "r", "--identity", "i"]) == 2
    err = capsys.readouterr().err
    assert "LIVEKIT_API_KEY: missing (LiveKit Cloud (cloud.livekit.io) -> your project -> Settings -> API keys)" in err
    assert "LIVEKIT_API_SECRET: missing (LiveKit Cloud" in err
    assert "DEEPGRAM" not in err
    assert "DATABASE_URL" not in err


def test_empty_room_is_refused(livekit_only, capsys):
    with pytest.raises(SystemExit):
        token.main(["--room", " ", "--identity", "i"])
    assert "--room must not be empty" in capsys.readouterr().err

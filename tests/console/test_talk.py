"""The Talk page: who may mint a join token, and what the token allows (decoded with the secret, as LiveKit does).

A LiveKit token is an HS256 JWT signed with the API secret, with the grants in `video` and the agent dispatch in
`roomConfig` (https://github.com/livekit/python-sdks/blob/main/livekit-api/livekit/api/access_token.py).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from console import auth, talk
from console.identity import Identity
from console.settings import ConsoleSettings
from tests.console.conftest import ADMIN, FRONTDESK
from tests.console.test_pages import console_env  # noqa: F401 - fixture

PAGE = Path(__file__).parents[2] / "console" / "views" / "talk.py"
LIVEKIT_URL = "ws://127.0.0.1:7880"
# Made up per run: the secret only this process and the test know.
API_KEY = f"API{secrets.token_hex(6)}"
API_SECRET = secrets.token_urlsafe(32)
TTL_MINUTES = 7


@pytest.fixture
def talk_env(console_env: str, livekit_client: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811 - console_env
    monkeypatch.setenv("LIVEKIT_URL", LIVEKIT_URL)
    monkeypatch.setenv("LIVEKIT_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    monkeypatch.setenv("CONSOLE_TALK_TTL_MINUTES", str(TTL_MINUTES))
    return console_env


def _page(who: Identity | None) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    if who is not None:
        at.session_state[auth.IDENTITY_KEY] = who
    at.run()
    assert not at.exception, at.exception
    return at


def _start(at: AppTest) -> str:
    """Press "Start a call"; the iframe's HTML, where the browser gets its URL and token."""
    at.button(key="talk_start").click().run()
    assert not at.exception, at.exception
    frames = at.get("iframe")
    assert len(frames) == 1
    return frames[0].proto.srcdoc


def _call(html: str) -> dict[str, str]:
    return json.loads(re.search(r"const CALL = (\{.*?\});", html)[1].replace("<\\/", "</"))


def test_without_identity_nothing_is_minted(talk_env: str) -> None:
    at = _page(None)
    assert not at.title
    assert not at.get("iframe")
    assert "talk_start" not in [b.key for b in at.button]


@pytest.mark.parametrize("who", [FRONTDESK, ADMIN], ids=["frontdesk", "admin"])
def test_staff_get_a_short_token_for_a_new_room_that_dispatches_the_agent(
    talk_env: str, who: Identity, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    at = _page(who)
    assert [t.value for t in at.title] == ["Talk to the agent"]
    html = _start(at)
    call = _call(html)
    assert call["url"] == LIVEKIT_URL

    claims = jwt.decode(call["token"], API_SECRET, algorithms=["HS256"])
    assert claims["iss"] == API_KEY
    assert claims["sub"] == who.actor
    assert claims["name"] == who.username
    assert claims["exp"] - claims["nbf"] == TTL_MINUTES * 60
    room = claims["video"]["room"]
    assert room.startswith(talk.ROOM_PREFIX)
    assert f"`{room}`" in at.markdown[-1].value
    assert claims["video"]["roomJoin"] is True
    assert claims["video"]["canPublishSources"] == ["microphone"]
    assert not {"roomCreate", "roomList", "roomAdmin", "roomRecord"} & {k for k, v in claims["video"].items() if v}
    assert claims["roomConfig"]["agents"] == [{"agentName": "hospital-receptionist"}]

    assert talk.CLIENT_URL in html
    assert "://" not in html.split(talk.CLIENT_URL)[0].split("<script")[-1]  # the client comes from this app
    assert API_SECRET not in html
    assert call["token"] not in caplog.text


def test_every_call_gets_a_room_of_its_own(talk_env: str) -> None:
    at = _page(FRONTDESK)
    first = jwt.decode(_call(_start(at))["token"], API_SECRET, algorithms=["HS256"])["video"]["room"]
    second = jwt.decode(_call(_start(at))["token"], API_SECRET, algorithms=["HS256"])["video"]["room"]
    other = _page(ADMIN)
    third = jwt.decode(_call(_start(other))["token"], API_SECRET, algorithms=["HS256"])["video"]["room"]
    assert len({first, second, third}) == 3


def test_without_livekit_settings_the_page_says_which(talk_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    at = _page(FRONTDESK)
    assert any("LIVEKIT_API_SECRET" in i.value for i in at.info)
    assert "talk_start" not in [b.key for b in at.button]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"console_talk_ttl_minutes": 0}, "greater than or equal to 1"),
        ({"console_talk_ttl_minutes": 61}, "less than or equal to 60"),
        ({"livekit_url": "https://example.livekit.cloud"}, "must start with wss://"),
        ({"livekit_url": "ws://lk.example", "app_env": "prod", "console_auth": "alb"}, "must use wss://"),
    ],
)
def test_bad_talk_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ConsoleSettings(database_url="postgresql://u@localhost/db", _env_file=None, **values)


def test_the_default_lifetime_is_ten_minutes() -> None:
    assert ConsoleSettings(database_url="postgresql://u@localhost/db", _env_file=None).console_talk_ttl_minutes == 10


def test_the_token_never_shows_in_a_call_s_repr() -> None:
    call = talk.Call(url=LIVEKIT_URL, room="console-x", token="header.payload.signature", ttl=talk.timedelta(1))
    assert "payload" not in repr(call)
    assert "payload" not in str(call)


def test_the_script_can_not_be_closed_early_by_its_parameters() -> None:
    call = talk.Call(url="ws://x/</script><script>alert(1)", room="r", token="t", ttl=talk.timedelta(1))
    html = talk.browser_html(call)
    assert "</script><script>alert" not in html
    assert _call(html)["url"] == call.url

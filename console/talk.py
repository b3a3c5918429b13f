"""Talk to the agent: a join token minted on the server for a room of its own, and the browser side that uses it.

The token is the agent CLI's (agent/token.py: join this room only, publish the microphone, dispatch the named
agent), with minutes of lifetime instead of the CLI's hour. The API secret stays in this process; the browser gets
the signed token and the server's URL, and loads the LiveKit client this app ships (console/static/, built from
console/web/ by `make console-client`), never one from a CDN.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from agent.settings import TokenSettings
from agent.token import issue_token
from console.identity import Identity
from console.settings import ConsoleSettings

# Where Streamlit serves console/static/ (server.enableStaticServing).
CLIENT_URL = "/app/static/livekit-client.umd.js"
CLIENT_FILE = Path(__file__).parent / "static" / "livekit-client.umd.js"
# Read once: the page renders it on every run while a call is open.
BROWSER_SCRIPT = (Path(__file__).parent / "talk.js").read_text()
ROOM_PREFIX = "console-"


class TalkUnavailable(Exception):
    """The console can't mint a token here: the reason is one line for staff."""


@dataclass(frozen=True)
class Call:
    url: str
    room: str
    token: str
    ttl: timedelta

    def __repr__(self) -> str:  # a token in a log or an exception would let anyone join until it expires
        return f"Call(url={self.url!r}, room={self.room!r}, ttl={self.ttl})"


def missing_settings(settings: ConsoleSettings) -> list[str]:
    return [
        name
        for name, value in (
            ("LIVEKIT_URL", settings.livekit_url),
            ("LIVEKIT_API_KEY", settings.livekit_api_key),
            ("LIVEKIT_API_SECRET", settings.livekit_api_secret),
        )
        if not value
    ]


def start_call(settings: ConsoleSettings, who: Identity) -> Call:
    """A token for a new room, dispatching the agent, for this staff member, valid CONSOLE_TALK_TTL_MINUTES."""
    if missing := missing_settings(settings):
        raise TalkUnavailable(f"talking to the agent needs {', '.join(missing)} in the console's settings")
    if not CLIENT_FILE.is_file():
        raise TalkUnavailable("the LiveKit browser client is not built: run `make console-client`")
    room = f"{ROOM_PREFIX}{uuid.uuid4().hex}"
    ttl = timedelta(minutes=settings.console_talk_ttl_minutes)
    # Built without reading the environment again: the console's settings already hold the validated values.
    credentials = TokenSettings.model_construct(
        livekit_api_key=settings.livekit_api_key,
        livekit_api_secret=settings.livekit_api_secret,
        agent_name=settings.agent_name,
    )
    token = issue_token(credentials, room=room, identity=who.actor, ttl=ttl, name=who.username)
    return Call(url=str(settings.livekit_url), room=room, token=token, ttl=ttl)


def browser_html(call: Call) -> str:
    """The iframe's page: the shipped client, then talk.js with this call's URL and token."""
    # "</" can't close the script element early when written as "<\/" (still the same JSON string).
    parameters = json.dumps({"url": call.url, "token": call.token}).replace("</", "<\\/")
    return (
        '<div id="status" role="status" style="font-family:sans-serif">Starting the call…</div>\n'
        '<button id="hang-up" type="button" disabled>Hang up</button>\n'
        '<div id="audio"></div>\n'
        f'<script src="{CLIENT_URL}"></script>\n'
        f"<script>const CALL = {parameters};\n{BROWSER_SCRIPT}</script>\n"
    )

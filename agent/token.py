"""`python -m agent token`: a join token for one room that dispatches the receptionist by name.

The token may join that room only, publish the caller's microphone and chat, and nothing else: no room
creation, listing, administration or recording. Naming the agent turns off automatic dispatch, so the
token's room configuration asks for it explicitly.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from livekit.api import AccessToken, RoomAgentDispatch, RoomConfiguration, VideoGrants

from agent.settings import SettingsError, TokenSettings, load, parse_ttl

# A caller publishes speech only (data stays allowed for the Agent Console's text chat).
CALLER_SOURCES = ["microphone"]


def issue_token(settings: TokenSettings, *, room: str, identity: str, ttl: timedelta, name: str = "") -> str:
    grants = VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=CALLER_SOURCES,
    )
    token = (
        AccessToken(settings.livekit_api_key.get_secret_value(), settings.livekit_api_secret.get_secret_value())
        .with_identity(identity)
        .with_grants(grants)
        .with_ttl(ttl)
        .with_room_config(RoomConfiguration(agents=[RoomAgentDispatch(agent_name=settings.agent_name)]))
    )
    if name:
        token = token.with_name(name)
    return token.to_jwt()


def _non_empty(label: str):
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{label} must not be empty")
        return text

    return parse


def _ttl(text: str) -> timedelta:
    try:
        return parse_ttl(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _attach_ttl_value(argv: list[str]) -> list[str]:
    """`--ttl -5m` as `--ttl=-5m`, so a negative lifetime gets the TTL message, not "expected one argument"."""
    joined: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        joined.append(f"--ttl={next(arguments, '')}" if argument == "--ttl" else argument)
    return joined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent token",
        description="Print a LiveKit join token for ROOM that dispatches the receptionist agent.",
    )
    parser.add_argument("--room", required=True, type=_non_empty("--room"), help="room to join")
    parser.add_argument("--identity", required=True, type=_non_empty("--identity"), help="participant identity")
    parser.add_argument("--name", default="", help="participant display name")
    parser.add_argument("--ttl", type=_ttl, default=None, help="lifetime such as 15m or 1h (default: TOKEN_TTL, 1h)")
    args = parser.parse_args(_attach_ttl_value(sys.argv[1:] if argv is None else argv))

    try:
        settings = load(TokenSettings)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    ttl = args.ttl or settings.token_lifetime
    print(issue_token(settings, room=args.room, identity=args.identity, ttl=ttl, name=args.name))
    print(f"valid for {ttl}, room {args.room!r}, dispatches agent {settings.agent_name!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Deploy health check: LiveKit Cloud's log drain delivered this run's smoke session to the stack's log group.

LiveKit's "Log drains" page (docs.livekit.io/deploy/agents/log-drains) takes the CloudWatch writer's keys and
region from the agent's secrets and names no log-group setting. So the group the drain writes to is proven here,
on every deploy: the agent stamps `room` on each JSON line it logs (agent/logs.py), and the smoke session's room
must show up in `agentLogGroup`. Nothing there means the drain writes elsewhere or not at all, and the runbook's
searches and the error-lines alarm would be blind: the step fails in one line that says where to look.

Usage: python .github/scripts/log_drain_check.py --log-group GROUP --room ROOM --since EPOCH_SECONDS
       [--timeout SECONDS] [--interval SECONDS]   (AWS credentials and region from the environment)
Exit 0 when a line of the room arrived, 1 when none did in time, 2 when the group cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

RUNBOOK = "docs/runbook.md, 'Log drain silent'"


class CannotRead(Exception):
    """The group is missing or this role may not read it; the message says which."""


def room_pattern(room: str) -> str:
    """A CloudWatch Logs JSON filter for the lines of one room (json.dumps quotes and escapes the value)."""
    return "{ $.room = " + json.dumps(room) + " }"


def of_room(message: str, room: str) -> bool:
    """Whether a drained line is one of the agent's JSON lines stamped with `room`."""
    try:
        line = json.loads(message)
    except ValueError:
        return False
    return isinstance(line, dict) and line.get("room") == room


def first_line_of_room(client: object, group: str, room: str, since_ms: int) -> bool:
    """Whether any line of `room` arrived in `group` since `since_ms`. The filter narrows the search server-side;
    each line is still read here, and every page is followed (filter_log_events may return empty pages with a
    next token while it scans)."""
    arguments = {"logGroupName": group, "startTime": since_ms, "filterPattern": room_pattern(room)}
    seen_tokens: set[str] = set()
    try:
        while True:
            answer = client.filter_log_events(**arguments)
            if any(of_room(event.get("message", ""), room) for event in answer.get("events", [])):
                return True
            token = answer.get("nextToken")
            if not token or token in seen_tokens:
                return False
            seen_tokens.add(token)
            arguments["nextToken"] = token
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "ResourceNotFoundException":
            raise CannotRead(f"log group {group} does not exist in this account and region") from None
        raise CannotRead(f"cannot read log group {group}: {code}") from None


def wait_for_room(
    find: Callable[[], bool],
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float | None:
    """Seconds until `find` held, or None when it did not within `timeout` (the drain ships in batches)."""
    started = clock()
    while True:
        if find():
            return clock() - started
        if clock() - started + interval > timeout:
            return None
        sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-group", required=True, help="the stack output agentLogGroup")
    parser.add_argument("--room", required=True, help="the smoke session's room")
    parser.add_argument("--since", type=float, required=True, help="epoch seconds before the smoke session")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (default 300)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between searches (default 15)")
    args = parser.parse_args(argv)
    try:
        client = boto3.client("logs")
        took = wait_for_room(
            lambda: first_line_of_room(client, args.log_group, args.room, int(args.since * 1000)),
            timeout=args.timeout,
            interval=args.interval,
        )
    except CannotRead as reason:
        print(f"log drain check: {reason} ({RUNBOOK})", file=sys.stderr)
        return 2
    except BotoCoreError as error:
        print(f"log drain check: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if took is None:
        print(
            f"log drain FAILED: no line of room {args.room} reached {args.log_group} within {args.timeout:.0f} s; "
            f"LiveKit's drain writes elsewhere or not at all ({RUNBOOK})",
            file=sys.stderr,
        )
        return 1
    print(f"log drain delivered room {args.room} to {args.log_group} in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The deploy's log-drain check (.github/scripts/log_drain_check.py) against moto's CloudWatch Logs on loopback, a
stand-in for AWS that proves only our side: which group and room we search for and how we read the answer. moto
ignores JSON filter patterns (it returns every line), which is why the script reads each line's `room` itself and
the tests put other rooms' lines in the group too. The pattern's syntax is AWS's ("Filter pattern syntax for
metric filters, subscription filters, filter log events, and Live Tail", JSON log events:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import boto3
import pytest

from tests.delivery.support import ROOT

SCRIPT = ROOT / ".github" / "scripts" / "log_drain_check.py"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # pragma: allowlist secret


@pytest.fixture
def logs(moto_url: str):
    return boto3.client("logs", region_name=REGION, endpoint_url=moto_url, **KEYS)


@pytest.fixture
def group(logs) -> str:
    name = f"/hospital-receptionist/staging/agent-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="replica-1")
    return name


def drain(logs, group: str, *lines: dict | str) -> None:
    """What LiveKit's drain would put: the agent's stdout lines, as they were printed."""
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="replica-1",
        logEvents=[{"timestamp": now, "message": x if isinstance(x, str) else json.dumps(x)} for x in lines],
    )


def check(moto_url: str, group: str, room: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
    }
    since = time.time() - 60
    timing = ("--timeout", str(timeout), "--interval", "0.2")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--log-group", group, "--room", room, "--since", str(since), *timing],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_the_smoke_rooms_lines_arriving_late_pass(moto_url: str, logs, group: str) -> None:
    drain(logs, group, {"level": "INFO", "room": "smoke-41-1", "event": "startup_check"}, "plain text line")
    # The drain ships in batches: this run's room arrives after the first searches.
    late = threading.Timer(1.0, drain, (logs, group, {"level": "INFO", "room": "smoke-42-1", "event": "call_start"}))
    late.start()
    try:
        result = check(moto_url, group, "smoke-42-1", timeout=20)
    finally:
        late.cancel()
    assert result.returncode == 0, result.stderr
    assert f"log drain delivered room smoke-42-1 to {group}" in result.stdout


def test_lines_of_other_rooms_only_fail_in_one_line(moto_url: str, logs, group: str) -> None:
    drain(logs, group, {"level": "INFO", "room": "smoke-41-1"}, {"level": "INFO", "message": "smoke-42-1"})
    result = check(moto_url, group, "smoke-42-1", timeout=1)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"no line of room smoke-42-1 reached {group}" in result.stderr
    assert "docs/runbook.md, 'Log drain silent'" in result.stderr


def test_a_missing_group_is_one_line_and_no_traceback(moto_url: str) -> None:
    result = check(moto_url, "/hospital-receptionist/staging/nowhere", "smoke-42-1", timeout=1)
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_runbook_has_the_section_the_check_names() -> None:
    assert "### Log drain silent" in (ROOT / "docs" / "runbook.md").read_text()

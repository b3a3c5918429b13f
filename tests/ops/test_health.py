"""The worker's health endpoint (port 8081, `GET /`, served by livekit-agents itself), read from a real
`python -m agent start` process.

There is no LiveKit server here: a loopback stand-in accepts the worker's registration WebSocket (`/agent`,
the worker protocol's protobuf messages) after checking its JWT. What this proves: the worker starts with
our settings, passes the start-up checks, registers under AGENT_NAME, and its health endpoint answers
`OK`. What it does not: livekit-agents answers 503 only after 16 failed reconnection attempts (about two
and a half minutes), too long for a test; that rule is LiveKit's code (worker.py, `health_check`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agent.settings import Settings
from tests.ops.standins import StandIns, free_port

ROOT = Path(__file__).resolve().parents[2]
HEALTH_PORT = 8081  # livekit-agents' production default; `start` offers no option to move it


def _worker_env(tmp_path: Path, values: dict[str, str]) -> dict[str, str]:
    """The process environment from a temporary env file, as a platform's secret store would inject it."""
    env_file = tmp_path / "worker.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    for line in env_file.read_text().splitlines():
        name, _, value = line.partition("=")
        env[name] = value
    env |= {"PYTHONPATH": str(ROOT), "AGENT_NAME": "front-desk", "APP_ENV": "dev"}
    return env


def _get(path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HEALTH_PORT}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.stdout.read() if process.stdout else ""


@pytest.mark.slow
def test_started_worker_registers_by_name_and_answers_health_checks(databases, tmp_path):
    assert _port_free(HEALTH_PORT), f"port {HEALTH_PORT} is taken; the worker's health endpoint needs it"
    with StandIns() as standins:
        env = _worker_env(tmp_path, standins.environment(databases["migrated"]))
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "start"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not standins.registered_agents and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            assert standins.registered_agents == ["front-desk"], "the worker never registered"
            status, body = _get("/")
            worker = json.loads(_get("/worker")[1])
        finally:
            output = _stop(process)
    assert (status, body) == (200, "OK"), output[-2000:]
    assert worker["agent_name"] == "front-desk"
    checks = [json.loads(line) for line in output.splitlines() if '"startup_check"' in line]
    assert sorted(line["service"] for line in checks) == ["cartesia", "database", "deepgram", "livekit", "openai"]
    for secret in standins.keys.values():
        assert secret not in output


@pytest.mark.slow
def test_worker_with_an_unreachable_database_fails_fast_with_a_clear_line(databases, tmp_path):
    with StandIns() as standins:
        env = _worker_env(tmp_path, standins.environment(f"postgresql://app@127.0.0.1:{free_port()}/hospital"))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "agent", "start"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 20
    failed = [json.loads(line) for line in result.stdout.splitlines() if '"startup_check"' in line]
    assert [line["service"] for line in failed if line["level"] == "ERROR"] == ["database"]
    assert "start-up check database: cannot connect" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not standins.registered_agents

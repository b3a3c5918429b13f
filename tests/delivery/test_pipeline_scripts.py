"""The deploy pipeline's scripts, run against a stand-in `lk` on PATH (a shell script that prints a status
table shaped like the one in LiveKit's CLI reference and records its arguments). The stand-in proves only our
side: what we ask `lk` to do and how we read its answer, not LiveKit Cloud's behaviour."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.delivery.support import ROOT

SCRIPTS = ROOT / ".github" / "scripts"

STATUS = """Using project [hospital-staging]
Using agent [CA_StagingAgent1]
┌──────────────────┬───────────┬────────────────┬─────────┬────────────┬──────────┬────────────┬─────────┐
│ ID               │ Name      │ Version        │ Region  │ Deployment │ Status   │ CPU        │ Mem     │
├──────────────────┼───────────┼────────────────┼─────────┼────────────┼──────────┼────────────┼─────────┤
│ CA_StagingAgent1 │ reception │ {version}      │ us-east │ production │ {status} │ 0m / 2000m │ 0 / 4GB │
│ CA_StagingAgent1 │ reception │ 20261101000000 │ us-east │ canary     │ Running  │ 0m / 2000m │ 0 / 4GB │
└──────────────────┴───────────┴────────────────┴─────────┴────────────┴──────────┴────────────┴─────────┘
"""


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stand_in_lk(tmp_path: Path):
    """Install a stand-in `lk` whose status answer the test sets; returns (set_status, calls_file)."""
    calls = tmp_path / "calls"
    status = tmp_path / "status"
    exe = tmp_path / "bin" / "lk"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nif [ "$2" = status ]; then cat {status}; fi\n')
    exe.chmod(0o755)

    def set_status(version: str, state: str) -> None:
        status.write_text(STATUS.format(version=version, status=state))

    return set_status, calls, exe.parent


def run_agent_script(*args: str, path_dir: Path, cwd: Path | None = None, **env: str):
    environment = {**os.environ, "PATH": f"{path_dir}:{os.environ['PATH']}", **env}
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "livekit_agent.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=30,
        check=False,
    )


def test_status_table_parsing_picks_the_production_row() -> None:
    module = load_script("livekit_agent")
    rows = module.parse_status_table(STATUS.format(version="20261125120000", status="Running"))
    assert len(rows) == 2
    row = module.deployment_row(rows)
    assert row["Version"] == "20261125120000"
    assert row["Status"] == "Running"


def test_version_prints_a_github_output_line(stand_in_lk) -> None:
    set_status, _, bin_dir = stand_in_lk
    set_status("20261125120000", "Running")
    result = run_agent_script("version", path_dir=bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "version=20261125120000"


def test_wait_running_fails_with_the_last_status(stand_in_lk) -> None:
    set_status, _, bin_dir = stand_in_lk
    set_status("20261125120000", "Sleeping")
    module = load_script("livekit_agent")
    env_path = f"{bin_dir}:{os.environ['PATH']}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", env_path)
        with pytest.raises(module.AgentCommandError, match="last status: Sleeping"):
            module.wait_running(timeout_seconds=0.3, poll_seconds=0.1)
        set_status("20261125120000", "Running")
        assert module.wait_running(timeout_seconds=5, poll_seconds=0.1) == "20261125120000"


def test_rollback_goes_back_to_the_recorded_version(stand_in_lk) -> None:
    set_status, calls, bin_dir = stand_in_lk
    set_status("20261125120000", "Running")
    result = run_agent_script("rollback", "--to", "20261120090000", path_dir=bin_dir)
    assert result.returncode == 0, result.stderr
    assert "agent rollback --version 20261120090000" in calls.read_text()
    assert "rolled back from 20261125120000 to 20261120090000" in result.stdout


def test_rollback_leaves_alone_a_version_that_never_changed(stand_in_lk) -> None:
    # A failure before the agent deploy (say, a migration) must not roll back an agent that was never replaced.
    set_status, calls, bin_dir = stand_in_lk
    set_status("20261120090000", "Running")
    result = run_agent_script("rollback", "--to", "20261120090000", path_dir=bin_dir)
    assert result.returncode == 0, result.stderr
    assert "rollback" not in calls.read_text().replace("status", "")
    assert "nothing to roll back" in result.stdout


def test_a_failing_lk_fails_the_step_with_its_reason(tmp_path: Path) -> None:
    exe = tmp_path / "lk"
    exe.write_text('#!/bin/sh\necho "unauthorized: invalid API key" >&2\nexit 1\n')
    exe.chmod(0o755)
    result = run_agent_script("version", path_dir=tmp_path)
    assert result.returncode == 1
    assert "`lk agent status` failed (exit 1): unauthorized" in result.stderr


def test_write_config_targets_this_environments_project(tmp_path: Path) -> None:
    result = run_agent_script(
        "write-config",
        path_dir=tmp_path,
        cwd=tmp_path,
        LIVEKIT_URL="wss://hospital-staging-ab12cd34.livekit.cloud",
        LIVEKIT_AGENT_ID="CA_StagingAgent1",
    )
    assert result.returncode == 0, result.stderr
    import tomllib

    config = tomllib.loads((tmp_path / "livekit.toml").read_text())
    assert config == {"project": {"subdomain": "hospital-staging-ab12cd34"}, "agent": {"id": "CA_StagingAgent1"}}


@pytest.mark.parametrize(
    ("url", "agent_id", "reason"),
    [
        ("wss://example.com", "CA_StagingAgent1", "not a LiveKit Cloud URL"),
        ("wss://hospital-staging.livekit.cloud", "", "LIVEKIT_AGENT_ID must look like CA_"),
        ("wss://hospital-staging.livekit.cloud", 'CA_x"\n[evil]', "LIVEKIT_AGENT_ID must look like CA_"),
    ],
)
def test_write_config_refuses_bad_input_and_writes_nothing(tmp_path: Path, url: str, agent_id: str, reason: str):
    result = run_agent_script(
        "write-config", path_dir=tmp_path, cwd=tmp_path, LIVEKIT_URL=url, LIVEKIT_AGENT_ID=agent_id
    )
    assert result.returncode == 1
    assert reason in result.stderr
    assert not (tmp_path / "livekit.toml").exists()


def test_smoke_session_names_missing_variables_without_a_traceback() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "smoke.py")],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_smoke_session_fails_fast_and_clearly_when_livekit_is_unreachable(tmp_path: Path) -> None:
    # A refused loopback port stands in for an unreachable LiveKit; the token comes from the agent's own CLI.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {
        **os.environ,
        "LIVEKIT_URL": f"ws://127.0.0.1:{port}",
        "LIVEKIT_API_KEY": "APIstandin",
        "LIVEKIT_API_SECRET": "stand-in-secret-that-is-long-enough-for-hs256",
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "smoke.py"), "--timeout", "8"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "smoke FAILED" in result.stderr
    assert "agent token" not in result.stderr, "the token step failed, not the connection"
    assert "connect" in result.stderr.lower()
    assert "stand-in-secret" not in result.stdout + result.stderr
    assert "eyJ" not in result.stdout + result.stderr, "a JWT was printed"

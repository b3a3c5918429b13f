"""The deploy pipeline's scripts, run against a stand-in `lk` on PATH that answers with recorded output of LiveKit
CLI v2.18.1 (tests/delivery/fixtures/lk/, each file's header names the source it was reconstructed from) and
records its arguments. The stand-in proves only our side: what we ask `lk` to do and how we read its answer, not
LiveKit Cloud's behaviour."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format
from livekit.protocol import cloud_agent

from tests.delivery.support import ROOT

SCRIPTS = ROOT / ".github" / "scripts"
FIXTURES = Path(__file__).parent / "fixtures" / "lk"
OLD, NEW = "v20261120090000", "v20261125120000"
THIS_COMMIT = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"  # the git_commit of NEW in versions-after.json


def recorded(name: str) -> str:
    """A fixture's recorded stdout, without its header of `#` lines."""
    lines = (FIXTURES / name).read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("#"))


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their annotations through the module's entry
    spec.loader.exec_module(module)
    return module


STAND_IN = f"""#!{sys.executable}
# A stand-in for `lk`: `lk agent status|versions [--json]` answers the next fixture of plan.json (the last repeats).
import json, pathlib, sys
here = pathlib.Path(__file__).parent
args = sys.argv[1:]
with open(here / "calls", "a") as calls:
    calls.write(" ".join(args) + "\\n")
command = args[1] if len(args) > 1 else ""
if command in ("status", "versions"):
    key = command if "--json" in args else command + "-text"
    answers = json.loads((here / "plan.json").read_text())[key]
    counter = here / (key + ".count")
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    lines = pathlib.Path({str(FIXTURES)!r}, answers[min(n, len(answers) - 1)]).read_text().splitlines(True)
    sys.stdout.write("".join(line for line in lines if not line.startswith("#")))
"""


class StandInLk:
    def __init__(self, directory: Path) -> None:
        self.bin = directory
        self.calls_file = directory / "calls"
        exe = directory / "lk"
        exe.write_text(STAND_IN)
        exe.chmod(0o755)
        self.plan(status=["status-old-running.json"], versions=["versions-before.json"])

    def plan(self, *, status: list[str], versions: list[str]) -> None:
        """The answers from now on, from the first of each list; the calls recorded so far are forgotten."""
        for counter in [*self.bin.glob("*.count"), self.calls_file]:
            counter.unlink(missing_ok=True)
        plan = {"status": status, "versions": versions, "status-text": ["status-table-deployment-dashes.txt"]}
        (self.bin / "plan.json").write_text(json.dumps(plan))

    def calls(self) -> list[str]:
        return self.calls_file.read_text().splitlines() if self.calls_file.exists() else []


@pytest.fixture
def stand_in_lk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandInLk:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}:{os.environ['PATH']}")
    return StandInLk(directory)


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


# The recorded output itself


MESSAGES = {"status": cloud_agent.ListAgentsResponse, "versions": cloud_agent.ListAgentVersionsResponse}
JSON_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_each_json_fixture_is_the_protobuf_message_lk_prints(name: str) -> None:
    # livekit-protocol's Python messages are generated from the same livekit_cloud_agent.proto: a misspelt or
    # snake_case field fails to parse, and a field protojson would leave out (a zero value) fails the round trip.
    message = MESSAGES[name.split("-", maxsplit=1)[0]]()
    json_format.Parse(recorded(name), message, ignore_unknown_fields=False)
    assert json_format.MessageToDict(message) == json.loads(recorded(name))


def test_each_fixture_names_the_lk_version_the_workflow_installs() -> None:
    deploy_action = (ROOT / ".github" / "actions" / "deploy-stack" / "action.yml").read_text()
    pinned = re.search(r"LK_VERSION: \"?([\d.]+)", deploy_action)
    assert pinned, "the deploy action pins no LK_VERSION"
    for path in FIXTURES.iterdir():
        header = "".join(line for line in path.read_text().splitlines(True) if line.startswith("#"))
        assert f"LiveKit CLI v{pinned[1]} " in header, path.name
        assert "cmd/lk/agent.go" in header, path.name


# Reading `lk agent status`


def test_a_production_entry_without_a_named_deployment_is_read_from_json() -> None:
    # The text table shows `--` in Deployment for this entry; its JSON leaves deploymentEnabled and deployment out.
    module = load_script("livekit_agent")
    [production] = module.production_deployments(json.loads(recorded("status-old-running.json")))
    assert (production.region, production.version, production.status) == ("us-east", OLD, "Running")
    assert module.live_version(json.loads(recorded("status-old-running.json"))) == OLD


def test_a_named_deployment_is_not_mistaken_for_production() -> None:
    module = load_script("livekit_agent")
    status = json.loads(recorded("status-named-deployments.json"))
    assert [d.version for d in module.production_deployments(status)] == [OLD]


def test_the_text_table_is_refused_in_one_line() -> None:
    module = load_script("livekit_agent")
    with pytest.raises(module.AgentCommandError) as refused:
        module.parse_json("status", recorded("status-table-deployment-dashes.txt"))
    assert str(refused.value).startswith("`lk agent status --json` printed no JSON (it began: '┌")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("[]", "printed list, not an object"),
        ('{"agents": "CA_x"}', "'agents' is not a list of objects"),
        ('{"agents": [{"agentId": "CA_x"}]}', "listed no production deployment"),
    ],
)
def test_unexpected_json_gets_a_one_line_reason(answer: str, reason: str) -> None:
    module = load_script("livekit_agent")
    with pytest.raises(module.AgentCommandError, match=re.escape(reason)):
        module.production_deployments(module.parse_json("status", answer))


def test_version_records_the_live_version_and_every_existing_one(stand_in_lk: StandInLk, tmp_path: Path) -> None:
    known = tmp_path / "known.json"
    result = run_agent_script("version", "--known-versions", str(known), path_dir=stand_in_lk.bin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"version={OLD}"
    assert json.loads(known.read_text()) == sorted([OLD, "v20261101080000"])
    assert "agent status --json" in stand_in_lk.calls()
    assert "agent versions --json" in stand_in_lk.calls()


# Waiting for the version this run deployed


def wait(module, stand_in: StandInLk, tmp_path: Path, *, status: list[str], live: str = OLD, commit: str = THIS_COMMIT):
    stand_in.plan(status=["status-old-running.json"], versions=["versions-before.json"])
    known = tmp_path / "known.json"
    module.record_versions(known)
    stand_in.plan(status=status, versions=["versions-after.json"])
    known_versions, versions = module.read_known_versions(known), module.agent_versions()
    expected = module.deployed_version(known_versions, live, versions, module.agent_status(), commit)
    module.wait_until_running(expected, timeout_seconds=5, poll_seconds=0.01)
    return expected


def test_wait_running_waits_past_the_old_version_for_the_new_one(stand_in_lk: StandInLk, tmp_path: Path) -> None:
    module = load_script("livekit_agent")
    sequence = [
        "status-old-running.json",
        "status-new-deployed-old-running.json",
        "status-new-deployed-not-observed.json",
        "status-new-running.json",
    ]
    assert wait(module, stand_in_lk, tmp_path, status=sequence) == NEW
    assert stand_in_lk.calls().count("agent status --json") == len(sequence)


def test_wait_running_fails_in_one_line_when_the_new_version_never_runs(stand_in_lk: StandInLk, tmp_path: Path):
    known = tmp_path / "known.json"
    run_agent_script("version", "--known-versions", str(known), path_dir=stand_in_lk.bin)
    stand_in_lk.plan(status=["status-new-deployed-old-running.json"], versions=["versions-after.json"])
    result = run_agent_script(
        "wait-running",
        "--known-versions",
        str(known),
        "--live",
        OLD,
        "--commit",
        THIS_COMMIT,
        "--timeout",
        "0",
        path_dir=stand_in_lk.bin,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"wait-running FAILED: version {NEW} not running after 0 s (production: us-east: {OLD} Running)\n"
    )


def test_wait_running_keeps_the_live_version_when_nothing_was_deployed(stand_in_lk: StandInLk, tmp_path: Path):
    module = load_script("livekit_agent")
    stand_in_lk.plan(status=["status-old-running.json"], versions=["versions-before.json"])
    known = tmp_path / "known.json"
    module.record_versions(known)
    known_versions, versions = module.read_known_versions(known), module.agent_versions()
    expected = module.deployed_version(known_versions, OLD, versions, module.agent_status(), THIS_COMMIT)
    assert expected == OLD
    module.wait_until_running(expected, timeout_seconds=1, poll_seconds=0.01)


def test_a_newest_version_from_another_commit_is_not_vouched_for(stand_in_lk: StandInLk, tmp_path: Path) -> None:
    module = load_script("livekit_agent")
    with pytest.raises(module.AgentCommandError, match="built from commit c0ffeec0ffee, not this run's 000000000000"):
        wait(module, stand_in_lk, tmp_path, status=["status-new-running.json"], commit="0" * 40)


def test_a_new_version_the_list_does_not_show_yet_is_still_waited_for() -> None:
    # Should `lk agent versions` lag the deploy, the agent-level version (set at deploy time) names the new one.
    module = load_script("livekit_agent")
    versions = json.loads(recorded("versions-before.json"))
    status = json.loads(recorded("status-new-deployed-old-running.json"))
    assert module.deployed_version({OLD, "v20261101080000"}, OLD, versions, status, THIS_COMMIT) == NEW


def test_nothing_to_wait_for_without_a_deploy_or_a_live_version() -> None:
    module = load_script("livekit_agent")
    versions = json.loads(recorded("versions-before.json"))
    status = json.loads(recorded("status-old-running.json"))
    with pytest.raises(module.AgentCommandError, match="nothing to wait for"):
        module.deployed_version({OLD, "v20261101080000"}, "", versions, status, THIS_COMMIT)


# Rolling back


def test_rollback_goes_back_to_the_recorded_version(stand_in_lk: StandInLk) -> None:
    stand_in_lk.plan(status=["status-new-running.json"], versions=["versions-after.json"])
    result = run_agent_script("rollback", "--to", OLD, path_dir=stand_in_lk.bin)
    assert result.returncode == 0, result.stderr
    assert f"agent rollback --version {OLD}" in stand_in_lk.calls()
    assert f"rolled back from {NEW} to {OLD}" in result.stdout


def test_rollback_leaves_alone_a_version_that_never_changed(stand_in_lk: StandInLk) -> None:
    # A failure before the agent deploy (say, a migration) must not roll back an agent that was never replaced.
    result = run_agent_script("rollback", "--to", OLD, path_dir=stand_in_lk.bin)
    assert result.returncode == 0, result.stderr
    assert not [call for call in stand_in_lk.calls() if call.startswith("agent rollback")]
    assert "nothing to roll back" in result.stdout


def test_a_failing_lk_fails_the_step_with_its_reason(tmp_path: Path) -> None:
    exe = tmp_path / "lk"
    exe.write_text('#!/bin/sh\necho "unauthorized: invalid API key" >&2\nexit 1\n')
    exe.chmod(0o755)
    result = run_agent_script("version", "--known-versions", str(tmp_path / "known.json"), path_dir=tmp_path)
    assert result.returncode == 1
    assert "`lk agent versions` failed (exit 1): unauthorized" in result.stderr
    assert len(result.stderr.splitlines()) == 1


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


def test_smoke_session_refuses_a_room_name_livekit_would_not_take() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "smoke.py"), "--room", "smoke room; rm -rf /"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "1-64 letters, digits" in result.stderr
    assert "Traceback" not in result.stderr

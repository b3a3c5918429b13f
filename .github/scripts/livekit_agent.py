"""The deploy pipeline's steps around the `lk` CLI: write livekit.toml, record the live version, wait until the
version this run deployed is the one running, roll back to a recorded version.

  python .github/scripts/livekit_agent.py write-config     # livekit.toml from LIVEKIT_URL + LIVEKIT_AGENT_ID
  python .github/scripts/livekit_agent.py version --known-versions FILE
      # prints version=<live version> (for $GITHUB_OUTPUT); FILE keeps the versions that exist before the deploy
  python .github/scripts/livekit_agent.py wait-running --known-versions FILE --live VERSION [--commit SHA]
      [--timeout 300]   # until the version this run deployed (or, if none, the live one) runs in production
  python .github/scripts/livekit_agent.py rollback --to VERSION

It reads `lk agent status --json` and `lk agent versions --json` (LiveKit CLI v2.18.1, the version the workflow
installs): protobuf messages ListAgentsResponse and ListAgentVersionsResponse (livekit/protocol,
protobufs/livekit_cloud_agent.proto) printed by protojson, so fields are lowerCamelCase and fields at their zero
value (false, "", empty lists) are left out. `lk` reads LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the
environment; nothing here prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

DEPLOYMENT = "production"  # LiveKit's default deployment of an agent; each stack is its own LiveKit project
RUNNING = "Running"  # a regional deployment's status when up, as LiveKit's deploy-action checks it (main.go)


class AgentCommandError(Exception):
    """An `lk` call failed or answered something unexpected; the message says which, in one line."""


@dataclass(frozen=True)
class RegionalDeployment:
    region: str
    observed_version: str  # the entry's own; empty until LiveKit has observed the region since the last deploy
    agent_version: str  # the agent's, set at deploy time
    status: str

    @property
    def version(self) -> str:
        return self.observed_version or self.agent_version


def project_subdomain(livekit_url: str) -> str:
    """wss://hospital-staging-ab12cd34.livekit.cloud -> hospital-staging-ab12cd34"""
    host = urlparse(livekit_url).hostname or ""
    if not host.endswith(".livekit.cloud"):
        raise AgentCommandError("LIVEKIT_URL is not a LiveKit Cloud URL (wss://<subdomain>.livekit.cloud)")
    return host.removesuffix(".livekit.cloud")


def render_config(livekit_url: str, agent_id: str) -> str:
    if not re.fullmatch(r"CA_[A-Za-z0-9]+", agent_id):
        raise AgentCommandError("LIVEKIT_AGENT_ID must look like CA_xxxxxxxx (from `lk agent create`)")
    return f'[project]\n  subdomain = "{project_subdomain(livekit_url)}"\n\n[agent]\n  id = "{agent_id}"\n'


def parse_json(command: str, text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        first = text.strip().splitlines()[0][:80] if text.strip() else "nothing"
        raise AgentCommandError(f"`lk agent {command} --json` printed no JSON (it began: {first!r})") from None
    if not isinstance(data, dict):
        raise AgentCommandError(f"`lk agent {command} --json` printed {type(data).__name__}, not an object")
    return data


def list_of_objects(data: dict, key: str, command: str) -> list[dict]:
    items = data.get(key, [])  # protojson leaves an empty list out
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise AgentCommandError(f"`lk agent {command} --json`: {key!r} is not a list of objects")
    return items


def production_deployments(status: dict) -> list[RegionalDeployment]:
    """Our agent's production deployment in each region, from `lk agent status --json`.

    Reads the entries as `lk agent status` renders its table (cmd/lk/agent.go, getAgentStatus): an entry whose
    `deploymentEnabled` is false has no named deployment (the table shows `--`) and is the production one; its
    version is the entry's own, or the agent's while the entry has not been observed yet (`version`)."""
    deployments = []
    for agent in list_of_objects(status, "agents", "status"):
        for entry in list_of_objects(agent, "agentDeployments", "status"):
            if entry.get("deploymentEnabled", False) and entry.get("deployment", "") not in ("", DEPLOYMENT):
                continue
            deployments.append(
                RegionalDeployment(
                    region=entry.get("region", "?"),
                    observed_version=entry.get("version", ""),
                    agent_version=agent.get("version", ""),
                    status=entry.get("status", ""),
                )
            )
    if not deployments:
        raise AgentCommandError("`lk agent status --json` listed no production deployment")
    return deployments


def live_version(status: dict) -> str:
    versions = {deployment.version for deployment in production_deployments(status)}
    if len(versions) != 1 or "" in versions:
        raise AgentCommandError(f"production runs no single version: {sorted(versions)}")
    return versions.pop()


def created_at(version: dict) -> datetime:
    # protojson writes Timestamps as RFC 3339 in UTC with a "Z"; an unset one is left out.
    text = version.get("createdAt", "1970-01-01T00:00:00Z")
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise AgentCommandError(f"version {version['version']}: createdAt {text!r} is no RFC 3339 time") from None


def version_ids(versions: dict) -> list[str]:
    ids = [item.get("version", "") for item in list_of_objects(versions, "versions", "versions")]
    if "" in ids:
        raise AgentCommandError("`lk agent versions --json` listed a version without its `version` id")
    return ids


def deployed_version(
    known_before: set[str], live_before: str, versions_after: dict, status_after: dict, commit: str
) -> str:
    """The version this run's `pulumi up` deployed: the newest version that did not exist before it.

    None new: the agent deploy did not run (its triggers were unchanged), so the version live before must still
    run; unless the agent already names a version unknown before (the list lagging the deploy), which is then the
    one. `lk agent deploy` tags each version with the commit it was built from (attribute `git_commit`); a newest
    version from another commit means someone else deployed meanwhile, and this run cannot vouch for it."""
    version_ids(versions_after)
    new = [item for item in versions_after.get("versions", []) if item["version"] not in known_before]
    if not new:
        announced = {d.agent_version for d in production_deployments(status_after)} - known_before - {""}
        if len(announced) == 1:
            return announced.pop()
        if announced:
            raise AgentCommandError(f"the agent names several unknown versions: {sorted(announced)}")
        if not live_before:
            raise AgentCommandError("no version was deployed and none was live before: nothing to wait for")
        return live_before
    newest = max(new, key=created_at)
    built_from = newest.get("attributes", {}).get("git_commit", "")
    if commit and built_from and built_from != commit:
        raise AgentCommandError(
            f"the newest version {newest['version']} was built from commit {built_from[:12]}, "
            f"not this run's {commit[:12]}: another deploy ran meanwhile"
        )
    return newest["version"]


def lk(*args: str) -> str:
    result = subprocess.run(["lk", "agent", *args], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        reason = " ".join(result.stderr.split())[:300]
        raise AgentCommandError(f"`lk agent {args[0]}` failed (exit {result.returncode}): {reason}")
    return result.stdout


def agent_status() -> dict:
    return parse_json("status", lk("status", "--json"))


def agent_versions() -> dict:
    return parse_json("versions", lk("versions", "--json"))


def describe(deployments: list[RegionalDeployment]) -> str:
    return ", ".join(
        f"{d.region}: {d.observed_version or 'no version observed'} {d.status or 'no status'}" for d in deployments
    )


def wait_until_running(expected: str, timeout_seconds: float, poll_seconds: float = 10.0) -> None:
    """Until every region's production deployment is observed running `expected`. Any running version is not
    enough, nor the agent-level version: it names the new version at once, beside a status observed before."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        deployments = production_deployments(agent_status())
        if all(d.observed_version == expected and d.status == RUNNING for d in deployments):
            return
        if time.monotonic() >= deadline:
            raise AgentCommandError(
                f"version {expected} not running after {timeout_seconds:.0f} s (production: {describe(deployments)})"
            )
        time.sleep(poll_seconds)


def record_versions(path: Path) -> str:
    """Write every existing version id to `path`; return the live version."""
    path.write_text(json.dumps(sorted(version_ids(agent_versions()))))
    return live_version(agent_status())


def read_known_versions(path: Path) -> set[str]:
    try:
        known = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise AgentCommandError(f"{path} holds no JSON list of versions") from None
    if not isinstance(known, list):
        raise AgentCommandError(f"{path} holds no JSON list of versions")
    return set(known)


def rollback(to_version: str) -> str:
    current = live_version(agent_status())
    if current == to_version:
        return f"live version is already {to_version}: nothing to roll back"
    lk("rollback", "--version", to_version)
    return f"rolled back from {current} to {to_version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("write-config", help="write livekit.toml for this environment")
    record = commands.add_parser("version", help="print version=<live version>; record the existing versions")
    record.add_argument("--known-versions", type=Path, required=True, metavar="FILE")
    waiting = commands.add_parser("wait-running", help="wait until the version this run deployed runs")
    waiting.add_argument("--known-versions", type=Path, required=True, metavar="FILE")
    waiting.add_argument("--live", default="", metavar="VERSION", help="the version live before the deploy")
    waiting.add_argument("--commit", default="", metavar="SHA", help="the commit this run deploys")
    waiting.add_argument("--timeout", type=float, default=300.0)
    back = commands.add_parser("rollback", help="roll back to VERSION unless it is already live")
    back.add_argument("--to", required=True, metavar="VERSION")
    args = parser.parse_args(argv)
    try:
        if args.command == "write-config":
            text = render_config(os.environ.get("LIVEKIT_URL", ""), os.environ.get("LIVEKIT_AGENT_ID", ""))
            Path("livekit.toml").write_text(text)
            print("wrote livekit.toml")
        elif args.command == "version":
            print(f"version={record_versions(args.known_versions)}")
        elif args.command == "wait-running":
            known = read_known_versions(args.known_versions)
            expected = deployed_version(known, args.live, agent_versions(), agent_status(), args.commit)
            wait_until_running(expected, args.timeout)
            print(f"version {expected} is running in production")
        else:
            print(rollback(args.to))
    except (AgentCommandError, OSError, subprocess.TimeoutExpired) as error:
        print(f"{args.command} FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

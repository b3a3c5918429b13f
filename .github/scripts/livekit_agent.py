"""The deploy pipeline's steps around the `lk` CLI: write livekit.toml, read the live version, wait for
the agent to run, roll back to a recorded version.

  python .github/scripts/livekit_agent.py write-config         # livekit.toml from LIVEKIT_URL + LIVEKIT_AGENT_ID
  python .github/scripts/livekit_agent.py version              # prints version=<live version> (for $GITHUB_OUTPUT)
  python .github/scripts/livekit_agent.py wait-running [--timeout 300]
  python .github/scripts/livekit_agent.py rollback --to VERSION

`lk` reads LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET from the environment; nothing here prints them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

DEPLOYMENT = "production"  # LiveKit's default deployment of an agent; each stack is its own LiveKit project
_CELL_SEPARATORS = re.compile(r"[│|]")


class AgentCommandError(Exception):
    """An `lk` call failed or answered something unexpected; the message says which."""


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


def parse_status_table(text: str) -> list[dict[str, str]]:
    """Rows of `lk agent status` (a box-drawn table) as dicts keyed by the header's column names."""
    rows = [
        [cell.strip() for cell in _CELL_SEPARATORS.split(line)[1:-1]]
        for line in text.splitlines()
        if line.lstrip().startswith(("│", "|"))
    ]
    if not rows:
        return []
    header, *body = rows
    return [dict(zip(header, row, strict=False)) for row in body if len(row) == len(header)]


def deployment_row(rows: list[dict[str, str]]) -> dict[str, str]:
    """The row of our deployment; tables without a Deployment column have one row per agent."""
    for row in rows:
        if row.get("Deployment", DEPLOYMENT) == DEPLOYMENT:
            return row
    raise AgentCommandError("`lk agent status` listed no production deployment")


def lk(*args: str) -> str:
    result = subprocess.run(["lk", "agent", *args], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AgentCommandError(f"`lk agent {args[0]}` failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def live_row() -> dict[str, str]:
    return deployment_row(parse_status_table(lk("status")))


def wait_running(timeout_seconds: float, poll_seconds: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_seconds
    status = "unknown"
    while time.monotonic() < deadline:
        row = live_row()
        status = row.get("Status", "unknown")
        if status.lower() == "running":
            return row.get("Version", "")
        time.sleep(poll_seconds)
    raise AgentCommandError(f"agent not running after {timeout_seconds:.0f} s (last status: {status})")


def rollback(to_version: str) -> str:
    current = live_row().get("Version", "")
    if current == to_version:
        return f"live version is already {to_version}: nothing to roll back"
    lk("rollback", "--version", to_version)
    return f"rolled back from {current or 'unknown'} to {to_version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("write-config", help="write livekit.toml for this environment")
    commands.add_parser("version", help="print version=<live version>")
    waiting = commands.add_parser("wait-running", help="wait until the deployment reports Running")
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
            print(f"version={live_row().get('Version', '')}")
        elif args.command == "wait-running":
            print(f"agent running, version {wait_running(args.timeout)}")
        else:
            print(rollback(args.to))
    except (AgentCommandError, OSError, subprocess.TimeoutExpired) as error:
        print(f"{args.command} FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

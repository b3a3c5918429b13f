"""Write the agent's secrets file for `lk agent deploy --secrets-file`, and the LiveKit CLI's credentials.

Reads Secrets Manager ARNs (never values) from the environment: SECRET_ARNS (JSON, env name -> ARN),
APP_DB_SECRET_ARN (the agent's own database role), DATABASE_HOST, DATABASE_PORT, DB_NAME, and AGENT_SETTINGS
(JSON, the agent's non-secret settings). The values are read here, at deploy time: provider keys exist only in
Secrets Manager, where the operator put them. Both files are created with mode 0600; deploy_agent.sh removes
them when it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from infra.scripts.database_url import build_url
from infra.secret_store import AGENT_SECRETS, LOG_DRAIN_REGION_VARIABLE, LOG_DRAIN_SECRETS, Source

LIVEKIT_CREDENTIALS = tuple(s.env_name for s in AGENT_SECRETS if s.injected_by_livekit)


class MissingValueError(Exception):
    """A secret's container exists but nobody has put its value yet."""


def agent_environment(
    env: dict[str, str], fetch: Callable[[str], str], *, region: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(variables for the agent's secrets file, LiveKit CLI credentials)."""
    arns: dict[str, str] = json.loads(env["SECRET_ARNS"])
    agent = dict(json.loads(env.get("AGENT_SETTINGS", "{}")))
    values: dict[str, str] = {}
    for secret in AGENT_SECRETS:
        if secret.source is Source.DEPLOY or (secret in LOG_DRAIN_SECRETS and secret.env_name not in arns):
            continue
        if secret.env_name not in arns:
            raise ValueError(f"no Secrets Manager ARN for {secret.env_name}")
        value = fetch(arns[secret.env_name])
        # An operator typing a key and Enter, Ctrl-D (`--secret-string file:///dev/stdin`) stores a line break.
        values[secret.env_name] = value.rstrip("\r\n") if secret.source is Source.OPERATOR else value
        if not secret.injected_by_livekit:
            agent[secret.env_name] = values[secret.env_name]
    if all(s.env_name in arns for s in LOG_DRAIN_SECRETS):
        # The drain writes to the log group in the stack's region (LiveKit's default would be us-west-2).
        agent[LOG_DRAIN_REGION_VARIABLE] = region
    agent["DATABASE_URL"] = build_url(
        fetch(env["APP_DB_SECRET_ARN"]), env["DATABASE_HOST"], int(env["DATABASE_PORT"]), env["DB_NAME"]
    )
    for name, value in agent.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{name} contains a line break, which a secrets file cannot carry")
    return agent, {name: values[name] for name in LIVEKIT_CREDENTIALS}


def secrets_manager_reader(client: object) -> Callable[[str], str]:
    """Read one secret's current value; a container without a value names the command that fills it."""

    def fetch(arn: str) -> str:
        try:
            return client.get_secret_value(SecretId=arn)["SecretString"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            raise MissingValueError(
                f"{arn} has no value (or does not exist): put it with `aws secretsmanager put-secret-value "
                f"--secret-id {arn} --secret-string file:///dev/stdin` (docs/deployment.md, section 4)"
            ) from None

    return fetch


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", required=True)
    parser.add_argument("--secrets-file", type=Path, required=True)
    parser.add_argument("--cli-env", type=Path, required=True)
    args = parser.parse_args(argv)
    client = boto3.client("secretsmanager", region_name=args.region)
    try:
        agent, credentials = agent_environment(dict(os.environ), secrets_manager_reader(client), region=args.region)
    except (ValueError, KeyError, MissingValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _write_private(args.secrets_file, "".join(f"{name}={value}\n" for name, value in sorted(agent.items())))
    _write_private(args.cli_env, "".join(f"{name}={shlex.quote(value)}\n" for name, value in credentials.items()))
    print(f"secrets file: {len(agent)} variables: {', '.join(sorted(agent))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Print a PostgreSQL URL built from an RDS-managed secret (JSON with username and password).

Used by migrate.sh and agent_secrets.py so that the password goes from Secrets Manager straight into the
process that needs it: never into Pulumi state, the command line or a log. `update_login` is the command line
app_role.py and console_role.py share.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from urllib.parse import quote

import boto3
import psycopg

from agent.db.connect import ConnectionSetupError, connect, connection_params, one_line
from agent.settings import DatabaseSettings, SettingsError, load


def build_url(secret_string: str, host: str, port: int, dbname: str) -> str:
    try:
        secret = json.loads(secret_string)
        user, password = secret["username"], secret["password"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError("the database secret is not JSON with username and password") from None
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(dbname, safe='')}"


def fetch(secret_arn: str, region: str) -> str:
    client = boto3.client("secretsmanager", region_name=region)
    return client.get_secret_value(SecretId=secret_arn)["SecretString"]


def update_login(
    label: str,
    ensure: Callable[[psycopg.Connection, str, str], None],
    argv: list[str] | None,
    *,
    description: str,
    refusals: tuple[type[Exception], ...] = (),
) -> int:
    """The role scripts' command line: read the login's secret (--secret-arn, --region), connect as migrate.sh
    does (DATABASE_URL and its TLS settings), run `ensure(conn, username, password)`; one line either way."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--secret-arn", required=True)
    parser.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    try:
        secret = json.loads(fetch(args.secret_arn, args.region))
        with connect(connection_params(load(DatabaseSettings))) as conn:
            ensure(conn, secret["username"], secret["password"])
    except (SettingsError, ConnectionSetupError, psycopg.Error, KeyError, json.JSONDecodeError, *refusals) as error:
        print(f"{label}: {one_line(error)}", file=sys.stderr)
        return 2
    print(f"{label}: {secret['username']} is up to date", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secret-arn", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dbname", required=True)
    args = parser.parse_args(argv)
    try:
        url = build_url(fetch(args.secret_arn, args.region), args.host, args.port, args.dbname)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

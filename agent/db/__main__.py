"""`python -m agent.db <apply|rollback|status|verify|seed>`: the operator's database command.

Reads DATABASE_URL and APP_ENV (plus DATABASE_CA_FILE / DATABASE_TLS_SERVER_NAME outside dev).
Exit codes: 0 done (or schema identical), 1 verify found differences, 2 could not run (configuration,
connection, refused). Errors are one line on stderr, never a traceback, never the password.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
from yoyo import exceptions as yoyo_exceptions

from agent.db import migrations, seed, verify
from agent.db.connect import ConnectionSetupError, connection_params, describe, one_line
from agent.settings import DatabaseSettings, Environment, SettingsError, load

EXIT_DIFFERENCES = 1
EXIT_FAILED = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent.db", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("apply", help="apply pending migrations (idempotent)")
    rollback = commands.add_parser("rollback", help="revert the latest applied migrations")
    how_many = rollback.add_mutually_exclusive_group()
    how_many.add_argument("--steps", type=int, default=1, help="how many migrations to revert (default 1)")
    how_many.add_argument("--all", action="store_true", help="revert every applied migration (drops every table)")
    rollback.add_argument(
        "--yes-drop-everything",
        action="store_true",
        help="confirm --all outside APP_ENV=dev, where it deletes every table and all their data",
    )
    commands.add_parser("status", help="list applied and pending migrations")
    commands.add_parser("verify", help="compare the live schema with the migrations' schema")
    commands.add_parser("seed", help="load synthetic data (refused when APP_ENV=prod)")
    return parser


def _apply(params: dict[str, str], target: str, args: argparse.Namespace, settings: DatabaseSettings) -> int:
    applied = migrations.apply(params)
    for migration_id in applied:
        print(f"applied {migration_id}")
    if not applied:
        print(f"nothing to apply: {target} is up to date")
    return 0


def _rollback(params: dict[str, str], target: str, args: argparse.Namespace, settings: DatabaseSettings) -> int:
    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    reverted = migrations.rollback(params, None if args.all else args.steps)
    for migration_id in reverted:
        print(f"rolled back {migration_id}")
    if not reverted:
        print(f"nothing to roll back: no migration is applied on {target}")
    return 0


def _status(params: dict[str, str], target: str, args: argparse.Namespace, settings: DatabaseSettings) -> int:
    state = migrations.status(params)
    print(f"database {target}")
    for applied in state.applied:
        print(f"applied  {applied.id}  ({applied.applied_at:%Y-%m-%d %H:%M:%S} UTC)")
    for migration_id in state.pending:
        print(f"pending  {migration_id}")
    for migration_id in state.unknown:
        print(f"unknown  {migration_id}  (applied, but not in migrations/)")
    return 0


def _verify(params: dict[str, str], target: str, args: argparse.Namespace, settings: DatabaseSettings) -> int:
    differences = verify.verify(params)
    for line in differences:
        print(line)
    if differences:
        print(f"{len(differences)} difference(s) between {target} and the migrations", file=sys.stderr)
        return EXIT_DIFFERENCES
    print(f"schema of {target} matches the migrations")
    return 0


def _seed(params: dict[str, str], target: str, args: argparse.Namespace, settings: DatabaseSettings) -> int:
    today = datetime.now(ZoneInfo(settings.hospital_timezone)).date()
    report = seed.seed(
        params,
        environment=settings.app_env.value,
        today=today,
        timezone=settings.hospital_timezone,
        slot_minutes=settings.slot_minutes,
    )
    counts = ", ".join(f"{count} {table}" for table, count in report.counts.items())
    if report.already_seeded:
        print(f"already seeded, nothing changed: {target} holds {counts}")
    else:
        print(f"seeded {target}: {counts}")
    return 0


COMMANDS = {"apply": _apply, "rollback": _rollback, "status": _status, "verify": _verify, "seed": _seed}


class RollbackRefused(Exception):
    """`rollback --all` outside dev without its confirmation; nothing was touched."""


def run(args: argparse.Namespace, settings: DatabaseSettings) -> int:
    if args.command == "seed" and settings.app_env.value == "prod":
        # Refuse before connecting: nothing in prod is ever touched by the seed.
        raise seed.SeedRefused("seed data is never loaded in prod (APP_ENV=prod); nothing was changed")
    if (
        args.command == "rollback"
        and args.all
        and settings.app_env is not Environment.DEV
        and not args.yes_drop_everything
    ):
        raise RollbackRefused(
            f"--all drops every table and all its data in APP_ENV={settings.app_env.value}; nothing was changed. "
            "To do it anyway, add --yes-drop-everything"
        )
    params = connection_params(settings)
    return COMMANDS[args.command](params, describe(params), args, settings)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load(DatabaseSettings)
        return run(args, settings)
    except SettingsError as error:
        problems = "; ".join(line.strip() for line in str(error).splitlines()[1:])
        message = f"configuration: {problems}"
    except (ConnectionSetupError, seed.SeedRefused, RollbackRefused, verify.VerifyImpossible, ValueError) as error:
        message = str(error)
    except psycopg.OperationalError as error:
        message = f"cannot reach the database: {one_line(error)}"
    except psycopg.Error as error:
        message = f"database error: {one_line(error)}"
    except yoyo_exceptions.LockTimeout as error:
        message = f"migrations are locked by another process: {one_line(error)}"
    except yoyo_exceptions.BadMigration as error:
        message = f"bad migration file: {one_line(error)}"
    print(f"agent.db {args.command}: {message}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

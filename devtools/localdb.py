"""`python -m devtools.localdb start|stop|url`: the local PostgreSQL 16 of `make dev` (`make db-start`,
`make db-stop`, `make db-url`).

The server comes from the `pgserver` wheel (a dev requirement), keeps its data in `.data/postgres/` and listens
on a Unix socket in that directory only (no TCP port). Once started it keeps running, across `make dev` runs
and after the worker exits, until `stop`: its URL stays valid, in a shell or in `.env`.

    export DATABASE_URL="$(.venv/bin/python -m devtools.localdb url)"
    .venv/bin/python -m agent.db status
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import psycopg
from psycopg import sql

DATA_DIR = Path(".data") / "postgres"
DATABASE_NAME = "hospital"
STOP_SECONDS = 30.0

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); pgserver then uses /tmp, which is fine.
    warnings.simplefilter("ignore")
    import pgserver
    from pgserver.utils import PostmasterInfo


class NotRunning(Exception):
    """The local database is not running; the message says how to start it."""


def _running(data_dir: Path) -> PostmasterInfo | None:
    info = PostmasterInfo.read_from_pgdata(data_dir.resolve()) if data_dir.is_dir() else None
    return info if info is not None and info.is_running() else None


def start(data_dir: Path = DATA_DIR) -> tuple[str, str]:
    """Start the server (or find it running), create the hospital database: its URL, and what happened."""
    if _running(data_dir) is not None:
        state = "already running"
    else:
        state = "started" if (data_dir / "PG_VERSION").exists() else "created and started"
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process (and the worker that replaces it) until `stop`.
    server = pgserver.get_server(data_dir.resolve(), cleanup_mode=None)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
    url = server.get_uri(DATABASE_NAME)
    # pgserver counts the processes using the server in a file; this one is done with it now (a worker that
    # replaces it with exec would otherwise stay listed under this pid).
    server.cleanup()
    return url, state


def url(data_dir: Path = DATA_DIR) -> str:
    info = _running(data_dir)
    if info is None:
        raise NotRunning(f"the local database in {data_dir}/ is not running: start it with `make db-start`")
    return info.get_uri(database=DATABASE_NAME)


def stop(data_dir: Path = DATA_DIR) -> bool:
    """Fast shutdown (connections closed, no recovery needed at next start); False when it was not running."""
    info = _running(data_dir)
    if info is None:
        return False
    info.process.send_signal(signal.SIGINT)
    try:
        info.process.wait(STOP_SECONDS)
    except psutil.TimeoutExpired:
        info.process.kill()
    return True


def is_local(database_url: str, data_dir: Path = DATA_DIR) -> bool:
    """Does this URL name the local server? Its socket is in the data directory, or, when that path is too long
    for a socket, in pgserver's runtime directory."""
    hosts = parse_qs(urlsplit(database_url).query).get("host", [])
    if not hosts:
        return False
    socket_dir = Path(hosts[0]).resolve()
    return socket_dir == data_dir.resolve() or socket_dir.parent == pgserver.PostgresServer.runtime_path.resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.localdb", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "url"])
    args = parser.parse_args(argv)
    if args.command == "start":
        address, state = start()
        print(f"local PostgreSQL 16 {state}, data in {DATA_DIR}/ (stop it with `make db-stop`)", file=sys.stderr)
        print(address)
    elif args.command == "stop":
        print("local PostgreSQL stopped" if stop() else f"the local database in {DATA_DIR}/ was not running")
    else:
        try:
            print(url())
        except NotRunning as error:
            print(f"localdb url: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The seeded PostgreSQL `make eval` talks to: a throwaway server (devtools/testing/postgres.py, as the tests use),
migrated and seeded once, copied per scenario so no scenario sees another's bookings."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from psycopg.conninfo import conninfo_to_dict

from agent.db import migrations, seed
from devtools.testing.postgres import PostgresServer, debian_bin_dir, pgserver_bin_dir


class NoPostgres(Exception):
    """Neither Debian's PostgreSQL nor the pgserver wheel is installed."""


@contextmanager
def seeded_databases(timezone: str) -> Iterator[Callable[[], str]]:
    """Yields a function returning the URL of a new copy of the migrated and seeded database."""
    bin_dir = debian_bin_dir() or pgserver_bin_dir()
    if bin_dir is None:
        raise NoPostgres("needs PostgreSQL: Debian's package 'postgresql', or the pgserver wheel `make test` installs")
    server = PostgresServer(root=Path(tempfile.mkdtemp(prefix="eval-postgres-")), bin_dir=bin_dir).init().start()
    try:
        template = f"eval_template_{uuid.uuid4().hex[:8]}"
        server.execute(f"CREATE DATABASE {template}")
        params = conninfo_to_dict(server.dsn(template))
        migrations.apply(params)
        # The Monday after today, as the tests seed: every seeded shift is in the future, the week always alike.
        today = datetime.now(ZoneInfo(timezone)).date()
        seed.seed(params, environment="dev", today=today + timedelta(days=7 - today.weekday()), timezone=timezone)

        def fresh() -> str:
            name = f"eval_{uuid.uuid4().hex[:12]}"
            server.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
            return server.dsn(name)

        yield fresh
    finally:
        server.destroy()

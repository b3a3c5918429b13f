"""The console's database connections: a small psycopg pool per process, TLS as the agent's (agent/db/connect.py).

Synchronous on purpose: Streamlit runs each session's script in its own thread, and a sync pool is safe to share
across them (an asyncpg pool bound to one event loop is not). Statements are plain text or the migrations'
functions; nothing sets session state, so the pool works through RDS Proxy without pinning.
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from agent.db.connect import connection_params
from console.settings import ConsoleSettings

APPLICATION_NAME = "hospital-console"
POOL_MAX_SIZE = 4


def open_pool(settings: ConsoleSettings) -> ConnectionPool:
    params = {**connection_params(settings), "application_name": APPLICATION_NAME}
    if settings.console_database_role:
        # A startup parameter, not a SET: every connection starts as the role, and a reset can't drop it.
        params["options"] = f"-c role={settings.console_database_role}"
    return ConnectionPool(
        conninfo="",
        kwargs=params,
        min_size=1,
        max_size=POOL_MAX_SIZE,
        timeout=settings.database_timeout_seconds,
        name="console",
        open=True,
    )

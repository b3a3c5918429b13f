"""The asyncpg pool the data layer runs on: safe behind RDS Proxy and PgBouncer, TLS verify-full outside dev.

Pooler safety. RDS Proxy and PgBouncer (transaction mode) hand each transaction to whichever server
connection is free, so nothing may outlive a transaction: no `SET`, no advisory locks, no `LISTEN`, no temp
tables, no named prepared statements (RDS Proxy pins the session for them; PgBouncer 1.18 loses them).
asyncpg's default pool reset runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every
release, which pins nearly every connection behind RDS Proxy (asyncpg issue 1153); we use none of that
state, so `_no_session_state_reset` replaces it (asyncpg still rolls back an unfinished transaction itself).
The statement cache comes from DATABASE_STATEMENT_CACHE_SIZE: 0 behind a pooler (asyncpg then uses the
unnamed statement only), larger on a direct connection.

Pool sizing for LiveKit's process-per-job model. Every call (job) runs in its own process with its own pool,
so the clients the proxy (or database) sees = concurrent calls x DATABASE_POOL_MAX_SIZE at most. A call makes
a data call every few seconds and each holds a connection for 1-3 ms, so one connection per call is plenty;
the default of 4 leaves room for the agent's parallel tool calls. The pool opens one connection at start
(`min_size=1`, so the first tool call pays no connect) and closes idle ones after 5 minutes.
Rule: behind RDS Proxy (staging, prod), size the proxy's client side for calls x max size (50 calls x 4 = 200)
and let it multiplex onto few database connections: work in flight = operations/s x time per operation, e.g.
250 ops/s x 2 ms = 0.5 connections busy on average (`make bench`: 50 clients through PgBouncer on 10 server
connections carry that load). On a direct connection (dev), keep calls x max size below the server's
max_connections minus its reserved slots.
"""

from __future__ import annotations

import ssl
from typing import Any

import asyncpg

from agent.settings import DatabaseSettings, Environment

IDLE_CONNECTION_LIFETIME_SECONDS = 300.0


class ServerNameSSLContext(ssl.SSLContext):
    """Verifies the server certificate against a fixed name instead of the host dialled.

    LiveKit Cloud reaches RDS Proxy through a Private Link `*.link` host name that the proxy's certificate
    does not carry; the chain is still verified and the name checked is the proxy's own.
    """

    verify_name: str

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        # asyncio (and so asyncpg) does TLS through memory BIOs; this is where the checked name is set.
        return super().wrap_bio(incoming, outgoing, server_side, self.verify_name, session)


def tls_context(settings: DatabaseSettings) -> ssl.SSLContext | None:
    """verify-full TLS when a root certificate is configured (always, outside dev); None means plain is allowed."""
    if settings.database_ca_file is None:
        if settings.app_env is not Environment.DEV:
            raise ValueError("DATABASE_CA_FILE is required outside dev (TLS verify-full to the database)")
        return None
    context_class = ServerNameSSLContext if settings.database_tls_server_name else ssl.SSLContext
    context = context_class(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname on
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(settings.database_ca_file))
    if isinstance(context, ServerNameSSLContext):
        context.verify_name = settings.database_tls_server_name
    return context


async def _no_session_state_reset(connection: asyncpg.Connection) -> None:
    """We keep no session state, so a released connection needs no reset query (see module docstring)."""


async def create_pool(settings: DatabaseSettings, **overrides: Any) -> asyncpg.Pool:
    """Open the pool for one job process. `overrides` go to `asyncpg.create_pool` (tests, benchmarks)."""
    options: dict[str, Any] = {
        "dsn": settings.database_url.get_secret_value(),
        "min_size": 1,
        "max_size": settings.database_pool_max_size,
        "max_inactive_connection_lifetime": IDLE_CONNECTION_LIFETIME_SECONDS,
        "statement_cache_size": settings.database_statement_cache_size,
        "timeout": settings.database_timeout_seconds,
        "command_timeout": settings.database_timeout_seconds,
        "reset": _no_session_state_reset,
    }
    context = tls_context(settings)
    if context is not None:
        options["ssl"] = context
    options.update(overrides)
    options["min_size"] = min(options["min_size"], options["max_size"])
    return await asyncpg.create_pool(**options)

"""Synchronous connection parameters (psycopg 3 / libpq) for the database command, yoyo and the seed.

Outside dev the connection is always TLS `verify-full` against DATABASE_CA_FILE, whatever the URL says.
When DATABASE_TLS_SERVER_NAME is set (a Private Link `*.link` host in front of RDS Proxy), libpq dials the
URL host's IP address (`hostaddr`) but checks the certificate against that name (`host`).
"""

from __future__ import annotations

import math
import socket
from collections.abc import Mapping

import psycopg
from psycopg.conninfo import conninfo_to_dict

from agent.settings import DatabaseSettings, Environment

APPLICATION_NAME = "hospital-db-command"


class ConnectionSetupError(Exception):
    """The URL can't be turned into connection parameters (e.g. its host does not resolve)."""


def connection_params(settings: DatabaseSettings) -> dict[str, str]:
    """libpq keyword parameters for the configured database."""
    try:
        params = {key: str(value) for key, value in conninfo_to_dict(settings.database_url.get_secret_value()).items()}
    except psycopg.ProgrammingError as error:
        raise ConnectionSetupError("DATABASE_URL is not a valid PostgreSQL URL") from error
    if settings.app_env is not Environment.DEV:
        params["sslmode"] = "verify-full"
        params["sslrootcert"] = str(settings.database_ca_file)
    elif settings.database_ca_file is not None:
        params.setdefault("sslmode", "verify-full")
        params.setdefault("sslrootcert", str(settings.database_ca_file))
    if settings.database_tls_server_name:
        params["hostaddr"] = _resolve(params.get("host", ""), params.get("port", "5432"))
        params["host"] = settings.database_tls_server_name
    params.setdefault("connect_timeout", str(max(2, math.ceil(settings.database_timeout_seconds))))
    params.setdefault("application_name", APPLICATION_NAME)
    return params


def _resolve(host: str, port: str) -> str:
    if not host or host.startswith("/") or "," in host:
        raise ConnectionSetupError("DATABASE_TLS_SERVER_NAME needs a single network host in DATABASE_URL")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError) as error:
        raise ConnectionSetupError(f"cannot resolve database host {host!r}: {error}") from error
    return str(infos[0][4][0])


def for_database(params: Mapping[str, str], dbname: str) -> dict[str, str]:
    """The same server and credentials, another database."""
    return {**params, "dbname": dbname}


def connect(params: Mapping[str, str], *, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(**params, autocommit=autocommit)


def describe(params: Mapping[str, str]) -> str:
    """Where we connect, as a URL without the password (safe to print)."""
    host = params.get("host", "")
    user = params.get("user", "")
    dbname = params.get("dbname", "")
    if host.startswith("/"):
        return f"postgresql://{user}@/{dbname}?host={host}"
    port = params.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{dbname}"


def one_line(error: BaseException) -> str:
    """A driver error as one line: libpq messages span several lines and may repeat per address."""
    text = " ".join(str(error).split())
    return text or type(error).__name__

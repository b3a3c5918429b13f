"""A throwaway PgBouncer (Debian package) in transaction mode in front of a test PostgreSQL.

It stands in for RDS Proxy's connection multiplexing: transactions of one client land on different server
connections, so anything that relies on session state breaks here too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.testing.postgres import PostgresServer, free_port, give_to_service_user, run_as_service_user

PGBOUNCER_HINT = "Debian package 'pgbouncer' (apt-get install pgbouncer)"


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer")
    if found:
        return found
    return "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None


@dataclass
class PgBouncer:
    """PgBouncer on 127.0.0.1:`port` forwarding every database to `target`."""

    root: Path
    target: PostgresServer
    pool_size: int = 10
    pool_mode: str = "transaction"
    port: int = field(default_factory=free_port)

    @property
    def pid_file(self) -> Path:
        return self.root / "pgbouncer.pid"

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 10.0) -> PgBouncer:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError(f"needs the {PGBOUNCER_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.root / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.target.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            f"pool_mode = {self.pool_mode}\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
            f"pidfile = {self.pid_file}\n"
        )
        give_to_service_user(self.root)  # PgBouncer refuses to run as root
        run_as_service_user([binary, "-d", str(ini)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("PgBouncer did not start listening; see pgbouncer.log")

    def stop(self) -> None:
        """Stop the daemon this object started (by its pid file) and remove its files."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            pid = None
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while self.pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

"""Throwaway PostgreSQL servers for tests: a real server per test session, never the developer's one.

Prefers Debian's PostgreSQL (built with OpenSSL, so TLS tests can run); falls back to the binaries of the
`pgserver` wheel for everything that needs no TLS. As root, the server runs as an unprivileged user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DEBIAN_PACKAGE_HINT = "Debian package 'postgresql' (apt-get install postgresql)"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_os_package(available: bool, hint: str) -> None:
    """Skip a test that needs an OS package, saying which; in CI, fail instead of skipping."""
    if available:
        return
    message = f"needs the {hint}"
    if in_ci():
        pytest.fail(f"{message}: CI installs it in .ci/run, so its absence is a setup error")
    pytest.skip(message)


def debian_bin_dir() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def pgserver_bin_dir() -> Path | None:
    """The binaries in the `pgserver` wheel (a dev requirement), when the wheel ships them for this platform."""
    import pgserver

    path = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_user() -> str | None:
    """The user servers run as when we are root (PostgreSQL and PgBouncer refuse root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root but no 'postgres' or 'nobody' user to run servers as")


def run_as_service_user(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = _service_user()
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def give_to_service_user(path: Path) -> None:
    user = _service_user()
    if user:
        shutil.chown(path, user)
        for child in path.rglob("*"):
            shutil.chown(child, user)


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in `root`, listening on 127.0.0.1:`port` and a socket in `root`."""

    root: Path
    bin_dir: Path
    port: int = field(default_factory=free_port)
    settings: dict[str, str] = field(default_factory=dict)
    hba: list[str] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def dsn(self, database: str = "postgres", user: str = "postgres", host: str = "127.0.0.1", **params: str) -> str:
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return f"postgresql://{user}@{host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def init(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        give_to_service_user(self.root)
        run_as_service_user(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "timezone": "'UTC'",
            **self.settings,
        }
        with (self.data_dir / "postgresql.conf").open("a") as handle:
            handle.writelines(f"{key} = {value}\n" for key, value in conf.items())
        if self.hba is not None:
            (self.data_dir / "pg_hba.conf").write_text("\n".join(self.hba) + "\n")
        give_to_service_user(self.root)
        return self

    def start(self) -> PostgresServer:
        run_as_service_user(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "30",
                "start",
            ]
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        run_as_service_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def restart(self, pause: float = 0.0) -> None:
        self.stop("immediate")
        time.sleep(pause)
        self.start()

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.is_running():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql)

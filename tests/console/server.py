"""`python -m console` as a real server for the tests: started on a free loopback port, stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from devtools.testing.postgres import free_port

ROOT = Path(__file__).parents[2]
START_TIMEOUT = 60.0


@contextlib.contextmanager
def running_console(database_url: str, **env: str) -> Iterator[str]:
    """The console's URL while it runs against `database_url` (dev sign-in, the hospital_console role)."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_ENV": "dev",
        "CONSOLE_AUTH": "dev",
        "CONSOLE_DATABASE_ROLE": "hospital_console",
        "CONSOLE_PORT": str(port),
        "HOSPITAL_TIMEZONE": "America/New_York",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "console"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = process.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}"
        assert first == f"console: {url}", first
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310
                    if response.read() == b"ok":
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the console did not start: {process.stdout.read()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

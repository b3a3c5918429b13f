"""The LiveKit browser client the console ships, built once per test run with `make console-client` (npm ci)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from console import talk
from tests.console.server import ROOT
from tests.support.postgres import require_os_package


@pytest.fixture(scope="session")
def livekit_client() -> str:
    """The bundle's path, built from console/web/package-lock.json when it is missing or older than the lock."""
    require_os_package(shutil.which("npm") is not None, "Debian package 'npm' (apt-get install npm)")
    built = subprocess.run(
        ["make", "--no-print-directory", "console-client"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return str(talk.CLIENT_FILE)

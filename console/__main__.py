"""`python -m console`: run the staff console (Streamlit) with its security settings, printing its URL.

dev (CONSOLE_AUTH=dev): on 127.0.0.1 only, answering only to loopback host names, so the local sign-in can't be
reached from another machine (or a rebinding DNS name). alb: on all interfaces of the container, behind the load
balancer that authenticates staff and terminates HTTPS. Exits 2 with one line when the settings don't load.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agent.settings import SettingsError, load
from console.settings import ConsoleSettings

APP = Path(__file__).parent / "app.py"
LOOPBACK = "127.0.0.1"


def streamlit_flags(settings: ConsoleSettings) -> list[str]:
    """Streamlit's options, as command-line flags: the one place they are set."""
    dev = settings.console_auth == "dev"
    flags = {
        "server.address": LOOPBACK if dev else "0.0.0.0",  # noqa: S104 - in its container, behind the ALB only
        "server.port": str(settings.console_port),
        "server.headless": "true",
        "server.enableXsrfProtection": "true",
        "server.enableCORS": "true",
        "server.enableAgentApi": "false",
        "server.fileWatcherType": "none",
        "server.runOnSave": "false",
        "server.maxUploadSize": "1",
        # console/static/ (the LiveKit browser client the Talk page loads) at /app/static/.
        "server.enableStaticServing": "true",
        # Session state survives a dropped WebSocket this long (a reconnect), not longer.
        "server.disconnectedSessionTTL": "60",
        "browser.gatherUsageStats": "false",
        "client.showErrorDetails": "none",
        "client.toolbarMode": "minimal",
        "global.developmentMode": "false",
        "runner.magicEnabled": "false",
    }
    argv = [f"--{name}={value}" for name, value in flags.items()]
    if dev:
        argv += ["--server.allowedHosts=127.0.0.1", "--server.allowedHosts=localhost"]
    return argv


def url(settings: ConsoleSettings) -> str:
    if settings.console_auth == "dev":
        return f"http://{LOOPBACK}:{settings.console_port}"
    return f"port {settings.console_port} (reach it through the load balancer's HTTPS address)"


def command(settings: ConsoleSettings) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), *streamlit_flags(settings)]


def main() -> int:
    try:
        settings = load(ConsoleSettings)
        if settings.console_auth == "alb":
            settings.alb_trust  # noqa: B018 - refuses now, not at the first request, when the trust is incomplete
    except (SettingsError, ValueError) as error:
        print(f"console: {error}", file=sys.stderr)
        return 2
    print(f"console: {url(settings)}", flush=True)
    argv = command(settings)
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process with Streamlit's server
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

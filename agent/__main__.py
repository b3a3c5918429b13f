"""`python -m agent start|dev|console [--text]|connect|download-files|check|token`.

start, dev, console and connect hand over to LiveKit's CLI with our AgentServer; start and dev first
validate the settings (exit 2 with the list of problems) and run the start-up checks (exit 1 if one fails).
download-files fetches the turn detector's model files (run at image build). check and token belong to
agent.check and agent.token.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

USAGE = """usage: python -m agent COMMAND [options]

commands:
  start            run the worker (production)
  dev              run the worker in development mode
  console [--text] talk to the agent in this terminal (--text: keyboard only, needs only OPENAI_API_KEY)
  connect          join a room directly (--room NAME)
  download-files   download the turn detector's model files (done at image build)
  check            validate the configuration and check every service
  token            issue a join token for a test room
"""

WORKER_COMMANDS = {"start", "dev", "connect"}
# LiveKit's worker serves its health check here in production (`start`); dev mode picks a free port.
HEALTH_URL = "http://127.0.0.1:8081/"
# Console mode joins no LiveKit server, and in text mode hears and speaks nothing: these stand-ins let
# the settings load without keys that are not used. Real values in the environment win.
_CONSOLE_PLACEHOLDERS = {
    "LIVEKIT_URL": "ws://localhost:7880",
    "LIVEKIT_API_KEY": "console-unused",
    "LIVEKIT_API_SECRET": "console-unused",
}
_TEXT_CONSOLE_PLACEHOLDERS = {"DEEPGRAM_API_KEY": "text-console-unused", "CARTESIA_API_KEY": "text-console-unused"}


def _delegate(module: str, argv: list[str]) -> int:
    """Run another helper's command module, with a clear message while it does not exist yet."""
    try:
        main: Callable[[list[str]], int] = importlib.import_module(module).main
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        print(f"{module} is not installed in this build", file=sys.stderr)
        return 1
    return main(argv)


def _download_files() -> int:
    from livekit.agents.__main__ import main as livekit_main  # noqa: PLC0415 - heavy import, only here

    return livekit_main(["download-files"])


def _load_settings():
    from agent.settings import SettingsError, load  # noqa: PLC0415

    try:
        return load()
    except SettingsError as error:
        print(error, file=sys.stderr)
        sys.exit(2)


def _preflight(settings) -> bool:
    try:
        from agent.check import preflight  # noqa: PLC0415 - built by the ops helper
    except ImportError:
        print("start-up checks unavailable (agent.check missing); continuing without them", file=sys.stderr)
        return True
    return preflight(settings)


def _configure_logging(settings) -> None:
    try:
        from agent.logs import configure_logging  # noqa: PLC0415 - built by the ops helper
    except ImportError:
        return
    configure_logging(settings)


def _start_worker_telemetry(settings, *, health_url: str | None) -> None:
    """The worker process's heartbeat (sent while its health endpoint answers OK) and error count."""
    try:
        from agent.telemetry import start_worker_telemetry  # noqa: PLC0415 - built by the ops helper
    except ImportError:
        return
    start_worker_telemetry(settings, health_url=health_url)


def _run_worker(command: str, argv: list[str]) -> int:
    if command == "console":
        for name, value in _CONSOLE_PLACEHOLDERS.items():
            os.environ.setdefault(name, value)
        if "--text" in argv:
            for name, value in _TEXT_CONSOLE_PLACEHOLDERS.items():
                os.environ.setdefault(name, value)
    settings = _load_settings()
    if command in {"start", "dev"}:
        _configure_logging(settings)
        if not _preflight(settings):
            print("start-up checks failed; not starting (see the lines above)", file=sys.stderr)
            return 1
        _start_worker_telemetry(settings, health_url=HEALTH_URL if command == "start" else None)

    from livekit.agents import cli  # noqa: PLC0415 - importing the framework takes seconds

    from agent.worker import build_server  # noqa: PLC0415

    sys.argv = ["python -m agent", command, *argv]
    cli.run_app(build_server(settings))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "check":
        return _delegate("agent.check", rest)
    if command == "token":
        return _delegate("agent.token", rest)
    if command == "download-files":
        return _download_files()
    if command in WORKER_COMMANDS | {"console"}:
        return _run_worker(command, rest)
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""`python -m agent start|dev|console [--text]|connect|download-files|check|token`.

start, dev, console and connect hand over to LiveKit's CLI with our AgentServer; start and dev first
validate the settings (exit 2 with the list of problems) and run the start-up checks (exit 1 if one fails).
`console --text` is ours (agent/text_console.py): the keyboard, the model and the database, nothing else.
download-files fetches the turn detector's model files (run at image build). check and token belong to
agent.check and agent.token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

USAGE = """usage: python -m agent COMMAND [options]

commands:
  start            run the worker (production)
  dev              run the worker in development mode
  console [--text] talk to the agent in this terminal (--text: keyboard only, needs only OPENAI_API_KEY and
                   DATABASE_URL; without --text: microphone and speaker, needs PortAudio and every key)
  connect          join a room directly (--room NAME)
  download-files   download the turn detector's model files (done at image build)
  check            validate the configuration and check every service
  token            issue a join token for a test room
"""

CONSOLE_USAGE = """usage: python -m agent console [--text]

Talk to the receptionist in this terminal, against the database in DATABASE_URL.
  --text   type instead of speaking: needs only OPENAI_API_KEY (no LiveKit, no audio device, no speech keys)
           an empty line, `quit` or Ctrl-D ends it
Without --text, LiveKit's voice console: microphone and speaker through PortAudio, and every provider key.
"""
# Debian/Ubuntu package of the PortAudio library the voice console's `sounddevice` loads.
PORTAUDIO_PACKAGE = "libportaudio2"

WORKER_COMMANDS = {"start", "dev", "connect"}
# LiveKit's worker serves its health check here in production (`start`); dev mode picks a free port.
HEALTH_URL = "http://127.0.0.1:8081/"
# The voice console joins no LiveKit server: these stand-ins let the settings load without keys it does not use.
# Real values in the environment win.
_CONSOLE_PLACEHOLDERS = {
    "LIVEKIT_URL": "ws://localhost:7880",
    "LIVEKIT_API_KEY": "console-unused",
    "LIVEKIT_API_SECRET": "console-unused",
}


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


def _audio_missing() -> str | None:
    """Why the voice console can't open the microphone and speaker, in one line; None when it can."""
    try:
        import sounddevice  # noqa: F401, PLC0415 - loads the PortAudio library, only for the voice console
    except OSError:
        return (
            f"the voice console needs the PortAudio library: sudo apt-get install {PORTAUDIO_PACKAGE} "
            "(or type instead: python -m agent console --text)"
        )
    return None


def _text_console() -> int:
    from agent import text_console  # noqa: PLC0415 - importing the framework takes seconds

    text_console.use_placeholders()
    settings = _load_settings()
    from agent.logs import configure_logging  # noqa: PLC0415

    # Warnings and errors only, on stderr: the conversation owns stdout.
    configure_logging(settings, stream=sys.stderr, level="WARNING")
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the conversation like Ctrl-D
            asyncio.run(text_console.converse(settings))
    except text_console.DatabaseUnreachable as error:
        print(f"console: {error}", file=sys.stderr)
        return 2
    return 0


def _console(argv: list[str]) -> int:
    if {"-h", "--help"} & set(argv):
        print(CONSOLE_USAGE)
        return 0
    unknown = [arg for arg in argv if arg != "--text"]
    if unknown:
        print(f"console: unknown option {unknown[0]!r}\n\n{CONSOLE_USAGE}", file=sys.stderr)
        return 2
    if "--text" in argv:
        return _text_console()
    problem = _audio_missing()
    if problem:
        print(f"console: {problem}", file=sys.stderr)
        return 2
    for name, value in _CONSOLE_PLACEHOLDERS.items():
        os.environ.setdefault(name, value)
    return _run_worker("console", argv)


def _run_worker(command: str, argv: list[str]) -> int:
    settings = _load_settings()
    if command in {"start", "dev"}:
        from agent.check import preflight  # noqa: PLC0415 - the framework's imports take seconds
        from agent.logs import configure_logging  # noqa: PLC0415
        from agent.telemetry import start_worker_telemetry  # noqa: PLC0415

        configure_logging(settings)
        if not preflight(settings):
            print("start-up checks failed; not starting (see the lines above)", file=sys.stderr)
            return 1
        start_worker_telemetry(settings, health_url=HEALTH_URL if command == "start" else None)

    from livekit.agents import cli  # noqa: PLC0415 - importing the framework takes seconds

    from agent.worker import build_server  # noqa: PLC0415

    sys.argv = ["python -m agent", command, *argv]
    cli.run_app(build_server(settings))
    return 0


def _check(argv: list[str]) -> int:
    from agent.check import main as check  # noqa: PLC0415

    return check(argv)


def _token(argv: list[str]) -> int:
    from agent.token import main as token  # noqa: PLC0415

    return token(argv)


COMMANDS = {
    "check": _check,
    "token": _token,
    "download-files": lambda _argv: _download_files(),
    "console": _console,
    **{command: lambda argv, command=command: _run_worker(command, argv) for command in WORKER_COMMANDS},
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return COMMANDS[command](rest)


if __name__ == "__main__":
    sys.exit(main())

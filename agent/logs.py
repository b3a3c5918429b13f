"""JSON-lines logging on stdout, with the call's ids on every line and secrets scrubbed from every line.

Every platform (LiveKit Cloud log drains, Fly, Render, Railway) forwards stdout, so that is the one sink.
Lines carry ids, event kinds and timings, never what was said, names, birth dates or phone numbers.

How records travel in livekit-agents: each job (call) runs in its own process, whose root logger holds
only LiveKit's queue handler; the worker process receives those records and prints them with its handlers.
So the job process installs only our record factory (`install_record_factory`, done by `bind_call`): it
stamps the call's room and job id on each record and scrubs the message and traceback before the record
leaves the process. The worker process runs `configure_logging`, whose handler prints JSON lines, or, in dev on a
terminal, one human-readable line per record (`time level logger: message key=value ...`).

Scrubbing happens three times: (1) the record factory cleans the message, arguments and traceback of every
record the moment it is created, whichever handler prints it; (2) a filter on our handler cleans attributes
passed as `extra` (and records forwarded from job processes); (3) our formatter scrubs the finished line.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from agent.hospital.rules import PHONE_NUMBER_SHAPES
from agent.settings import DatabaseSettings, Settings

logger = logging.getLogger("agent")

REDACTED = "[REDACTED]"

# Shapes of credentials worth removing even when we were not told the value (one pattern: one pass per text).
_SHAPES = re.compile(
    "|".join(
        [
            r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",  # JWT (header.payload.signature)
            r"(?i:(?<=bearer )[A-Za-z0-9._~+/=-]{8,})",  # Authorization: Bearer ...
            r"(?i:(?<=token )[A-Za-z0-9._~+/=-]{16,})",  # Authorization: Token ... (Deepgram)
            r"\bsk[-_][A-Za-z0-9_-]{16,}",  # OpenAI sk-..., sk-proj-..., Cartesia sk_car_...
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",  # AWS access key ids
            r"\bAPI[A-Za-z0-9]{10,}\b",  # LiveKit API keys
            r"(?<=://)[^/\s:@\"']+:[^@\s\"']+(?=@)",  # user:password@ in URLs
            r"(?i:(?:(?<=\bpassword=)|(?<=sslpassword=))[^&\s\"'#]+)",  # ?password=... in URLs, password=... in DSNs
            r"\b[0-9a-f]{40}\b",  # 40-hex keys (Deepgram)
            PHONE_NUMBER_SHAPES,  # a caller's number, in a phone call's room name and SIP identity too
        ]
    )
)

# Attributes of a LogRecord that are not ours to clean (numbers, names the logging module sets itself).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_room: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_room", default=None)
_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_job_id", default=None)


class Redactor:
    """Removes configured secret values and credential shapes from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        # Also their JSON-escaped forms, since the last pass runs over a finished JSON line. Longest first, so a
        # secret that contains another is removed whole.
        forms = {form for secret in secrets if len(secret) >= 4 for form in (secret, json.dumps(secret)[1:-1])}
        self.secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _SHAPES.sub(REDACTED, text)


redact = Redactor()


def _clean_record(record: logging.LogRecord) -> None:
    """Render the message and traceback once, scrubbed, so no formatter can render the raw ones again."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the line
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact(message), None
    if record.exc_info:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class ContextFilter(logging.Filter):
    """Adds environment and call ids, and scrubs attributes given as `extra`."""

    def __init__(self, environment: str) -> None:
        super().__init__()
        self.environment = environment

    def filter(self, record: logging.LogRecord) -> bool:
        _clean_record(record)
        for key, value in list(vars(record).items()):
            if ".pii." in f".{key}":
                # LiveKit marks tool arguments, transcripts and DTMF digits `lk.pii.*`: patient data, never logged.
                delattr(record, key)
            elif key not in _STANDARD_ATTRIBUTES:
                setattr(record, key, _redact_value(value))
        record.environment = self.environment
        if getattr(record, "room", None) is None:
            record.room = getattr(record, "_call_room", None) or _room.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = getattr(record, "_call_job_id", None) or _job_id.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingTextFormatter(logging.Formatter):
    """For a developer's terminal: time, level, logger and message, then the call ids and `extra` fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES
            and key != "environment"
            and not key.startswith("_")
            and value is not None
        }
        if fields:
            first, newline, rest = line.partition("\n")
            line = first + " " + " ".join(f"{key}={value}" for key, value in fields.items()) + newline + rest
        return redact(line)


def human_readable(settings: DatabaseSettings | None, stream: Any) -> bool:
    """Readable lines only for a developer at a terminal; JSON everywhere else (platforms parse it)."""
    isatty = getattr(stream, "isatty", None)
    return settings is not None and settings.app_env.value == "dev" and callable(isatty) and isatty()


def _redacting_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _clean_record(record)
        # Private names: `extra={"room": ...}` must stay possible (logging refuses to overwrite attributes).
        record._call_room, record._call_job_id = _room.get(), _job_id.get()
        return record

    factory.redacting = True
    return factory


def install_record_factory(settings: DatabaseSettings | None = None) -> None:
    """Scrub and stamp every record of this process at creation; idempotent. Enough for a job process."""
    if settings is not None:
        redact.set_secrets(settings.secret_values())
    if not getattr(logging.getLogRecordFactory(), "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))


def configure_logging(
    settings: DatabaseSettings | None = None, *, stream: Any = None, level: str | None = None
) -> None:
    """JSON lines on stdout (or `stream`) for the whole process; safe to call more than once. In dev on a
    terminal, human-readable lines instead; both scrubbed the same way.

    Without settings (configuration failed to load) it still logs JSON, scrubbing credential shapes.
    """
    stream = sys.stdout if stream is None else stream
    level = level or (settings.log_level if isinstance(settings, Settings) else "INFO")
    environment = str(settings.app_env) if settings is not None else "unknown"
    install_record_factory(settings)

    handler = logging.StreamHandler(stream)
    handler.set_name("agent-json")
    handler.addFilter(ContextFilter(environment))
    if human_readable(settings, stream):
        handler.setFormatter(RedactingTextFormatter())
    else:
        handler.setFormatter(
            RedactingJsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger", "exc_info": "error_trace"},
                timestamp=True,
            )
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "agent-json"]:
        root.removeHandler(old)
    # First in line: its filter scrubs `extra` attributes in place before any later handler (LiveKit's) sees them.
    root.handlers.insert(0, handler)
    root.setLevel(level)


def take_over_stdout() -> None:
    """Remove the console handlers LiveKit's CLI added after `configure_logging`, so each line prints once.

    Call it from the worker once LiveKit's CLI has set up its logging (AgentServer's "worker_started" event).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        console = isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (
            sys.stdout,
            sys.stderr,
        )
        if console and handler.get_name() != "agent-json":
            root.removeHandler(handler)


@contextlib.contextmanager
def call_context(*, room: str, job_id: str) -> Iterator[None]:
    """Every line logged inside carries this call's room and job id."""
    room_token, job_token = _room.set(room), _job_id.set(job_id)
    try:
        yield
    finally:
        _room.reset(room_token)
        _job_id.reset(job_token)


def bind_call(*, room: str, job_id: str, settings: DatabaseSettings | None = None) -> None:
    """Like call_context, for a job process that serves one call for its whole life."""
    install_record_factory(settings)
    _room.set(room)
    _job_id.set(job_id)


def log_event(
    event: str,
    *,
    level: int = logging.INFO,
    duration_ms: float | None = None,
    error: BaseException | None = None,
    **fields: Any,
) -> None:
    """One structured interaction event; `fields` must be ids, counts, outcomes or timings, never words said.
    With `error`, the line carries its stack trace."""
    extra: dict[str, Any] = {"event": event, **fields}
    if duration_ms is not None:
        extra["duration_ms"] = round(duration_ms, 1)
    logger.log(level, event, extra=extra, exc_info=error)

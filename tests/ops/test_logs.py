"""Logs: one JSON object per line with the call's ids, and no secret on any line, tracebacks included."""

from __future__ import annotations

import io
import json
import logging

import pytest

from agent import logs
from agent.settings import DatabaseSettings, Settings, load
from tests.ops.conftest import FAKE_SECRETS

DB_PASSWORD = "db-Pa55word-0123"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYWxsZXItNyIsInZpZGVvIjp7fX0.c2lnbmF0dXJlLWJ5dGVz"
STRAY = {
    "jwt": JWT,
    "bearer": "Authorization: Bearer abcDEF0123456789ghiJKL",
    "deepgram_token": "Authorization: Token 89abcdef0123456789abcdef0123456789abcdef",
    "openai": "sk-fakestray0123456789abcdefABCDEF",
    "cartesia": "sk_car_stray0123456789abcdef",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "livekit_key": "APIstray12345678",
    "url_password": "postgresql://app:an0ther-Pa55@db.internal:5432/hospital",
}
LEAKS = [
    *FAKE_SECRETS.values(),
    DB_PASSWORD,
    JWT,
    "abcDEF0123456789ghiJKL",
    "89abcdef0123456789abcdef0123456789abcdef",
    "sk-fakestray0123456789abcdefABCDEF",
    "sk_car_stray0123456789abcdef",
    "AKIAIOSFODNN7EXAMPLE",
    "APIstray12345678",
    "an0ther-Pa55",
]


@pytest.fixture
def settings(clean_env) -> Settings:
    for name, value in FAKE_SECRETS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("LIVEKIT_URL", "ws://127.0.0.1:7880")
    clean_env.setenv("DATABASE_URL", f"postgresql://app:{DB_PASSWORD}@127.0.0.1:5432/hospital")
    clean_env.setenv("APP_ENV", "dev")
    return load(Settings)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _fail_with(secret: str) -> None:
    raise RuntimeError(f"provider said no to {secret}")


def test_every_line_is_json_with_ids_and_timing(settings, logging_restored, capsys):
    logs.configure_logging(settings)
    with logs.call_context(room="room-1", job_id="AJ_abc"):
        logs.log_event("tool_call", duration_ms=12.345, tool="find_slots", outcome="ok")
    logs.log_event("worker_ready")
    first, second = _lines(capsys.readouterr().out)
    assert first["event"] == "tool_call"
    assert first["duration_ms"] == 12.3
    assert (first["room"], first["job_id"], first["environment"], first["level"]) == ("room-1", "AJ_abc", "dev", "INFO")
    assert first["timestamp"].endswith("+00:00")
    assert (first["tool"], first["outcome"]) == ("find_slots", "ok")
    assert second["room"] is None
    assert second["job_id"] is None


def test_livekit_pii_fields_are_dropped(settings, logging_restored, capsys):
    logs.configure_logging(settings)
    logging.getLogger("livekit.agents").warning(
        "error parsing arguments", extra={"lk.pii.function_arguments": '{"full_name": "Maria Garcia"}', "tool": "x"}
    )
    (line,) = _lines(capsys.readouterr().out)
    assert "Maria" not in json.dumps(line)
    assert line["tool"] == "x"


def test_errors_carry_the_stack_trace_and_context(settings, logging_restored, capsys):
    logs.configure_logging(settings)
    try:
        _fail_with("nothing secret")
    except RuntimeError:
        logging.getLogger("agent.tools").exception("tool failed", extra={"event": "tool_error", "tool": "book"})
    (line,) = _lines(capsys.readouterr().out)
    assert line["level"] == "ERROR"
    assert "Traceback" in line["error_trace"]
    assert "_fail_with" in line["error_trace"]
    assert "RuntimeError: provider said no to nothing secret" in line["error_trace"]
    assert line["tool"] == "book"


def test_no_secret_survives_in_any_part_of_a_line(settings, logging_restored, capsys):
    # LiveKit's CLI adds its own stdout handler; the record factory must scrub its lines too, even when that
    # handler sees each record before ours does.
    foreign = io.StringIO()
    foreign_handler = logging.StreamHandler(foreign)
    foreign_handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.getLogger().addHandler(foreign_handler)
    logs.configure_logging(settings)

    log = logging.getLogger("livekit.plugins.test")
    everything = [*FAKE_SECRETS.values(), DB_PASSWORD, *STRAY.values()]
    for value in everything:
        log.info("message %s", value)
        log.info(f"formatted {value}")
        log.warning("extra", extra={"detail": value, "nested": {"deep": [value]}})
        try:
            _fail_with(value)
        except RuntimeError:
            log.exception("failed")
        try:
            try:
                _fail_with(value)
            except RuntimeError as inner:
                raise ValueError("wrapped") from inner
        except ValueError:
            log.error("chained", exc_info=True)
        log.info("stack", stack_info=True, extra={"value": value})

    out = capsys.readouterr().out
    assert len(_lines(out)) == 6 * len(everything)
    for text in (out, foreign.getvalue()):
        assert logs.REDACTED in text
        for leak in LEAKS:
            assert leak not in text, f"{leak[:6]}... leaked"
    assert "Traceback" in foreign.getvalue()


def test_redaction_keeps_ordinary_text():
    text = "booked appointment 42 for doctor 7 in 12.5 ms; token expires in 3600 s"
    assert logs.Redactor()(text) == text


def test_without_settings_logging_still_works_and_scrubs_shapes(logging_restored, capsys):
    logs.configure_logging(None)
    logging.getLogger("agent").error("configuration failed near %s", STRAY["openai"])
    (line,) = _lines(capsys.readouterr().out)
    assert line["environment"] == "unknown"
    assert STRAY["openai"] not in line["message"]


def test_configuring_twice_does_not_double_lines(settings, logging_restored, capsys):
    logs.configure_logging(settings)
    logs.configure_logging(settings)
    logs.log_event("once")
    assert len(_lines(capsys.readouterr().out)) == 1


def test_records_forwarded_from_a_job_process_keep_their_call_ids(settings, logging_restored, capsys):
    """LiveKit pickles a job process's records to the worker process, which prints them."""
    import contextvars
    import pickle

    def in_job_process() -> bytes:
        logs.bind_call(room="room-9", job_id="AJ_job9", settings=settings)
        record = logging.getLogger("agent.receptionist").makeRecord(
            "agent.receptionist",
            logging.INFO,
            __file__,
            1,
            "verified with %s",
            (FAKE_SECRETS["OPENAI_API_KEY"],),
            None,
            extra={"event": "tool_call"},
        )
        return pickle.dumps(record)

    logs.configure_logging(settings)
    forwarded = pickle.loads(contextvars.Context().run(in_job_process))  # noqa: S301 - our own bytes, as LiveKit does
    logging.getLogger(forwarded.name).handle(forwarded)
    (line,) = _lines(capsys.readouterr().out)
    assert (line["room"], line["job_id"], line["event"]) == ("room-9", "AJ_job9", "tool_call")
    assert FAKE_SECRETS["OPENAI_API_KEY"] not in line["message"]


def test_take_over_stdout_leaves_one_console_handler(settings, logging_restored, capsys):
    import sys

    logs.configure_logging(settings)
    logging.getLogger().addHandler(logging.StreamHandler(sys.stdout))  # what LiveKit's CLI adds
    logs.take_over_stdout()
    logs.log_event("once")
    assert len(capsys.readouterr().out.splitlines()) == 1


QUERY_URL_CREDENTIAL = "qp/Hidden+99"  # "/" and "+" are written percent-encoded in a URL
QUERY_URL = "postgresql://app@127.0.0.1:5432/hospital?sslmode=require&password=qp%2FHidden%2B99"


@pytest.mark.parametrize(
    "case",
    [
        (f"postgresql://app:{DB_PASSWORD}@127.0.0.1:5432/hospital", DB_PASSWORD, DB_PASSWORD),
        (QUERY_URL, QUERY_URL_CREDENTIAL, "qp%2FHidden%2B99"),
    ],
    ids=["user-info", "query-parameter"],
)
@pytest.mark.parametrize("kind", [DatabaseSettings, Settings])
@pytest.mark.usefixtures("settings", "logging_restored")
def test_the_database_password_is_registered_from_any_settings(capsys, clean_env, case, kind):
    """`python -m agent.db` configures logging with the database settings alone; the password may sit in the
    URL's user info or in its query string (libpq and asyncpg read both)."""
    database_url, password, written = case
    clean_env.setenv("DATABASE_URL", database_url)
    logs.configure_logging(load(kind))
    log = logging.getLogger("agent.db")
    log.error("connect failed, password %s", password)
    log.error("connect failed, as written %s", written)
    log.warning("url", extra={"url": database_url})
    out = capsys.readouterr().out
    assert len(_lines(out)) == 3
    for leak in (password, written):
        assert leak not in out, f"{leak[:4]}... leaked"


def test_a_password_query_parameter_is_scrubbed_without_being_told(logging_restored, capsys):
    logs.configure_logging(None)
    log = logging.getLogger("agent.db")
    log.error("could not connect to %s", "postgres://u@db.internal/hospital?password=Unknown-Pw-42&sslmode=require")
    log.error("dsn was %s", "host=db.internal user=u password=Other-Pw-43 sslpassword=Key-Pw-44 dbname=h")
    out = capsys.readouterr().out
    for leak in ("Unknown-Pw-42", "Other-Pw-43", "Key-Pw-44"):
        assert leak not in out
    assert "sslmode=require" in out
    assert "dbname=h" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _log_everything_through(settings: Settings, stream: io.StringIO) -> str:
    logs.configure_logging(settings, stream=stream)
    log = logging.getLogger("livekit.plugins.test")
    with logs.call_context(room="room-9", job_id="AJ_tty"):
        for value in [*FAKE_SECRETS.values(), DB_PASSWORD, *STRAY.values()]:
            log.info("message %s", value, extra={"detail": value})
        try:
            _fail_with(FAKE_SECRETS["OPENAI_API_KEY"])
        except RuntimeError:
            log.exception("failed")
    return stream.getvalue()


def test_dev_on_a_terminal_reads_as_text_and_is_scrubbed(settings, logging_restored):
    text = _log_everything_through(settings, _Terminal())
    first = text.splitlines()[0]
    assert not first.startswith("{")
    assert " INFO    livekit.plugins.test: message [REDACTED]" in first
    assert "room=room-9" in first
    assert "job_id=AJ_tty" in first
    assert "Traceback" in text
    assert [leak for leak in LEAKS if leak in text] == []


def test_json_when_not_a_terminal_or_not_dev(settings, logging_restored):
    assert _lines(_log_everything_through(settings, io.StringIO()))[0]["room"] == "room-9"
    staging = load(Settings, app_env="staging", livekit_url="wss://example.livekit.cloud", database_ca_file=__file__)
    text = _log_everything_through(staging, _Terminal())
    assert _lines(text)[0]["environment"] == "staging"
    assert [leak for leak in LEAKS if leak in text] == []


# A phone call as LiveKit's SIP service names it (livekit/protocol sip/sip.go, EvaluateDispatchRule): the room of an
# individual dispatch rule is "<prefix>_<caller number>_<random>", the caller's identity "sip_<number>".
CALLER = "+15550142398"


@pytest.mark.parametrize("number", [CALLER, CALLER.lstrip("+")])
def test_a_phone_callers_number_is_on_no_line(settings, logging_restored, capsys, number):
    logs.configure_logging(settings)
    with logs.call_context(room=f"call-_{number}_Zk3mPq9xYt2a", job_id="AJ_abc"):
        logging.getLogger("livekit.agents").info("participant connected", extra={"identity": f"sip_{number}"})
        logs.log_event("call_start")
        logging.getLogger("agent.worker").info("caller is Phone %s", number)
    lines = capsys.readouterr().out
    assert "5550142398" not in lines
    first, second, third = _lines(lines)
    assert first["room"] == second["room"] == "call-_[REDACTED]_Zk3mPq9xYt2a"
    assert first["identity"] == "sip_[REDACTED]"
    assert third["message"] == "caller is Phone [REDACTED]"


def test_numbers_that_are_not_callers_stay(settings, logging_restored, capsys):
    logs.configure_logging(settings)
    with logs.call_context(room="smoke-1234567890-1", job_id="AJ_abc"):
        logs.log_event("tool_call", duration_ms=1234567.0, tool="find_slots", rows=12345678)
    (line,) = _lines(capsys.readouterr().out)
    assert line["room"] == "smoke-1234567890-1"
    assert line["rows"] == 12345678

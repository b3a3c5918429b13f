"""The input rules (agent/hospital/rules.py): one definition of what can be stored, held equal to the
migrations' CHECK constraints, and worded for the model by the tool layer (agent/tool_args.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.agents import ToolError

from agent import tool_args
from agent.hospital import InvalidInput, rules
from agent.hospital.rules import parse_moment

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in New York
WINDOW = {"first_day": date(2026, 12, 1), "last_day": date(2027, 12, 2)}


def test_a_time_without_offset_is_hospital_time() -> None:
    assert parse_moment("2026-12-02T15:00", NEW_YORK, **WINDOW) == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    assert parse_moment("2026-12-02T15:00+00:00", NEW_YORK, **WINDOW) == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["tomorrow at 3", "2026-13-01T10:00", "", "9" * 50])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="ISO 8601"):
        parse_moment(text, NEW_YORK, **WINDOW)


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:00",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00",
        "0001-01-01T00:00+14:00",
        "2026-11-30T09:00",
        "2027-12-03T09:00",
        "1970-01-01T00:00Z",
    ],
)
def test_dates_outside_the_window_are_refused_before_any_arithmetic(text: str) -> None:
    with pytest.raises(InvalidInput, match="outside the dates this can be, 2026-12-01 to 2027-12-02"):
        parse_moment(text, NEW_YORK, **WINDOW)


@pytest.mark.parametrize("field", ["earliest", "starts_at"])
@pytest.mark.parametrize("text", ["9999-12-31T23:00", "0001-01-01T00:00", "2028-01-01T09:00", "2026-11-30T09:00"])
def test_tool_times_are_bounded_from_today_to_a_year_ahead(field: str, text: str) -> None:
    with pytest.raises(ToolError, match=f"^{field}: .* outside the dates this can be, 2026-12-01 to 2027-12-02"):
        tool_args.moment(text, field, NEW_YORK, now=NOW)
    assert tool_args.moment("2027-12-02T09:00", field, NEW_YORK, now=NOW).year == 2027


def test_a_time_the_clocks_skip_is_refused() -> None:
    # 2027-03-14: New York's clocks go from 02:00 straight to 03:00.
    with pytest.raises(ToolError, match="02:30 on 2027-03-14 does not exist in hospital time"):
        tool_args.moment("2027-03-14T02:30", "starts_at", NEW_YORK, now=NOW)
    assert parse_moment("2027-03-14T03:30", NEW_YORK, **WINDOW) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert parse_moment("2027-03-14T01:59", NEW_YORK, **WINDOW) == datetime(2027, 3, 14, 6, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spoken", "stored"),
    [("+1 (555) 201-7788", "+15552017788"), ("+44 7700 900123", "+447700900123"), ("+1.555.010.4477", "+15550104477")],
)
def test_phone_numbers_are_normalised(spoken: str, stored: str) -> None:
    assert tool_args.phone(spoken) == stored


@pytest.mark.parametrize("spoken", ["555 201 7788", "call me", "+0123456789", "+1555" + "1" * 20])
def test_phone_numbers_without_country_code_are_refused(spoken: str) -> None:
    with pytest.raises(ToolError, match="international form"):
        tool_args.phone(spoken)


@pytest.mark.parametrize("name", ["Zoë O'Connor", "Mary-Jane Smith", "Li Wei", "José María García Jr."])
def test_real_names_pass(name: str) -> None:
    assert tool_args.person_name(name) == name


@pytest.mark.parametrize(
    "name", ["Robert'); DROP TABLE patients;--", "Maria", "R2 D2", "a\x00b c", "Ann " + "x" * rules.NAME_MAX]
)
def test_odd_names_are_refused(name: str) -> None:
    with pytest.raises(ToolError):
        tool_args.person_name(name)


def test_birth_dates_must_be_past_and_real() -> None:
    today = date(2026, 12, 1)
    assert tool_args.birth_date("1985-04-12", today=today) == date(1985, 4, 12)
    assert tool_args.birth_date("1900-01-01", today=today) == date(1900, 1, 1)
    for text in ("2027-01-01", "1899-12-31", "1985-02-30", "12/04/1985", "0001-01-01", "9999-12-31"):
        with pytest.raises(ToolError, match="date_of_birth"):
            tool_args.birth_date(text, today=today)


ANY_TIME_TEXT = st.one_of(
    st.text(max_size=60),
    st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
    st.datetimes().map(lambda moment: f"{moment:%Y-%m-%dT%H:%M}"),
)


@settings(max_examples=500, deadline=None)
@given(text=ANY_TIME_TEXT)
def test_any_time_argument_is_a_moment_in_the_window_or_a_tool_error(text: str) -> None:
    """Whatever the model passes: a moment from today to a year ahead, or a ToolError; never another exception."""
    try:
        moment = tool_args.moment(text, "starts_at", NEW_YORK, now=NOW)
    except ToolError as error:
        assert error.message.startswith("starts_at")  # noqa: PT017 - the refusal names the argument
        return
    local_day = datetime.fromisoformat(text.strip()).date()
    assert date(2026, 12, 1) <= local_day <= date(2027, 12, 2)
    assert moment.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=30), st.dates().map(date.isoformat)))
def test_any_birth_date_argument_is_a_plausible_date_or_a_tool_error(text: str) -> None:
    try:
        born = tool_args.birth_date(text, today=date(2026, 12, 1))
    except ToolError:
        return
    assert date(1900, 1, 1) <= born <= date(2026, 12, 1)


# -- the rules and the migrations' CHECK constraints ----------------------------------------------------------

# Each stored column a rule guards, with the rule's limit: the live schema's CHECK must say the same.
LENGTH_LIMITS = {
    ("patients", "full_name"): rules.NAME_MAX,
    ("doctors", "full_name"): rules.NAME_MAX,
    ("callback_requests", "caller_name"): rules.NAME_MAX,
    ("callback_requests", "message"): rules.MESSAGE_MAX,
    ("appointments", "reason"): rules.REASON_MAX,
    ("patients", "email"): rules.EMAIL_MAX,
    ("doctors", "specialty"): rules.SPECIALTY_MAX,
    ("call_sessions", "room"): rules.ROOM_MAX,
    ("call_sessions", "job_id"): rules.ROOM_MAX,
    ("call_events", "tool"): rules.SHORT_TEXT_MAX,
    ("call_events", "outcome"): rules.SHORT_TEXT_MAX,
    ("audit_log", "actor"): rules.SHORT_TEXT_MAX,
}


@pytest.fixture(scope="module")
def checks(migrated_template: str, postgres_server) -> dict[str, list[str]]:
    """The live schema's CHECK constraints, as PostgreSQL prints them, by table."""
    with psycopg.connect(postgres_server.dsn(migrated_template)) as conn:
        rows = conn.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for table, definition in rows:
        found.setdefault(table, []).append(definition)
    return found


@pytest.mark.parametrize(("column", "limit"), LENGTH_LIMITS.items(), ids=str)
def test_each_length_limit_is_the_one_the_database_checks(checks, column: tuple[str, str], limit: int) -> None:
    table, name = column
    maxima = [
        int(match.group(1))
        for definition in checks[table]
        for match in re.finditer(rf"length\({name}\) <= (\d+)", definition)
    ]
    assert maxima == [limit]


@pytest.mark.parametrize("column", [("patients", "phone"), ("callback_requests", "callback_phone")])
def test_phone_shape_is_the_one_the_database_checks(checks, column: tuple[str, str]) -> None:
    table, name = column
    patterns = [
        match.group(1)
        for definition in checks[table]
        for match in re.finditer(rf"\({name} ~ '(.+?)'::text\)", definition)
    ]
    assert patterns == [rules.PHONE.pattern]


def test_earliest_birth_date_is_the_one_the_database_checks(checks) -> None:
    assert f"(date_of_birth >= '{rules.EARLIEST_BIRTH_DATE}'::date)" in " ".join(checks["patients"])


EMAILS = ["a@b.co", "maria.garcia@example.com", "no-at-sign.example.com", "a@b", "two@@b.co", "a b@c.de", "@b.co"]


def test_email_shape_agrees_with_the_database(checks, migrated_database: str) -> None:
    (pattern,) = [match.group(1) for d in checks["patients"] for match in re.finditer(r"email ~ '(.+?)'::text", d)]
    with psycopg.connect(migrated_database) as conn:
        in_database = [conn.execute("SELECT %s ~ %s", (email, pattern)).fetchone()[0] for email in EMAILS]
    in_python = []
    for email in EMAILS:
        try:
            in_python.append(rules.email(email) is not None)
        except InvalidInput:
            in_python.append(False)
    assert in_python == in_database


# -- the tool layer holds the same limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "limit"),
    [
        (lambda text: tool_args.free_text(text, "message", rules.MESSAGE_MAX), rules.MESSAGE_MAX),
        (lambda text: tool_args.free_text(text, "reason", rules.REASON_MAX), rules.REASON_MAX),
        (lambda text: tool_args.person_name("Ann " + text[4:]), rules.NAME_MAX),
    ],
    ids=["message", "reason", "name"],
)
def test_the_tool_layer_refuses_exactly_what_can_not_be_stored(check, limit: int) -> None:
    assert len(check("x" * limit)) == limit
    with pytest.raises(ToolError, match=f"too long \\(at most {limit} characters\\)"):
        check("x" * (limit + 1))

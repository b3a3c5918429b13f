"""Dates and times as the receptionist says them, and strict parsing of tool arguments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit.agents import ToolError

from agent import speech, tool_args

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in New York


@pytest.mark.parametrize(
    ("moment", "spoken"),
    [
        (datetime(2026, 12, 1, 19, 0, tzinfo=UTC), "today at 2 in the afternoon"),
        (datetime(2026, 12, 2, 14, 30, tzinfo=UTC), "tomorrow at 9:30 in the morning"),
        (datetime(2026, 12, 4, 17, 0, tzinfo=UTC), "Friday, December 4th at noon"),
        (datetime(2026, 12, 22, 23, 15, tzinfo=UTC), "Tuesday, December 22nd at 6:15 in the evening"),
        (datetime(2027, 1, 11, 14, 0, tzinfo=UTC), "Monday, January 11th, 2027 at 9 in the morning"),
    ],
)
def test_moments_are_said_in_hospital_time(moment: datetime, spoken: str) -> None:
    assert speech.say_when(moment, NEW_YORK, now=NOW) == spoken


def test_ordinals_and_birth_dates() -> None:
    assert [speech.ordinal(day) for day in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
    ]  # fmt: skip
    assert speech.say_birth_date(date(1985, 4, 12)) == "April 12th, 1985"


WINDOW = {"first_day": date(2026, 12, 1), "last_day": date(2027, 12, 2)}


def test_a_time_without_offset_is_hospital_time() -> None:
    assert speech.parse_moment("2026-12-02T15:00", NEW_YORK, **WINDOW) == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    assert speech.parse_moment("2026-12-02T15:00+00:00", NEW_YORK, **WINDOW) == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["tomorrow at 3", "2026-13-01T10:00", "", "9" * 50])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        speech.parse_moment(text, NEW_YORK, **WINDOW)


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
    with pytest.raises(ValueError, match="outside the dates this can be, 2026-12-01 to 2027-12-02"):
        speech.parse_moment(text, NEW_YORK, **WINDOW)


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
    assert speech.parse_moment("2027-03-14T03:30", NEW_YORK, **WINDOW) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert speech.parse_moment("2027-03-14T01:59", NEW_YORK, **WINDOW) == datetime(2027, 3, 14, 6, 59, tzinfo=UTC)


def test_a_time_the_clocks_repeat_is_the_first_one_and_read_back_as_such() -> None:
    # 2027-11-07: New York's clocks go from 02:00 back to 01:00, so 01:30 happens twice.
    first = speech.parse_moment("2027-11-07T01:30", NEW_YORK, **WINDOW)
    assert first == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    assert "1:30 in the morning (the first 1:30 that night, before the clocks go back)" in speech.say_when(
        first, NEW_YORK, now=NOW
    )
    second = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    assert "(the second 1:30 that night, after the clocks go back)" in speech.say_when(second, NEW_YORK, now=NOW)
    # Offered to the model with its offset, so the time it passes back is the one it was offered.
    assert speech.tool_time(second, NEW_YORK) == "2027-11-07T01:30-05:00"
    assert speech.parse_moment(speech.tool_time(second, NEW_YORK), NEW_YORK, **WINDOW) == second
    assert speech.tool_time(first, NEW_YORK) == "2027-11-07T01:30-04:00"
    assert speech.tool_time(datetime(2027, 11, 7, 8, 0, tzinfo=UTC), NEW_YORK) == "2027-11-07T03:00"
    assert "clocks" not in speech.say_when(datetime(2027, 11, 7, 8, 0, tzinfo=UTC), NEW_YORK, now=NOW)


ZONES = [NEW_YORK, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("America/Santiago")]


def _clock_change_days(zone: ZoneInfo) -> list[date]:
    """Local days in the window on which the zone's offset changes (hour by hour, in UTC)."""
    hour = datetime(2026, 12, 1, tzinfo=UTC)
    days = []
    while hour < datetime(2027, 12, 3, tzinfo=UTC):
        if (hour + timedelta(hours=1)).astimezone(zone).utcoffset() != hour.astimezone(zone).utcoffset():
            days.append(hour.astimezone(zone).date())
        hour += timedelta(hours=1)
    return days


def _walls_near_clock_changes(zone: ZoneInfo) -> st.SearchStrategy[tuple[datetime, ZoneInfo]]:
    return st.builds(
        lambda day, minute: (datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute), zone),
        st.sampled_from(_clock_change_days(zone)),
        st.integers(0, 24 * 60 - 1),
    )


WALLS = st.one_of(
    st.tuples(
        st.datetimes(min_value=datetime(2026, 12, 1), max_value=datetime(2027, 12, 2, 23, 59)), st.sampled_from(ZONES)
    ),
    *(_walls_near_clock_changes(zone) for zone in ZONES),
)


@settings(max_examples=500, deadline=None)
@given(case=WALLS)
def test_what_is_read_back_is_what_is_stored(case: tuple[datetime, ZoneInfo]) -> None:
    """Any wall-clock time is refused (the clocks skip it) or stored as the very moment read back."""
    wall, zone = case
    wall = wall.replace(second=0, microsecond=0)
    text = f"{wall:%Y-%m-%dT%H:%M}"
    if wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        with pytest.raises(ValueError, match="does not exist in hospital time"):
            speech.parse_moment(text, zone, **WINDOW)
        return
    parsed = speech.parse_moment(text, zone, **WINDOW)
    stored = parsed.astimezone(UTC)  # what asyncpg sends to a timestamptz column
    back = stored.astimezone(zone)
    assert back.replace(tzinfo=None) == wall
    assert speech.say_when(parsed, zone, now=NOW) == speech.say_when(stored, zone, now=NOW)
    assert speech.parse_moment(speech.tool_time(stored, zone), zone, **WINDOW) == stored


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2026, 12, 2), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(ZONES),
)
def test_every_offered_time_comes_back_as_the_same_moment(instant: datetime, zone: ZoneInfo) -> None:
    instant = instant.replace(second=0, microsecond=0)
    assert speech.parse_moment(speech.tool_time(instant, zone), zone, **WINDOW) == instant


def test_clock_line_names_the_day_and_the_zone() -> None:
    line = speech.clock_line(NOW, NEW_YORK)
    assert "Tuesday, December 1, 2026, 10:00 (hospital time, America/New_York)" in line


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


@pytest.mark.parametrize("name", ["Robert'); DROP TABLE patients;--", "Maria", "R2 D2", "a\x00b c", "x " * 100])
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

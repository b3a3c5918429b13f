"""Dates and times as the receptionist says them, and handed to the model and back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import speech
from agent.hospital import InvalidInput
from agent.hospital.rules import parse_moment

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


def test_a_time_the_clocks_repeat_is_the_first_one_and_read_back_as_such() -> None:
    # 2027-11-07: New York's clocks go from 02:00 back to 01:00, so 01:30 happens twice.
    first = parse_moment("2027-11-07T01:30", NEW_YORK, **WINDOW)
    assert first == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)
    assert "1:30 in the morning (the first 1:30 that night, before the clocks go back)" in speech.say_when(
        first, NEW_YORK, now=NOW
    )
    second = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    assert "(the second 1:30 that night, after the clocks go back)" in speech.say_when(second, NEW_YORK, now=NOW)
    # Offered to the model with its offset, so the time it passes back is the one it was offered.
    assert speech.tool_time(second, NEW_YORK) == "2027-11-07T01:30-05:00"
    assert parse_moment(speech.tool_time(second, NEW_YORK), NEW_YORK, **WINDOW) == second
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
        with pytest.raises(InvalidInput, match="does not exist in hospital time"):
            parse_moment(text, zone, **WINDOW)
        return
    parsed = parse_moment(text, zone, **WINDOW)
    stored = parsed.astimezone(UTC)  # what asyncpg sends to a timestamptz column
    back = stored.astimezone(zone)
    assert back.replace(tzinfo=None) == wall
    assert speech.say_when(parsed, zone, now=NOW) == speech.say_when(stored, zone, now=NOW)
    assert parse_moment(speech.tool_time(stored, zone), zone, **WINDOW) == stored


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2026, 12, 2), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(ZONES),
)
def test_every_offered_time_comes_back_as_the_same_moment(instant: datetime, zone: ZoneInfo) -> None:
    instant = instant.replace(second=0, microsecond=0)
    assert parse_moment(speech.tool_time(instant, zone), zone, **WINDOW) == instant


def test_clock_line_names_the_day_and_the_zone() -> None:
    line = speech.clock_line(NOW, NEW_YORK)
    assert "Tuesday, December 1, 2026, 10:00 (hospital time, America/New_York)" in line

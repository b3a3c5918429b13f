"""Dates and times as the receptionist says them, and strict parsing of tool arguments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
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


def test_a_time_without_offset_is_hospital_time() -> None:
    assert speech.parse_moment("2026-12-02T15:00", NEW_YORK) == datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    assert speech.parse_moment("2026-12-02T15:00+00:00", NEW_YORK) == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["tomorrow at 3", "2026-13-01T10:00", "", "9" * 50])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        speech.parse_moment(text, NEW_YORK)


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
    for text in ("2027-01-01", "1899-12-31", "1985-02-30", "12/04/1985"):
        with pytest.raises(ToolError, match="date_of_birth"):
            tool_args.birth_date(text, today=today)

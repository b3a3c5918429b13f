"""Dates and times the way a receptionist says them, and the way tools hand times to the model.

The model resolves "tomorrow afternoon" itself (its instructions carry today's date); tools accept only
ISO 8601 (parsed by agent/hospital/rules.py) and read a time without an offset as wall-clock time in the
hospital's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


def ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else _ORDINAL_SUFFIX.get(day % 10, "th")
    return f"{day}{suffix}"


def say_time(moment: datetime) -> str:
    """'9 in the morning', '2:30 in the afternoon', 'noon'."""
    if moment.hour == 12 and moment.minute == 0:
        return "noon"
    hour = moment.hour % 12 or 12
    clock = f"{hour}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}"
    if moment.hour < 12:
        part = "in the morning"
    elif moment.hour < 17:
        part = "in the afternoon"
    else:
        part = "in the evening"
    return f"{clock} {part}"


def say_date(day: date, *, today: date | None = None) -> str:
    """'today', 'tomorrow', 'Tuesday, December 2nd' (the year only when it is not this year's)."""
    if today is not None:
        if day == today:
            return "today"
        if day == today + timedelta(days=1):
            return "tomorrow"
    text = f"{day:%A}, {day:%B} {ordinal(day.day)}"
    if today is None or day.year != today.year:
        text += f", {day.year}"
    return text


def say_birth_date(day: date) -> str:
    return f"{day:%B} {ordinal(day.day)}, {day.year}"


def say_when(moment: datetime, zone: ZoneInfo, *, now: datetime) -> str:
    """A moment in the hospital's time zone, relative to now: 'tomorrow at 2:30 in the afternoon'.

    A wall-clock time the night the clocks go back happens twice; the read-back says which one it is.
    """
    local = moment.astimezone(zone)
    spoken = f"{say_date(local.date(), today=now.astimezone(zone).date())} at {say_time(local)}"
    if is_repeated(local):
        clock = say_time(local).split(" ", 1)[0]
        spoken += (
            f" (the second {clock} that night, after the clocks go back)"
            if local.fold
            else f" (the first {clock} that night, before the clocks go back)"
        )
    return spoken


def is_repeated(local: datetime) -> bool:
    """Whether this wall-clock time happens twice in its zone (the hour repeated when the clocks go back)."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def tool_time(moment: datetime, zone: ZoneInfo) -> str:
    """How tools hand a time to the model: wall-clock ISO 8601, with the offset only when the wall-clock time
    happens twice, so the model passes back exactly the moment it was offered."""
    local = moment.astimezone(zone)
    return local.isoformat(timespec="minutes") if is_repeated(local) else f"{local:%Y-%m-%dT%H:%M}"


def clock_line(now: datetime, zone: ZoneInfo) -> str:
    """What the model is told about the present, refreshed every turn."""
    local = now.astimezone(zone)
    return (
        f"Right now it is {local:%A}, {local:%B} {local.day}, {local.year}, {local:%H:%M} "
        f"(hospital time, {zone.key}). Resolve words like 'tomorrow' or 'next Tuesday at 3' from this, "
        "and pass times to tools as ISO 8601 in hospital time, for example "
        f"{(local + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0):%Y-%m-%dT%H:%M}."
    )

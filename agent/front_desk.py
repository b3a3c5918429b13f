"""When the front desk (the people a caller can be put through to) is open, in the hospital's time zone.

The receptionist itself answers at any hour; only a live transfer needs the front desk. The hours are stack
settings (infra/config.py), handed to the agent as FRONT_DESK_OPEN_DAYS, FRONT_DESK_OPEN_HOUR and
FRONT_DESK_CLOSE_HOUR (agent/settings.py), with HOSPITAL_TIMEZONE. Days are written as in an EventBridge
Scheduler cron expression, which the no-calls alarm uses: `MON-FRI`, `MON,WED,FRI`, `MON-FRI,SAT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from agent import speech

DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DEFAULT_OPEN_DAYS = "MON-FRI"
DEFAULT_OPEN_HOUR = 8
DEFAULT_CLOSE_HOUR = 18


def parse_days(text: str) -> frozenset[int]:
    """Weekdays (0 = Monday) from `MON-FRI`, `MON,WED,FRI` or `MON-FRI,SAT`; a clear ValueError otherwise."""
    days: set[int] = set()
    for part in text.split(","):
        ends = part.strip().upper().split("-")
        if len(ends) > 2 or not all(end in DAY_NAMES for end in ends):
            raise ValueError(
                f"{part.strip()!r} is not a day (MON..SUN) or a range of days like MON-FRI; "
                "separate several with commas, e.g. MON-FRI,SAT"
            )
        first, last = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
        if last < first:
            raise ValueError(f"{part.strip()!r} runs backwards; write the days from Monday on, e.g. MON,SAT-SUN")
        days.update(range(first, last + 1))
    return frozenset(days)


@dataclass(frozen=True)
class FrontDeskHours:
    """Open on `days` (0 = Monday) from `opens` o'clock to `closes` o'clock (24: midnight), local wall-clock time."""

    days: frozenset[int] = parse_days(DEFAULT_OPEN_DAYS)
    opens: int = DEFAULT_OPEN_HOUR
    closes: int = DEFAULT_CLOSE_HOUR

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("the front desk needs at least one opening day (0 = Monday .. 6 = Sunday)")
        if not 0 <= self.opens < self.closes <= 24:
            raise ValueError("the front desk must open (0-23 h) before it closes (1-24 h)")

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        """Whether `now` (an aware moment) falls in opening hours on the hospital's wall clock, DST included."""
        local = now.astimezone(zone)
        return local.weekday() in self.days and self.opens <= local.hour < self.closes

    def next_opening(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The next moment the desk opens after `now`, in the hospital's time zone."""
        today = now.astimezone(zone).date()
        for ahead in range(8):
            day = today + timedelta(days=ahead)
            opening = datetime.combine(day, time(self.opens), tzinfo=zone)
            if day.weekday() in self.days and opening > now:
                return opening
        raise AssertionError("unreachable: at least one opening day a week")

    def closed_notice(self, now: datetime, zone: ZoneInfo) -> str:
        """What to tell a caller outside opening hours: closed now, and when it opens."""
        opening = speech.say_when(self.next_opening(now, zone), zone, now=now)
        return f"The front desk is closed right now; it opens again {opening}."

    def describe(self) -> str:
        """'Monday to Friday, 8 in the morning to 6 in the evening'."""
        names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        ordered = sorted(self.days)
        runs: list[list[int]] = []
        for day in ordered:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        days = ", ".join(names[run[0]] if len(run) == 1 else f"{names[run[0]]} to {names[run[-1]]}" for run in runs)
        return f"{days}, {_say_hour(self.opens)} to {_say_hour(self.closes)}"


def _say_hour(hour: int) -> str:
    return "midnight" if hour in (0, 24) else speech.say_time(datetime.combine(datetime.min, time(hour)))

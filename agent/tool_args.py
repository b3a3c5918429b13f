"""What the model passes to tools, checked against the data layer's input rules (agent/hospital/rules.py)
before anything is read or written. A broken rule becomes a ToolError worded for the model, saying what to
do next, so it can ask the caller again. Text that looks like SQL is just text (the data layer binds
parameters).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from livekit.agents import ToolError

from agent.hospital import InvalidInput, rules

TOPIC_MAX = 80  # a question's topic is matched against the hospital's answers, never stored


def _spoken(value: object) -> object:
    """The model's text on one line: runs of spaces, tabs and line breaks become one space."""
    return " ".join(value.split()) if isinstance(value, str) else value


def _refused(error: InvalidInput, next_step: str) -> ToolError:
    return ToolError(f"{error}. {next_step}")


def person_name(value: str, field: str = "full_name") -> str:
    try:
        return rules.person_name(_spoken(value), field)
    except InvalidInput as error:
        raise _refused(error, "Ask the caller to say or spell it again.") from None


def free_text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    try:
        return rules.plain_text(_spoken(value), field, limit, required=required)
    except InvalidInput as error:
        raise _refused(error, "Ask the caller for it again, in fewer words if it was long.") from None


def optional_text(value: str | None, field: str, limit: int) -> str | None:
    if value is None:
        return None
    return free_text(value, field, limit, required=False) or None


def phone(value: str, field: str = "phone") -> str:
    try:
        return rules.phone(_spoken(value), field)
    except InvalidInput as error:
        raise _refused(
            error,
            "It must be in international form with a plus and country code (for a ten-digit US number, put +1 "
            "in front). Ask the caller to repeat it.",
        ) from None


def email(value: str | None) -> str | None:
    try:
        return rules.email(_spoken(value))
    except InvalidInput as error:
        raise _refused(error, "Ask the caller to spell it, or leave it out.") from None


def birth_date(value: str, *, today: date) -> date:
    try:
        day = rules.parse_day(_spoken(value))
    except InvalidInput as error:
        raise _refused(error, "Pass date_of_birth as YYYY-MM-DD.") from None
    try:
        return rules.birth_date(day, today=today)
    except InvalidInput as error:
        raise _refused(
            error, f"It must be between {rules.EARLIEST_BIRTH_DATE} and today; ask the caller to repeat it."
        ) from None


def moment(value: str, field: str, zone: ZoneInfo, *, now: datetime) -> datetime:
    """An appointment time or search bound: from today to a year ahead, in hospital time."""
    today = now.astimezone(zone).date()
    last_day = today + timedelta(days=rules.APPOINTMENT_DAYS_AHEAD)
    try:
        return rules.parse_moment(_spoken(value), zone, first_day=today, last_day=last_day)
    except InvalidInput as error:
        raise ToolError(f"{field}: {error}. Ask the caller for another time if theirs can't be used.") from None


def record_id(value: int, field: str) -> int:
    try:
        return rules.record_id(value, field, rules.INT4_MAX)
    except InvalidInput:
        raise ToolError(f"{field} must be one of the ids a tool returned earlier in this call") from None

"""Validation of what the model passes to tools: a bad argument becomes a ToolError the model can fix,
before anything is read or written. Text that looks like SQL is just text (the data layer binds
parameters); names and phones have strict shapes, free text has a length limit.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from livekit.agents import ToolError

from agent import speech

NAME_MAX = 120
REASON_MAX = 300
MESSAGE_MAX = 1000
TOPIC_MAX = 80
# How far ahead an appointment can be booked or searched for; beyond it a date is a mistake, not a plan.
APPOINTMENT_DAYS_AHEAD = 366
OLDEST_BIRTH_DATE = date(1900, 1, 1)
_MAX_ID = 2**31 - 1

# Letters (any script), spaces, apostrophes, hyphens and periods: "Mary-Jane O'Neil Jr."
_NAME = re.compile(r"^[^\W\d_]+(?:[ '\u2019.-]+[^\W\d_]+)*\.?$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _clean(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ToolError(f"{field} must be text")
    if len(value) > limit:
        raise ToolError(f"{field} is too long (at most {limit} characters); ask the caller for a shorter one")
    text = " ".join(value.split())
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ToolError(f"{field} contains control characters")
    return text


def person_name(value: str, field: str = "full_name") -> str:
    # Composed, so a letter typed as base + combining mark ("Zoe\u0308") is a letter to the check below.
    text = unicodedata.normalize("NFC", _clean(value, field, NAME_MAX))
    if not _NAME.match(text) or len(text.split()) < 2:
        raise ToolError(
            f"{field} must be the person's first and last name, letters only (hyphens and apostrophes allowed). "
            "Ask the caller to say or spell it again."
        )
    return text


def free_text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    text = _clean(value, field, limit)
    if required and not text:
        raise ToolError(f"{field} is empty; ask the caller for it")
    return text


def phone(value: str, field: str = "phone") -> str:
    text = _clean(value, field, 40)
    digits = _PHONE_SEPARATORS.sub("", text)
    if not _E164.match(digits):
        raise ToolError(
            f"{field} must be in international form with a plus and country code, like +15551234567 "
            "(for a ten-digit US number, put +1 in front). Ask the caller to repeat it."
        )
    return digits


def email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = _clean(value, "email", 254)
    if not _EMAIL.match(text):
        raise ToolError("email does not look like an email address; ask the caller to spell it, or leave it out")
    return text


def birth_date(value: str, *, today: date) -> date:
    try:
        day = speech.parse_day(_clean(value, "date_of_birth", 20))
    except ValueError as exc:
        raise ToolError(f"date_of_birth: {exc}") from None
    if day > today or day < OLDEST_BIRTH_DATE:
        raise ToolError(f"date_of_birth must be between {OLDEST_BIRTH_DATE} and today; ask the caller to repeat it")
    return day


def moment(value: str, field: str, zone: ZoneInfo, *, now: datetime) -> datetime:
    """An appointment time or search bound: from today to a year ahead, in hospital time."""
    today = now.astimezone(zone).date()
    try:
        return speech.parse_moment(
            _clean(value, field, 40), zone, first_day=today, last_day=today + timedelta(days=APPOINTMENT_DAYS_AHEAD)
        )
    except ValueError as exc:
        raise ToolError(f"{field}: {exc}") from None


def record_id(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        raise ToolError(f"{field} must be one of the ids a tool returned earlier in this call")
    return value


def optional_text(value: str | None, field: str, limit: int) -> str | None:
    if value is None:
        return None
    text = _clean(value, field, limit)
    return text or None

"""The stored-value rules: the shapes and limits a value must have to be stored, one definition for every layer.

The limits are the migrations' CHECK constraints (tests/test_input_rules.py reads them from a live schema
and compares); the tool layer words a broken rule for the model, the data layer refuses it before any SQL runs.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from agent.hospital.records import InvalidInput

# Lengths, as the migrations' CHECKs have them.
NAME_MAX = 200  # patients', doctors' and callers' names
REASON_MAX = 500
MESSAGE_MAX = 2000
EMAIL_MAX = 254
SPECIALTY_MAX = 120
SHORT_TEXT_MAX = 80  # actor names, tool names, outcomes
ROOM_MAX = 200  # call rooms and job ids
# A caller's number where LiveKit's SIP service puts it (livekit/protocol, sip/sip.go, EvaluateDispatchRule): as
# E.164 anywhere, in the individual dispatch rule's room "<prefix>_<number>_<random>", in the participant's identity
# "sip_<number>" and in its name "Phone <number>". Rooms and identities reach logs and tables; the number must not.
PHONE_NUMBER_SHAPES = r"(?:\+|(?<=sip_)|(?<=Phone )|(?<=_)(?=\d{7,15}_))\d{7,15}(?!\d)"
_PHONE_NUMBER = re.compile(PHONE_NUMBER_SHAPES)
NUMBER_MASK = "[number]"
# Lengths of what is only looked up or kept as JSON.
LANGUAGE_MAX = 40  # a language code or name asked for
DETAIL_JSON_MAX = 4000
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# How far ahead an appointment can be booked or searched for; beyond it a date is a mistake, not a plan.
APPOINTMENT_DAYS_AHEAD = 366
# Appointment and window times outside these years are typing errors, not plans.
YEARS_ACCEPTED = range(1900, 2201)
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Letters (any script), spaces, apostrophes, hyphens and periods: "Mary-Jane O'Neil Jr."
_PERSON_NAME = re.compile(r"^[^\W\d_]+(?:[ '\u2019.-]+[^\W\d_]+)*\.?$")


# -- names as people say them -------------------------------------------------------------------------------

# migrations/0006_identity_and_schedule_locks.sql's patient_name_key, in Python (tests hold the two equal).
_NAME_PUNCTUATION = str.maketrans("\u2019\u2018\u02bc\u2032`\u00b4\u2010\u2011", "''''''--")
_NAME_SPACES = re.compile(r"[ \t\n\r\f\v]+")


def _simple_lower(char: str) -> str:
    """A letter's Unicode simple lowercase mapping: str.lower() one character for one (İ's full mapping is two)."""
    lower = char.lower()
    if len(lower) == 1:
        return lower
    return "i" if char == "\u0130" else char


def name_key(full_name: str) -> str:
    """The form identity checks compare names in: plain apostrophes and hyphens, NFKC, single spaces, lowercase.
    "ZOË O\u2019CONNOR" (Ë as E + U+0308) and "Zoë O'Connor" have one key; "M\u0430ria" (a Cyrillic a) is not
    "Maria"."""
    text = unicodedata.normalize("NFKC", full_name.translate(_NAME_PUNCTUATION))
    text = _NAME_SPACES.sub(" ", text).strip(" ")
    return unicodedata.normalize("NFKC", "".join(map(_simple_lower, text)))


# -- input checks: every argument is checked before any SQL runs --------------------------------------------


def plain_text(value: object, what: str, limit: int, *, required: bool = True) -> str:
    """Trimmed text of at most `limit` characters, without control characters (PostgreSQL text holds no NUL)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{what} is empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} is too long (at most {limit} characters)")
    if any(unicodedata.category(char) in {"Cc", "Cs"} for char in text if char not in "\t\n"):
        raise InvalidInput(f"{what} contains characters that can't be stored")
    return text


def name(value: object, what: str = "name") -> str:
    text = plain_text(value, what, NAME_MAX)
    if any(char in "\t\n" for char in text):
        raise InvalidInput(f"{what} contains characters that can't be stored")
    return text


def person_name(value: object, what: str = "full_name") -> str:
    """A person's first and last name as a caller gives it: `name`'s rules, letters only, two words or more."""
    # Composed, so a letter typed as base + combining mark ("Zoe\u0308") is a letter to the shape check.
    text = unicodedata.normalize("NFC", name(value, what))
    if not _PERSON_NAME.match(text) or len(text.split()) < 2:
        raise InvalidInput(
            f"{what} must be the person's first and last name, letters only (hyphens and apostrophes allowed)"
        )
    return text


def phone(value: object, what: str = "phone") -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    digits = _PHONE_SEPARATORS.sub("", value)
    if not PHONE.match(digits):
        raise InvalidInput(f"{what} must be an international number like +15551234567")
    return digits


def email(value: object) -> str | None:
    if value is None:
        return None
    text = plain_text(value, "email", EMAIL_MAX, required=False)
    if not text:
        return None
    if not _EMAIL.match(text):
        raise InvalidInput("email does not look like an email address")
    return text


def record_id(value: object, what: str, maximum: int = INT8_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"{what} must be a positive whole number")
    return value


def request_key(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput("idempotency_key must be a UUID") from None


def birth_date(value: object, *, today: date) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise InvalidInput("date_of_birth must be a date")
    if value < EARLIEST_BIRTH_DATE:
        raise InvalidInput(f"date_of_birth is before {EARLIEST_BIRTH_DATE}")
    if value > today:
        raise InvalidInput("date_of_birth is in the future")
    return value


# -- times as tools receive them: ISO 8601; without an offset, wall-clock time in the hospital's zone -------


def parse_moment(text: object, zone: ZoneInfo, *, first_day: date, last_day: date) -> datetime:
    """ISO 8601 date-time whose date (as written) lies between first_day and last_day; without an offset it is
    wall-clock time in the hospital's zone. Returns the moment in UTC; raises InvalidInput with a fixable reason.

    The window is checked before any arithmetic, so no year 1 or 9999 reaches a time-zone conversion. A
    wall-clock time the zone skips (the clocks go forward) is refused; one it has twice (the clocks go back)
    is its first occurrence (fold=0), which is also how asyncpg stores it and how `say_when` reads it back.
    """
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > 40:
        raise InvalidInput("a time must be an ISO 8601 date and time such as 2026-12-02T14:30")
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date and time such as 2026-12-02T14:30") from None
    if not first_day <= moment.date() <= last_day:
        raise InvalidInput(f"{moment.date()} is outside the dates this can be, {first_day} to {last_day}")
    if moment.tzinfo is None:
        wall = moment
        moment = wall.replace(tzinfo=zone)
        if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
            raise InvalidInput(
                f"{wall:%H:%M} on {wall:%Y-%m-%d} does not exist in hospital time: the clocks go forward that night"
            )
    # In UTC: datetimes in one zone compare by wall-clock time, fold ignored, so two moments an hour apart
    # would compare equal (PEP 495).
    return moment.astimezone(UTC)


def parse_day(text: object) -> date:
    """ISO 8601 calendar date (YYYY-MM-DD). Raises InvalidInput with a fixable reason."""
    if not isinstance(text, str) or len(text.strip()) != 10:
        raise InvalidInput("a date must be ISO 8601, YYYY-MM-DD, such as 1980-03-14")
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a real date in the form YYYY-MM-DD") from None


def without_phone_numbers(text: str) -> str:
    """`text` with every caller number LiveKit may have put in it masked (a phone call's room name, for one)."""
    return _PHONE_NUMBER.sub(NUMBER_MASK, text)

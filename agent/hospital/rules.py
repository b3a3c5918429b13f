"""The stored-value rules: the shapes and limits a value must have to be stored, one definition for every layer.

The limits are the migrations' CHECK constraints (tests/test_hospital.py reads them from a live schema and
compares); the tool layer words a broken rule for the model, the data layer refuses it before any SQL runs.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date

from agent.hospital.records import InvalidInput

NAME_MAX = 200
REASON_MAX = 500
MESSAGE_MAX = 2000
EMAIL_MAX = 254
SHORT_TEXT_MAX = 80  # actor names, tool names, outcomes
ROOM_MAX = 200
DETAIL_JSON_MAX = 4000
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# Appointment and window times outside these years are typing errors, not plans.
YEARS_ACCEPTED = range(1900, 2201)
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def phone(value: object, what: str = "phone") -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    digits = _PHONE_SEPARATORS.sub("", value)
    if not _E164.match(digits):
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

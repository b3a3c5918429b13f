"""The hospital's data, as the receptionist sees it: a typed interface and its PostgreSQL implementation.

Call path: caller -> agent tool (agent/receptionist.py) -> this module -> SQL (migrations/).
Every method that reads or changes a patient's record writes an audit row in the same transaction (most
do it in the same statement, as a data-modifying CTE, so one round trip serves both).

The implementation keeps no session state (no SET, no advisory locks, no LISTEN), so it runs unchanged
through RDS Proxy and PgBouncer in transaction mode (see agent/db/pool.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol, TypeVar, get_args
from zoneinfo import ZoneInfo

import asyncpg


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    location: str
    phone_extension: str | None
    description: str


@dataclass(frozen=True)
class Doctor:
    id: int
    full_name: str
    specialty: str
    department: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Patient:
    id: int
    mrn: str
    full_name: str
    date_of_birth: date
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Slot:
    doctor_id: int
    doctor_name: str
    specialty: str
    starts_at: datetime
    ends_at: datetime


AppointmentStatus = Literal["booked", "cancelled", "completed", "no_show"]


@dataclass(frozen=True)
class Appointment:
    id: int
    patient_id: int
    doctor_id: int
    doctor_name: str
    specialty: str
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    reason: str


@dataclass(frozen=True)
class Booked:
    appointment: Appointment


@dataclass(frozen=True)
class SlotTaken:
    """Someone else got the slot first; the next free slots of the same doctor (or specialty)."""

    alternatives: list[Slot] = field(default_factory=list)


BookingResult = Booked | SlotTaken


@dataclass(frozen=True)
class Verified:
    patient: Patient


@dataclass(frozen=True)
class NoMatch:
    """No single record matches: none, or two that the details given can't tell apart."""


@dataclass(frozen=True)
class IdentityClosed:
    """No identity check is made: this call failed too often ("call_limit") or the name is locked ("locked").
    The caller must not be told which: a lock says nothing about whether the name is on file."""

    reason: Literal["call_limit", "locked"]


IdentityCheck = Verified | NoMatch | IdentityClosed


@dataclass(frozen=True)
class Registered:
    """A new record, or (`on_file`) the one record with this name, birth date and phone: the caller is that patient."""

    patient: Patient
    on_file: bool = False


@dataclass(frozen=True)
class RegistrationRefused:
    """The name and birth date are on file with other details: no second record, and a failed identity attempt."""


Registration = Registered | RegistrationRefused | IdentityClosed

CallEventKind = Literal[
    "call_started",
    "user_turn",
    "agent_turn",
    "verified",
    "verification_failed",
    "tool_call",
    "booking_created",
    "booking_moved",
    "booking_cancelled",
    "patient_registered",
    "emergency",
    "handoff",
    "call_ended",
]
CallOutcome = Literal["completed", "handed_off", "emergency", "abandoned", "error"]


class HospitalError(Exception):
    """A request the data layer refuses, with a reason fit to tell the caller (no PHI, no SQL)."""


class NotFound(HospitalError):
    """The patient, doctor or appointment does not exist (or is not this patient's)."""


class BookingRefused(HospitalError):
    """The booking breaks a rule: outside the doctor's shifts, in the past, malformed."""


class InvalidInput(HospitalError):
    """An argument is malformed: a bad phone number, an absurd date, an over-long text."""


class DatabaseUnavailable(HospitalError):
    """The database could not be reached after retries; nothing was written, or the write is safe to retry."""


@dataclass(frozen=True)
class Actor:
    """Who is acting, for the audit log: the call session (if any) and the kind of actor."""

    call_session_id: int | None
    name: str = "agent"


class Hospital(Protocol):
    """The operations the receptionist needs. Times are timezone-aware; windows are [start, end)."""

    async def verify_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date | None = None, phone: str | None = None
    ) -> IdentityCheck:
        """Identity check: full name plus date of birth, or full name plus phone, within the database's attempt
        limits (per call and per name; see migrations/0006_identity_and_schedule_locks.sql)."""

    async def register_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date, phone: str, email: str | None = None
    ) -> Registration:
        """A new record; never a second one for a name and birth date on file (see `Registered`)."""

    async def list_departments(self) -> list[Department]: ...

    async def hospital_info(self) -> dict[str, str]:
        """Answers to practical questions by topic (opening_hours, address, parking, visiting_hours...)."""

    async def find_doctors(
        self, *, specialty: str | None = None, name: str | None = None, language: str | None = None
    ) -> list[Doctor]: ...

    async def free_slots(
        self,
        *,
        window_start: datetime,
        window_end: datetime,
        doctor_id: int | None = None,
        specialty: str | None = None,
        limit: int = 3,
    ) -> list[Slot]:
        """Free slots inside shifts, minus booked appointments, never in the past, earliest first."""

    async def book(
        self,
        actor: Actor,
        *,
        patient_id: int,
        doctor_id: int,
        starts_at: datetime,
        reason: str,
        idempotency_key: uuid.UUID,
    ) -> BookingResult: ...

    async def reschedule(
        self,
        actor: Actor,
        *,
        patient_id: int,
        appointment_id: int,
        new_starts_at: datetime,
        idempotency_key: uuid.UUID,
        new_doctor_id: int | None = None,
    ) -> BookingResult:
        """Atomic move: the new appointment is booked and the old one cancelled together, or neither."""

    async def cancel(self, actor: Actor, *, patient_id: int, appointment_id: int) -> Appointment:
        """Cancel the patient's own booked future appointment; an already cancelled one is returned as it is."""

    async def bookable_slot(
        self, *, doctor_id: int, starts_at: datetime, moving_appointment: int | None = None
    ) -> Slot | SlotTaken:
        """The slot, if it can be booked now (active doctor, in a shift, on its grid, in the future, free; the
        appointment being moved does not count as taking it), or SlotTaken with alternatives; else a refusal."""

    async def own_appointment(self, actor: Actor, *, patient_id: int, appointment_id: int) -> Appointment:
        """The patient's own booked future appointment (an audited read); anyone else's is refused and audited."""

    async def upcoming_appointments(self, actor: Actor, *, patient_id: int) -> list[Appointment]: ...

    async def audit_denied(self, actor: Actor, *, entity: Literal["patient", "appointment"], reason: str) -> None:
        """Record a refused attempt to read or change a record (e.g. by an unverified caller)."""

    async def start_call(self, *, room: str, job_id: str | None) -> int: ...

    async def record_event(
        self,
        call_session_id: int,
        kind: CallEventKind,
        *,
        tool: str | None = None,
        outcome: str | None = None,
        duration_ms: float | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Append to the call's interaction log. `detail` holds ids and codes, never PHI or words said."""

    async def end_call(self, call_session_id: int, *, outcome: CallOutcome, patient_id: int | None = None) -> None: ...

    async def add_callback_request(
        self,
        actor: Actor,
        *,
        caller_name: str,
        callback_phone: str,
        message: str,
        patient_id: int | None = None,
    ) -> int: ...


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL implementation
# ---------------------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

T = TypeVar("T")

NAME_MAX = 200
REASON_MAX = 500
MESSAGE_MAX = 2000
EMAIL_MAX = 254
SHORT_TEXT_MAX = 80  # actor names, tool names, outcomes
ROOM_MAX = 200
DETAIL_JSON_MAX = 4000
MAX_WINDOW = timedelta(days=366)
ALTERNATIVES_WINDOW = timedelta(days=14)
ALTERNATIVES_LIMIT = 3
SLOTS_LIMIT_MAX = 50
DOCTORS_LIMIT = 50
UPCOMING_LIMIT = 20
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# Appointment and window times outside these years are typing errors, not plans.
YEARS_ACCEPTED = range(1900, 2201)
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TITLES = {"dr", "dr.", "doctor", "prof", "prof.", "professor"}
_EVENT_KINDS = frozenset(get_args(CallEventKind))
_OUTCOMES = frozenset(get_args(CallOutcome))

# Failures that say nothing about the request itself: the server restarted, failed over, refused for now,
# or the connection dropped. Repeating the request on a fresh connection may succeed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, including ConnectionDoesNotExistError and PgBouncer's errors
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock: rolled back, safe to repeat
    OSError,
    TimeoutError,
)


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


def _text(value: object, what: str, limit: int, *, required: bool = True) -> str:
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


def _name(value: object, what: str = "name") -> str:
    text = _text(value, what, NAME_MAX)
    if any(char in "\t\n" for char in text):
        raise InvalidInput(f"{what} contains characters that can't be stored")
    return text


def _phone(value: object, what: str = "phone") -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    digits = _PHONE_SEPARATORS.sub("", value)
    if not _E164.match(digits):
        raise InvalidInput(f"{what} must be an international number like +15551234567")
    return digits


def _email(value: object) -> str | None:
    if value is None:
        return None
    text = _text(value, "email", EMAIL_MAX, required=False)
    if not text:
        return None
    if not _EMAIL.match(text):
        raise InvalidInput("email does not look like an email address")
    return text


def _id(value: object, what: str, maximum: int = INT8_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"{what} must be a positive whole number")
    return value


def _key(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput("idempotency_key must be a UUID") from None


# -- results ------------------------------------------------------------------------------------------------


def _patient(row: asyncpg.Record) -> Patient:
    return Patient(
        id=row["id"],
        mrn=row["mrn"],
        full_name=row["full_name"],
        date_of_birth=row["date_of_birth"],
        phone=row["phone"],
        email=row["email"],
    )


def _doctor(row: asyncpg.Record) -> Doctor:
    return Doctor(
        id=row["id"],
        full_name=row["full_name"],
        specialty=row["specialty"],
        department=row["department"],
        languages=tuple(row["languages"]),
    )


# -- SQL ----------------------------------------------------------------------------------------------------
# Parameters are always bound, never formatted in. The frequent patient and appointment statements are database
# functions (migrations/0004_free_slots.sql, 0005_call_functions.sql, 0006_identity_and_schedule_locks.sql, where
# their rules are commented): planned once per server connection there, where a statement sent as text is planned
# on every call behind a pooler. Shift lookups use the (doctor_id, starts_at) index, bounded below by the 24-hour
# maximum shift length; races between bookings are settled by the exclusion constraint, not by a read before the
# write, and a booking and a shift change of one doctor by the doctor's row lock their triggers take.

_VERIFY_PATIENT = """
SELECT * FROM verify_patient(name_given => $1, born => $2, phone_given => $3, in_session => $4, acting => $5,
                             lookup => $6)"""

_REGISTER_PATIENT = """
SELECT * FROM register_new_patient(name_given => $1, born => $2, phone_given => $3, new_mrn => $4,
                                   email_given => $5, in_session => $6, acting => $7)"""

_DEPARTMENTS = "SELECT id, name, location, phone_extension, description FROM departments ORDER BY name"

_HOSPITAL_INFO = "SELECT topic, answer FROM hospital_info ORDER BY topic"

_FIND_DOCTORS = "SELECT * FROM find_doctors(of_specialty => $1, named => $2, speaking => $3, max_rows => $4)"

_FREE_SLOTS = """
SELECT * FROM free_slots(window_start => $1, window_end => $2, only_doctor => $3, only_specialty => $4,
                         slot_length => $5, not_before => $6, max_slots => $7)"""

# Inserts nothing for a taken slot or a key used before (ON CONFLICT DO NOTHING; see book()).
_BOOK = """
SELECT * FROM book_appointment(for_patient => $1, with_doctor => $2, slot_start => $3, slot_length => $4,
                               visit_reason => $5, booked_via => $6, in_session => $7, request_key => $8,
                               acting => $9)"""

# Whether a slot can be booked, and why not: an unknown or inactive doctor, no shift, off the slot grid, taken.
_SLOT_FACTS = """
SELECT * FROM slot_facts(with_doctor => $1, slot_start => $2, slot_length => $3, except_appointment => $4)"""

_KEY_OWNER = (
    "SELECT id, patient_id, doctor_id, starts_at, rescheduled_from FROM appointments WHERE idempotency_key = $1"
)

_READ_APPOINTMENT = """
WITH a AS (
    SELECT a.id, a.patient_id, a.doctor_id, d.full_name AS doctor_name, d.specialty, a.starts_at, a.ends_at, a.status,
       a.reason FROM appointments a JOIN doctors d ON d.id = a.doctor_id WHERE a.id = $1
), audit AS (
    INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
    SELECT $2, $3, 'read', a.patient_id, 'appointment', a.id, $4::jsonb FROM a
)
SELECT * FROM a"""

_CANCEL = """
SELECT * FROM cancel_appointment(cancelled_appointment => $1, for_patient => $2, not_before => $3, in_session => $4,
                                 acting => $5)"""

_APPOINTMENT_STATE = "SELECT patient_id, doctor_id, status, starts_at FROM appointments WHERE id = $1"

# Cancel and insert in one statement: a taken slot or a reused key raises and undoes both.
_RESCHEDULE = """
SELECT * FROM move_appointment(moved_appointment => $1, for_patient => $2, not_before => $3, slot_start => $4,
                               slot_length => $5, to_doctor => $6, booked_via => $7, in_session => $8,
                               request_key => $9, acting => $10)"""

_UPCOMING = """
SELECT * FROM upcoming_appointments(for_patient => $1, not_before => $2, max_rows => $3, in_session => $4,
                                    acting => $5)"""

_AUDIT_DENIED = """
INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
VALUES ($1, $2, 'denied', NULL, $3, NULL, jsonb_build_object('reason', $4::text))"""

# A verified caller reached for an appointment that is not theirs: recorded against the appointment and its
# patient, so the owner's audit trail shows the attempt.
_AUDIT_OTHERS_APPOINTMENT = """
INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
SELECT $1, $2, 'denied', a.patient_id, 'appointment', $3,
       jsonb_build_object('reason', 'not the caller''s appointment', 'caller_patient_id', $4::bigint)
FROM (SELECT 1) one LEFT JOIN appointments a ON a.id = $3"""

_START_CALL = "INSERT INTO call_sessions (room, job_id) VALUES ($1, $2) RETURNING id"

_RECORD_EVENT = """
INSERT INTO call_events (call_session_id, kind, tool, outcome, duration_ms, detail)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)"""

_END_CALL = """
UPDATE call_sessions SET ended_at = greatest(now(), started_at), outcome = $2, patient_id = coalesce($3, patient_id)
WHERE id = $1"""

_ADD_CALLBACK = """
WITH request AS (
    INSERT INTO callback_requests (call_session_id, patient_id, caller_name, callback_phone, message)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING id, patient_id
), audit AS (
    INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
    SELECT $1, $6, 'update', request.patient_id, 'patient', request.patient_id,
           jsonb_build_object('callback_request_id', request.id)
    FROM request WHERE request.patient_id IS NOT NULL
)
SELECT id FROM request"""


def _identity_closed(outcome: str) -> IdentityClosed | None:
    """verify_patient's and register_new_patient's refusals before any comparison."""
    return {
        "refused_call_limit": IdentityClosed("call_limit"),
        "refused_locked": IdentityClosed("locked"),
    }.get(outcome)


def _booked_by(actor_name: str) -> str:
    """appointments.booked_by: staff when the staff console acts, else the agent."""
    return "staff" if actor_name == "staff" else "agent"


def _not_found_for(error: asyncpg.ForeignKeyViolationError) -> NotFound:
    constraint = error.constraint_name or ""
    for column, thing in (("patient_id", "patient"), ("doctor_id", "doctor"), ("call_session_id", "call session")):
        if constraint.endswith(f"{column}_fkey"):
            return NotFound(f"no such {thing}")
    return NotFound("a record it refers to does not exist")


class PostgresHospital:
    """`Hospital` on PostgreSQL through an asyncpg pool (see agent/db/pool.py).

    Times: aware datetimes in any zone; a naive one is wall-clock time in the hospital's zone. Results come
    back in the hospital's zone. "Now" is the injected `clock`, so "never in the past" is testable.
    Slots are `slot_minutes` long and start at a shift's start and every slot length after it.
    Retries: a request that failed on a transient error is repeated on a fresh connection after
    `retry_delays` when that is safe (a read, an idempotent write, or nothing reached the server); otherwise
    it raises DatabaseUnavailable.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        slot_minutes: int,
        timezone: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry_delays: Sequence[float] = (0.1, 0.4, 1.0),
        acquire_timeout: float = 5.0,
    ) -> None:
        if not 5 <= slot_minutes <= 240:
            raise ValueError("slot_minutes must be between 5 and 240")
        self._pool = pool
        self._slot_minutes = slot_minutes
        self._slot = timedelta(minutes=slot_minutes)
        self._zone = timezone
        self._clock = clock
        self._retry_delays = tuple(retry_delays)
        self._acquire_timeout = acquire_timeout

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return now

    def _moment(self, value: object, what: str) -> datetime:
        if not isinstance(value, datetime):
            raise InvalidInput(f"{what} must be a date and time")
        if value.year not in YEARS_ACCEPTED:
            raise InvalidInput(f"{what} is not a plausible date")
        return value if value.tzinfo is not None else value.replace(tzinfo=self._zone)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self._zone)

    def _birth_date(self, value: object) -> date:
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            raise InvalidInput("date_of_birth must be a date")
        if value < EARLIEST_BIRTH_DATE:
            raise InvalidInput("date_of_birth is before 1900")
        if value > self._now().astimezone(self._zone).date():
            raise InvalidInput("date_of_birth is in the future")
        return value

    @staticmethod
    def _actor(actor: Actor) -> tuple[int | None, str]:
        session = None if actor.call_session_id is None else _id(actor.call_session_id, "call_session_id")
        return session, _text(actor.name, "actor name", SHORT_TEXT_MAX)

    async def _run(
        self, operation: str, work: Callable[[asyncpg.Connection], Awaitable[T]], *, safe_to_repeat: bool
    ) -> T:
        """Run `work` on a pooled connection, repeating it after transient failures when that is safe."""
        for attempt in range(len(self._retry_delays) + 1):
            reached_server = False
            try:
                async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
                    reached_server = True
                    return await work(connection)
            except TRANSIENT_ERRORS as error:
                # ids, counts and error classes only: messages can quote row values
                logger.warning(
                    "database call failed",
                    extra={"operation": operation, "attempt": attempt + 1, "error": type(error).__name__},
                )
                if attempt == len(self._retry_delays) or (reached_server and not safe_to_repeat):
                    written = "it may or may not have been saved" if reached_server else "nothing was saved"
                    raise DatabaseUnavailable(f"the hospital's records are unavailable right now ({written})") from None
                await asyncio.sleep(self._retry_delays[attempt])
            except asyncpg.CheckViolationError as error:
                # The checks above run first; these are races with a change to the doctor's shifts, or a rule
                # the database has that the checks here do not repeat.
                if error.constraint_name == "appointments_within_shift":
                    raise BookingRefused("that time is outside the doctor's working hours") from None
                raise InvalidInput(f"a value was refused ({error.constraint_name or 'check'})") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- patients ---------------------------------------------------------------------------------------------

    async def verify_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date | None = None, phone: str | None = None
    ) -> IdentityCheck:
        """Exactly one match verifies: two records with the same name and birth date identify nobody."""
        session, who = self._actor(actor)
        name = name_key(_name(full_name, "full_name"))
        if date_of_birth is None and phone is None:
            raise InvalidInput("give the date of birth or the phone number with the name")
        birth = None if date_of_birth is None else self._birth_date(date_of_birth)
        number = None if phone is None else _phone(phone)
        lookup = "+".join(kind for kind, value in (("dob", birth), ("phone", number)) if value is not None)

        async def work(connection: asyncpg.Connection) -> IdentityCheck:
            try:
                row = await connection.fetchrow(_VERIFY_PATIENT, name, birth, number, session, who, lookup)
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None
            if row["outcome"] == "verified":
                return Verified(_patient(row))
            return _identity_closed(row["outcome"]) or NoMatch()

        # Not repeated: each attempt counts against the limits, and a lost answer must not cost a second one.
        return await self._run("verify_patient", work, safe_to_repeat=False)

    async def register_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date, phone: str, email: str | None = None
    ) -> Registration:
        session, who = self._actor(actor)
        name = _name(full_name, "full_name")
        birth = self._birth_date(date_of_birth)
        number = _phone(phone)
        mail = _email(email)

        async def work(connection: asyncpg.Connection) -> Registration:
            for _ in range(3):
                mrn = f"MRN{secrets.randbelow(9 * 10**9) + 10**9}"
                try:
                    row = await connection.fetchrow(_REGISTER_PATIENT, name, birth, number, mrn, mail, session, who)
                except asyncpg.UniqueViolationError as error:
                    if error.constraint_name != "patients_mrn_key":
                        raise
                    continue  # a random record number collided; draw another
                except asyncpg.ForeignKeyViolationError as error:
                    raise _not_found_for(error) from None
                if row["outcome"] in {"registered", "on_file"}:
                    return Registered(_patient(row), on_file=row["outcome"] == "on_file")
                return _identity_closed(row["outcome"]) or RegistrationRefused()
            raise DatabaseUnavailable("could not allocate a medical record number; try again")

        # A retry finds the first attempt's record on file (same name, birth date and phone): safe to repeat.
        return await self._run("register_patient", work, safe_to_repeat=True)

    # -- directory --------------------------------------------------------------------------------------------

    async def list_departments(self) -> list[Department]:
        async def work(connection: asyncpg.Connection) -> list[Department]:
            return [Department(**dict(row)) for row in await connection.fetch(_DEPARTMENTS)]

        return await self._run("list_departments", work, safe_to_repeat=True)

    async def hospital_info(self) -> dict[str, str]:
        async def work(connection: asyncpg.Connection) -> dict[str, str]:
            return {row["topic"]: row["answer"] for row in await connection.fetch(_HOSPITAL_INFO)}

        return await self._run("hospital_info", work, safe_to_repeat=True)

    async def find_doctors(
        self, *, specialty: str | None = None, name: str | None = None, language: str | None = None
    ) -> list[Doctor]:
        """Active doctors by specialty (any case), words of the name ("Dr Patel"), language code ("es")."""
        wanted = None if specialty is None else _text(specialty, "specialty", 120)
        words = None
        if name is not None:
            words = " ".join(w for w in _name(name, "name").split() if w.lower() not in _TITLES) or None
            if words is None:
                raise InvalidInput("name has no words besides a title")
        spoken = None if language is None else _text(language, "language", 40)

        async def work(connection: asyncpg.Connection) -> list[Doctor]:
            rows = await connection.fetch(_FIND_DOCTORS, wanted, words, spoken, DOCTORS_LIMIT)
            return [_doctor(row) for row in rows]

        return await self._run("find_doctors", work, safe_to_repeat=True)

    async def free_slots(
        self,
        *,
        window_start: datetime,
        window_end: datetime,
        doctor_id: int | None = None,
        specialty: str | None = None,
        limit: int = 3,
    ) -> list[Slot]:
        start = self._moment(window_start, "window_start")
        end = self._moment(window_end, "window_end")
        if end <= start:
            raise InvalidInput("window_end must be after window_start")
        if end - start > MAX_WINDOW:
            raise InvalidInput("the search window is longer than a year")
        doctor = None if doctor_id is None else _id(doctor_id, "doctor_id", INT4_MAX)
        wanted = None if specialty is None else _text(specialty, "specialty", 120)
        if doctor is None and wanted is None:
            raise InvalidInput("give a doctor or a specialty")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SLOTS_LIMIT_MAX:
            raise InvalidInput(f"limit must be between 1 and {SLOTS_LIMIT_MAX}")

        async def work(connection: asyncpg.Connection) -> list[Slot]:
            return await self._free_slots(connection, start, end, doctor=doctor, specialty=wanted, limit=limit)

        return await self._run("free_slots", work, safe_to_repeat=True)

    async def _free_slots(
        self,
        connection: asyncpg.Connection,
        start: datetime,
        end: datetime,
        *,
        doctor: int | None,
        specialty: str | None,
        limit: int,
    ) -> list[Slot]:
        rows = await connection.fetch(_FREE_SLOTS, start, end, doctor, specialty, self._slot, self._now(), limit)
        return [
            Slot(
                doctor_id=row["doctor_id"],
                doctor_name=row["doctor_name"],
                specialty=row["specialty"],
                starts_at=self._local(row["starts_at"]),
                ends_at=self._local(row["ends_at"]),
            )
            for row in rows
        ]

    # -- appointments -----------------------------------------------------------------------------------------

    def _appointment(self, row: asyncpg.Record) -> Appointment:
        return Appointment(
            id=row["id"],
            patient_id=row["patient_id"],
            doctor_id=row["doctor_id"],
            doctor_name=row["doctor_name"],
            specialty=row["specialty"],
            starts_at=self._local(row["starts_at"]),
            ends_at=self._local(row["ends_at"]),
            status=row["status"],
            reason=row["reason"],
        )

    def _future_start(self, value: object, what: str) -> datetime:
        start = self._moment(value, what)
        if start <= self._now():
            raise BookingRefused("that time is in the past")
        return start

    async def _alternatives(self, connection: asyncpg.Connection, doctor: int, after: datetime) -> list[Slot]:
        return await self._free_slots(
            connection, after, after + ALTERNATIVES_WINDOW, doctor=doctor, specialty=None, limit=ALTERNATIVES_LIMIT
        )

    async def _read_appointment(
        self, connection: asyncpg.Connection, appointment_id: int, session: int | None, who: str, why: str
    ) -> Appointment:
        row = await connection.fetchrow(_READ_APPOINTMENT, appointment_id, session, who, json.dumps({"why": why}))
        return self._appointment(row)

    async def _replay(
        self,
        connection: asyncpg.Connection,
        key: uuid.UUID,
        matches: Callable[[asyncpg.Record], bool],
        session: int | None,
        who: str,
    ) -> Booked | None:
        """The first result of a request already made with this idempotency key, if there was one."""
        owner = await connection.fetchrow(_KEY_OWNER, key)
        if owner is None:
            return None
        if not matches(owner):
            raise InvalidInput("idempotency_key was already used for a different request")
        return Booked(await self._read_appointment(connection, owner["id"], session, who, "replay"))

    async def _why_not_inserted(
        self, connection: asyncpg.Connection, doctor: int, start: datetime
    ) -> HospitalError | None:
        """Why the time can't be booked with this doctor, or None when it could be but another booking holds it."""
        return self._refusal(await connection.fetchrow(_SLOT_FACTS, doctor, start, self._slot, None))

    def _refusal(self, facts: asyncpg.Record) -> HospitalError | None:
        """slot_facts' reason the slot can't be booked with that doctor at all (a taken slot is no refusal)."""
        if facts["doctor_active"] is None:
            return NotFound("no such doctor")
        if not facts["doctor_active"]:
            return BookingRefused("that doctor is not taking appointments")
        if not facts["in_shift"]:
            return BookingRefused("that time is outside the doctor's working hours")
        if not facts["on_grid"]:
            return BookingRefused(f"appointments start on the {self._slot_minutes}-minute grid of the doctor's shift")
        return None

    async def book(
        self,
        actor: Actor,
        *,
        patient_id: int,
        doctor_id: int,
        starts_at: datetime,
        reason: str,
        idempotency_key: uuid.UUID,
    ) -> BookingResult:
        who = self._actor(actor)
        patient = _id(patient_id, "patient_id")
        doctor = _id(doctor_id, "doctor_id", INT4_MAX)
        start = self._future_start(starts_at, "starts_at")
        why = _text(reason, "reason", REASON_MAX, required=False)
        key = _key(idempotency_key)

        def same_request(owner: asyncpg.Record) -> bool:
            return (owner["patient_id"], owner["doctor_id"], owner["starts_at"]) == (patient, doctor, start)

        async def work(connection: asyncpg.Connection) -> BookingResult:
            session, name = who
            try:
                row = await connection.fetchrow(
                    _BOOK, patient, doctor, start, self._slot, why, _booked_by(name), session, key, name
                )
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None
            if row is not None:
                return Booked(self._appointment(row))
            # The key first: a retry racing its own first attempt meets that attempt's row in the slot too.
            if (replayed := await self._replay(connection, key, same_request, *who)) is not None:
                return replayed
            if (refusal := await self._why_not_inserted(connection, doctor, start)) is not None:
                raise refusal
            return SlotTaken(await self._alternatives(connection, doctor, start))

        return await self._run("book", work, safe_to_repeat=True)

    async def bookable_slot(
        self, *, doctor_id: int, starts_at: datetime, moving_appointment: int | None = None
    ) -> Slot | SlotTaken:
        doctor = _id(doctor_id, "doctor_id", INT4_MAX)
        start = self._future_start(starts_at, "starts_at")
        moving = None if moving_appointment is None else _id(moving_appointment, "moving_appointment")

        async def work(connection: asyncpg.Connection) -> Slot | SlotTaken:
            facts = await connection.fetchrow(_SLOT_FACTS, doctor, start, self._slot, moving)
            if (refusal := self._refusal(facts)) is not None:
                raise refusal
            if facts["taken"]:
                return SlotTaken(await self._alternatives(connection, doctor, start))
            return Slot(
                doctor, facts["doctor_name"], facts["specialty"], self._local(start), self._local(start + self._slot)
            )

        return await self._run("bookable_slot", work, safe_to_repeat=True)

    async def own_appointment(self, actor: Actor, *, patient_id: int, appointment_id: int) -> Appointment:
        session, who = self._actor(actor)
        patient = _id(patient_id, "patient_id")
        appointment = _id(appointment_id, "appointment_id")

        async def work(connection: asyncpg.Connection) -> Appointment:
            if (refusal := await self._refuse_change(connection, appointment, patient, session, who)) is not None:
                raise refusal
            return await self._read_appointment(connection, appointment, session, who, "read back")

        return await self._run("own_appointment", work, safe_to_repeat=True)

    async def _refuse_change(
        self, connection: asyncpg.Connection, appointment_id: int, patient: int, session: int | None, who: str
    ) -> HospitalError | None:
        """Why the patient's appointment can't be changed, or None when it could be. Reaching for an appointment
        that is not the patient's (or does not exist) is audited as denied."""
        state = await connection.fetchrow(_APPOINTMENT_STATE, appointment_id)
        if state is None or state["patient_id"] != patient:
            await connection.execute(_AUDIT_OTHERS_APPOINTMENT, session, who, appointment_id, patient)
            return NotFound("no such appointment for this patient")
        if state["status"] != "booked":
            return BookingRefused(f"that appointment is already {state['status'].replace('_', ' ')}")
        if state["starts_at"] <= self._now():
            return BookingRefused("that appointment is in the past")
        return None

    async def reschedule(
        self,
        actor: Actor,
        *,
        patient_id: int,
        appointment_id: int,
        new_starts_at: datetime,
        idempotency_key: uuid.UUID,
        new_doctor_id: int | None = None,
    ) -> BookingResult:
        who = self._actor(actor)
        patient = _id(patient_id, "patient_id")
        old_id = _id(appointment_id, "appointment_id")
        start = self._future_start(new_starts_at, "new_starts_at")
        new_doctor = None if new_doctor_id is None else _id(new_doctor_id, "new_doctor_id", INT4_MAX)
        key = _key(idempotency_key)

        def same_request(owner: asyncpg.Record) -> bool:
            return owner["patient_id"] == patient and owner["rescheduled_from"] == old_id

        async def work(connection: asyncpg.Connection) -> BookingResult:
            session, name = who
            try:
                row = await connection.fetchrow(
                    _RESCHEDULE,
                    old_id,
                    patient,
                    self._now(),
                    start,
                    self._slot,
                    new_doctor,
                    _booked_by(name),
                    session,
                    key,
                    name,
                )
            except asyncpg.ExclusionViolationError:
                old = await connection.fetchrow(_APPOINTMENT_STATE, old_id)
                return SlotTaken(await self._alternatives(connection, new_doctor or old["doctor_id"], start))
            except asyncpg.UniqueViolationError:  # the key was used before, or is being used right now
                row = None
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None
            if row is not None:
                return Booked(self._appointment(row))
            if (replayed := await self._replay(connection, key, same_request, *who)) is not None:
                return replayed
            if (refusal := await self._refuse_change(connection, old_id, patient, *who)) is not None:
                raise refusal
            old = await connection.fetchrow(_APPOINTMENT_STATE, old_id)
            refusal = await self._why_not_inserted(connection, new_doctor or old["doctor_id"], start)
            raise refusal or BookingRefused("that appointment was changed meanwhile; check it and try again")

        return await self._run("reschedule", work, safe_to_repeat=True)

    async def cancel(self, actor: Actor, *, patient_id: int, appointment_id: int) -> Appointment:
        """Cancels the patient's own booked future appointment; cancelling it again returns it unchanged."""
        session, who = self._actor(actor)
        patient = _id(patient_id, "patient_id")
        appointment = _id(appointment_id, "appointment_id")

        async def work(connection: asyncpg.Connection) -> Appointment:
            row = await connection.fetchrow(_CANCEL, appointment, patient, self._now(), session, who)
            if row is not None:
                return self._appointment(row)
            state = await connection.fetchrow(_APPOINTMENT_STATE, appointment)
            if state is not None and state["patient_id"] == patient and state["status"] == "cancelled":
                return await self._read_appointment(connection, appointment, session, who, "cancel again")
            refusal = await self._refuse_change(connection, appointment, patient, session, who)
            raise refusal or BookingRefused("that appointment changed meanwhile; try again")

        return await self._run("cancel", work, safe_to_repeat=True)

    async def upcoming_appointments(self, actor: Actor, *, patient_id: int) -> list[Appointment]:
        session, who = self._actor(actor)
        patient = _id(patient_id, "patient_id")

        async def work(connection: asyncpg.Connection) -> list[Appointment]:
            rows = await connection.fetch(_UPCOMING, patient, self._now(), UPCOMING_LIMIT, session, who)
            if not rows[0]["patient_exists"]:
                raise NotFound("no such patient")
            return [self._appointment(row) for row in rows if row["id"] is not None]

        return await self._run("upcoming_appointments", work, safe_to_repeat=True)

    async def audit_denied(self, actor: Actor, *, entity: Literal["patient", "appointment"], reason: str) -> None:
        session, who = self._actor(actor)
        if entity not in {"patient", "appointment"}:
            raise InvalidInput("entity must be patient or appointment")
        why = _text(reason, "reason", SHORT_TEXT_MAX * 2)

        async def work(connection: asyncpg.Connection) -> None:
            try:
                await connection.execute(_AUDIT_DENIED, session, who, entity, why)
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None

        await self._run("audit_denied", work, safe_to_repeat=False)

    # -- calls --------------------------------------------------------------------------------------------------

    async def start_call(self, *, room: str, job_id: str | None) -> int:
        name = _text(room, "room", ROOM_MAX)
        job = None if job_id is None else _text(job_id, "job_id", ROOM_MAX)

        async def work(connection: asyncpg.Connection) -> int:
            return await connection.fetchval(_START_CALL, name, job)

        return await self._run("start_call", work, safe_to_repeat=False)

    async def record_event(
        self,
        call_session_id: int,
        kind: CallEventKind,
        *,
        tool: str | None = None,
        outcome: str | None = None,
        duration_ms: float | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        session = _id(call_session_id, "call_session_id")
        if kind not in _EVENT_KINDS:
            raise InvalidInput("unknown event kind")
        tool_name = None if tool is None else _text(tool, "tool", SHORT_TEXT_MAX)
        result = None if outcome is None else _text(outcome, "outcome", SHORT_TEXT_MAX)
        if duration_ms is not None and (
            isinstance(duration_ms, bool)
            or not isinstance(duration_ms, int | float)
            or not math.isfinite(duration_ms)
            or duration_ms < 0
        ):
            raise InvalidInput("duration_ms must be a finite number of milliseconds, zero or more")
        try:
            payload = json.dumps(detail or {}, allow_nan=False)
        except (TypeError, ValueError):
            raise InvalidInput("detail must be plain JSON (ids and codes)") from None
        if len(payload) > DETAIL_JSON_MAX or "\\u0000" in payload:
            raise InvalidInput("detail is too large or holds characters that can't be stored")

        async def work(connection: asyncpg.Connection) -> None:
            try:
                await connection.execute(_RECORD_EVENT, session, kind, tool_name, result, duration_ms, payload)
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None

        await self._run("record_event", work, safe_to_repeat=False)

    async def end_call(self, call_session_id: int, *, outcome: CallOutcome, patient_id: int | None = None) -> None:
        session = _id(call_session_id, "call_session_id")
        if outcome not in _OUTCOMES:
            raise InvalidInput("unknown call outcome")
        patient = None if patient_id is None else _id(patient_id, "patient_id")

        async def work(connection: asyncpg.Connection) -> None:
            try:
                status = await connection.execute(_END_CALL, session, outcome, patient)
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None
            if status == "UPDATE 0":
                raise NotFound("no such call session")

        await self._run("end_call", work, safe_to_repeat=True)

    async def add_callback_request(
        self,
        actor: Actor,
        *,
        caller_name: str,
        callback_phone: str,
        message: str,
        patient_id: int | None = None,
    ) -> int:
        session, who = self._actor(actor)
        name = _name(caller_name, "caller_name")
        number = _phone(callback_phone, "callback_phone")
        text = _text(message, "message", MESSAGE_MAX)
        patient = None if patient_id is None else _id(patient_id, "patient_id")

        async def work(connection: asyncpg.Connection) -> int:
            try:
                return await connection.fetchval(_ADD_CALLBACK, session, patient, name, number, text, who)
            except asyncpg.ForeignKeyViolationError as error:
                raise _not_found_for(error) from None

        return await self._run("add_callback_request", work, safe_to_repeat=False)

"""The data layer's vocabulary: the records it returns, the outcomes of its checks, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal


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

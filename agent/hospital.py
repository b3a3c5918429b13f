"""The hospital's data, as the receptionist sees it: a typed interface and its PostgreSQL implementation.

Call path: caller -> agent tool (agent/receptionist.py) -> this module -> SQL (migrations/).
Every method that reads or changes a patient's record writes an audit row in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol


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

CallEventKind = Literal[
    "call_started", "user_turn", "agent_turn", "verified", "verification_failed", "tool_call",
    "booking_created", "booking_moved", "booking_cancelled", "patient_registered",
    "emergency", "handoff", "call_ended",
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

    async def find_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date | None = None, phone: str | None = None
    ) -> Patient | None:
        """Identity check: full name plus date of birth, or full name plus phone. None when nobody matches."""

    async def register_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date, phone: str, email: str | None = None
    ) -> Patient: ...

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

    async def cancel(self, actor: Actor, *, patient_id: int, appointment_id: int) -> Appointment: ...

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

    async def end_call(
        self, call_session_id: int, *, outcome: CallOutcome, patient_id: int | None = None
    ) -> None: ...

    async def add_callback_request(
        self,
        actor: Actor,
        *,
        caller_name: str,
        callback_phone: str,
        message: str,
        patient_id: int | None = None,
    ) -> int: ...

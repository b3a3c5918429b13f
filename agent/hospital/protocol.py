"""What the receptionist needs from the hospital's records, as typed interfaces: `Hospital` for patients,
the directory and appointments, and `CallJournal` for recording calls."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal, Protocol

from agent.hospital.records import (
    Actor,
    Appointment,
    BookingResult,
    CallEventKind,
    CallOutcome,
    Department,
    Doctor,
    IdentityCheck,
    Registration,
    Slot,
    SlotTaken,
)


class CallJournal(Protocol):
    """A call's record: opened when the call starts, events appended, closed with its outcome."""

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


class Hospital(CallJournal, Protocol):
    """The operations the receptionist needs, the call journal's included. Times are timezone-aware; windows are
    [start, end)."""

    async def verify_patient(
        self,
        actor: Actor,
        *,
        full_name: str,
        date_of_birth: date | None = None,
        phone: str | None = None,
        phone_is_caller_id: bool = False,
    ) -> IdentityCheck:
        """Identity check: full name plus date of birth, or full name plus phone, within the database's attempt
        limits (per call and per name; see migrations/0006_identity_and_schedule_locks.sql). `phone_is_caller_id`
        says the phone came from the call's caller ID, not the caller's words (the audit log names it)."""

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

    async def add_callback_request(
        self,
        actor: Actor,
        *,
        caller_name: str,
        callback_phone: str,
        message: str,
        patient_id: int | None = None,
    ) -> int: ...

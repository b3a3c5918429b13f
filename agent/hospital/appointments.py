"""Appointments on PostgreSQL: free slots, and booking, moving and cancelling a patient's own appointments.

Shift lookups use the (doctor_id, starts_at) index, bounded below by the 24-hour maximum shift length; races
between bookings are settled by the exclusion constraint, not by a read before the write, and a booking and a
shift change of one doctor by the doctor's row lock their triggers take.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from agent.hospital import rules
from agent.hospital.records import (
    Actor,
    Appointment,
    Booked,
    BookingRefused,
    BookingResult,
    HospitalError,
    InvalidInput,
    NotFound,
    Slot,
    SlotTaken,
)
from agent.hospital.store import PostgresStore, not_found_for

MAX_WINDOW = timedelta(days=366)
ALTERNATIVES_WINDOW = timedelta(days=14)
ALTERNATIVES_LIMIT = 3
SLOTS_LIMIT_MAX = 50
UPCOMING_LIMIT = 20

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


def _booked_by(actor_name: str) -> str:
    """appointments.booked_by: staff when the staff console acts, else the agent."""
    return "staff" if actor_name == "staff" else "agent"


class PostgresAppointments(PostgresStore):
    """The appointment operations of `Hospital` on PostgreSQL."""

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
        doctor = None if doctor_id is None else rules.record_id(doctor_id, "doctor_id", rules.INT4_MAX)
        wanted = None if specialty is None else rules.plain_text(specialty, "specialty", rules.SPECIALTY_MAX)
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

    # -- a patient's appointments -----------------------------------------------------------------------------

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
        patient = rules.record_id(patient_id, "patient_id")
        doctor = rules.record_id(doctor_id, "doctor_id", rules.INT4_MAX)
        start = self._future_start(starts_at, "starts_at")
        why = rules.plain_text(reason, "reason", rules.REASON_MAX, required=False)
        key = rules.request_key(idempotency_key)

        def same_request(owner: asyncpg.Record) -> bool:
            return (owner["patient_id"], owner["doctor_id"], owner["starts_at"]) == (patient, doctor, start)

        async def work(connection: asyncpg.Connection) -> BookingResult:
            session, name = who
            try:
                row = await connection.fetchrow(
                    _BOOK, patient, doctor, start, self._slot, why, _booked_by(name), session, key, name
                )
            except asyncpg.ForeignKeyViolationError as error:
                raise not_found_for(error) from None
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
        doctor = rules.record_id(doctor_id, "doctor_id", rules.INT4_MAX)
        start = self._future_start(starts_at, "starts_at")
        moving = None if moving_appointment is None else rules.record_id(moving_appointment, "moving_appointment")

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
        patient = rules.record_id(patient_id, "patient_id")
        appointment = rules.record_id(appointment_id, "appointment_id")

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
        patient = rules.record_id(patient_id, "patient_id")
        old_id = rules.record_id(appointment_id, "appointment_id")
        start = self._future_start(new_starts_at, "new_starts_at")
        new_doctor = None if new_doctor_id is None else rules.record_id(new_doctor_id, "new_doctor_id", rules.INT4_MAX)
        key = rules.request_key(idempotency_key)

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
                raise not_found_for(error) from None
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
        patient = rules.record_id(patient_id, "patient_id")
        appointment = rules.record_id(appointment_id, "appointment_id")

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
        patient = rules.record_id(patient_id, "patient_id")

        async def work(connection: asyncpg.Connection) -> list[Appointment]:
            rows = await connection.fetch(_UPCOMING, patient, self._now(), UPCOMING_LIMIT, session, who)
            if not rows[0]["patient_exists"]:
                raise NotFound("no such patient")
            return [self._appointment(row) for row in rows if row["id"] is not None]

        return await self._run("upcoming_appointments", work, safe_to_repeat=True)

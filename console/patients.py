"""Patients and appointments on a caller's behalf, through the agent's own database functions.

Searching runs staff_find_patients (migrations/0007_console.sql: the console's only way to read patients, audited
per patient). Upcoming, free slots, book, move and cancel run the agent's upcoming_appointments, free_slots,
book_appointment, move_appointment and cancel_appointment (migrations/0004_free_slots.sql,
0005_call_functions.sql) through their staff_* wrappers (0009_console_read_audit.sql,
0010_console_appointment_functions.sql), which run them with their owner's rights: the console's role has no right
on patients or appointments. They are the statements and constraints the agent's calls run, with the staff member
as the audited actor and 'staff' as booked_by. There is no second copy of their rules: a refusal here is what the
database decided.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row

from console.identity import Identity
from console.schedule import FreeSlot, day_window

SEARCH_LIMIT = 20
UPCOMING_LIMIT = 20
REASON_MAX = 500
SLOTS_LIMIT = 200


class Refused(Exception):
    """The database (or a field check) refused the request; the message is safe to show beside the form."""


@dataclass(frozen=True)
class PatientRecord:
    id: int
    mrn: str
    full_name: str
    date_of_birth: date
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Appointment:
    id: int
    doctor_id: int
    doctor_name: str
    specialty: str
    starts_at: datetime
    ends_at: datetime
    reason: str


@dataclass(frozen=True)
class DoctorChoice:
    id: int
    full_name: str
    specialty: str


def check_search_term(term: str) -> str:
    text = term.strip()
    if not 2 <= len(text) <= 200:
        raise Refused("type 2 to 200 characters: part of a name, a phone number or a record number")
    if any(unicodedata.category(char) in {"Cc", "Cs"} for char in text):
        raise Refused("the search holds characters that can't be searched for")
    return text


def check_reason(reason: str) -> str:
    text = reason.strip()
    if len(text) > REASON_MAX:
        raise Refused(f"the reason is at most {REASON_MAX} characters")
    if any(unicodedata.category(char) in {"Cc", "Cs"} for char in text if char not in "\t\n"):
        raise Refused("the reason holds characters that can't be stored")
    return text


def search(conn: psycopg.Connection, who: Identity, term: str) -> list[PatientRecord]:
    with conn.cursor(row_factory=class_row(PatientRecord)) as cur:
        return cur.execute(
            "SELECT * FROM staff_find_patients(term => %s, acting => %s, max_rows => %s)",
            (check_search_term(term), who.actor, SEARCH_LIMIT),
        ).fetchall()


_UPCOMING = """
SELECT id, doctor_id, doctor_name, specialty, starts_at, ends_at, reason
FROM staff_upcoming_appointments(for_patient => %s, not_before => %s, max_rows => %s, acting => %s)
WHERE id IS NOT NULL"""


def upcoming(
    conn: psycopg.Connection, who: Identity, patient_id: int, *, now: datetime, zone: ZoneInfo
) -> list[Appointment]:
    with conn.cursor(row_factory=class_row(Appointment)) as cur:
        rows = cur.execute(_UPCOMING, (patient_id, now, UPCOMING_LIMIT, who.actor)).fetchall()
    return [_local(row, zone) for row in rows]


def doctors(conn: psycopg.Connection) -> list[DoctorChoice]:
    with conn.cursor(row_factory=class_row(DoctorChoice)) as cur:
        return cur.execute(
            "SELECT id, full_name, specialty FROM find_doctors(of_specialty => NULL, named => NULL, "
            "speaking => NULL, max_rows => 200)"
        ).fetchall()


def free_slots(
    conn: psycopg.Connection, doctor_id: int, day: date, zone: ZoneInfo, *, slot_minutes: int, now: datetime
) -> list[FreeSlot]:
    start, end = day_window(day, zone)
    with conn.cursor(row_factory=class_row(FreeSlot)) as cur:
        rows = cur.execute(
            "SELECT doctor_id, doctor_name, specialty, starts_at, ends_at FROM staff_free_slots(window_start => %s, "
            "window_end => %s, only_doctor => %s, slot_length => %s, not_before => %s, max_slots => %s)",
            (start, end, doctor_id, timedelta(minutes=slot_minutes), now, SLOTS_LIMIT),
        ).fetchall()
    return [
        FreeSlot(s.doctor_id, s.doctor_name, s.specialty, s.starts_at.astimezone(zone), s.ends_at.astimezone(zone))
        for s in rows
    ]


# The wrappers fix booked_by 'staff', no call session, and (moving, cancelling) only appointments after the
# database's now.
_BOOK = """
SELECT id, doctor_id, doctor_name, specialty, starts_at, ends_at, reason
FROM staff_book_appointment(for_patient => %s, with_doctor => %s, slot_start => %s, slot_length => %s,
                            visit_reason => %s, request_key => %s, acting => %s)"""

_MOVE = """
SELECT id, doctor_id, doctor_name, specialty, starts_at, ends_at, reason
FROM staff_move_appointment(moved_appointment => %s, for_patient => %s, slot_start => %s, slot_length => %s,
                            request_key => %s, acting => %s)"""

_CANCEL = """
SELECT id, doctor_id, doctor_name, specialty, starts_at, ends_at, reason
FROM staff_cancel_appointment(cancelled_appointment => %s, for_patient => %s, acting => %s)"""


def _future(starts_at: datetime, now: datetime) -> datetime:
    if starts_at <= now:
        raise Refused("that time has passed: pick a later slot")
    return starts_at


def book(
    conn: psycopg.Connection,
    who: Identity,
    *,
    patient_id: int,
    doctor_id: int,
    starts_at: datetime,
    reason: str,
    slot_minutes: int,
    request_key: uuid.UUID,
    now: datetime,
) -> Appointment:
    """Book a free slot; Refused when the database inserted nothing (taken meanwhile, or not on the schedule)."""
    why = check_reason(reason)
    with conn.transaction(), conn.cursor(row_factory=class_row(Appointment)) as cur:
        try:
            row = cur.execute(
                _BOOK,
                (
                    patient_id,
                    doctor_id,
                    _future(starts_at, now),
                    timedelta(minutes=slot_minutes),
                    why,
                    request_key,
                    who.actor,
                ),
            ).fetchone()
        except psycopg.errors.ForeignKeyViolation:
            raise Refused("that patient or doctor no longer exists") from None
    if row is None:
        raise Refused("that slot is no longer free (or not on the doctor's schedule): pick another")
    return row


def move(
    conn: psycopg.Connection,
    who: Identity,
    *,
    patient_id: int,
    appointment_id: int,
    starts_at: datetime,
    slot_minutes: int,
    request_key: uuid.UUID,
    now: datetime,
) -> Appointment:
    """Move a booked future appointment to a free slot of the same doctor, in one statement."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Appointment)) as cur:
        try:
            row = cur.execute(
                _MOVE,
                (
                    appointment_id,
                    patient_id,
                    _future(starts_at, now),
                    timedelta(minutes=slot_minutes),
                    request_key,
                    who.actor,
                ),
            ).fetchone()
        except (psycopg.errors.ExclusionViolation, psycopg.errors.UniqueViolation):
            raise Refused("that slot is no longer free: pick another") from None
    if row is None:
        raise Refused("that appointment can't be moved there (changed meanwhile, in the past, or off the schedule)")
    return row


def cancel(conn: psycopg.Connection, who: Identity, *, patient_id: int, appointment_id: int) -> None:
    with conn.transaction():
        row = conn.execute(_CANCEL, (appointment_id, patient_id, who.actor)).fetchone()
    if row is None:
        raise Refused("that appointment can't be cancelled (already cancelled, or in the past)")


def _local(row: Appointment, zone: ZoneInfo) -> Appointment:
    return Appointment(
        row.id,
        row.doctor_id,
        row.doctor_name,
        row.specialty,
        row.starts_at.astimezone(zone),
        row.ends_at.astimezone(zone),
        row.reason,
    )

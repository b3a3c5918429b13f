"""Today: each doctor's shifts, booked appointments and free slots on one day of the hospital's calendar.

No patient is named here (the Patients page reads records, audited): a booked slot shows its doctor, its time and
who booked it, read through staff_booked_slots (migrations/0010_console_appointment_functions.sql), since the
console's role has no right on appointments.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row

MAX_FREE_SLOTS = 5000  # a day of every doctor's slots, with room to spare


@dataclass(frozen=True)
class Shift:
    doctor_id: int
    doctor_name: str
    specialty: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Booking:
    doctor_id: int
    doctor_name: str
    starts_at: datetime
    ends_at: datetime
    booked_by: str


@dataclass(frozen=True)
class FreeSlot:
    doctor_id: int
    doctor_name: str
    specialty: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Day:
    shifts: list[Shift]
    bookings: list[Booking]
    free: list[FreeSlot]

    def load(self) -> list[dict[str, object]]:
        """Booked and free slots per doctor on shift, for the day's chart."""
        booked = Counter(booking.doctor_name for booking in self.bookings)
        free = Counter(slot.doctor_name for slot in self.free)
        doctors = sorted({shift.doctor_name for shift in self.shifts} | booked.keys() | free.keys())
        return [{"doctor": name, "booked": booked[name], "free": free[name]} for name in doctors]


Row = TypeVar("Row", Shift, Booking, FreeSlot)


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight): 23 or 25 hours on the days clocks change."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


_SHIFTS = """
SELECT s.doctor_id, d.full_name AS doctor_name, d.specialty, s.starts_at, s.ends_at
FROM shifts s JOIN doctors d ON d.id = s.doctor_id
WHERE s.starts_at < %(end)s AND s.ends_at > %(start)s AND s.starts_at > %(start)s - interval '24 hours'
ORDER BY d.full_name, s.starts_at"""

_BOOKINGS = """
SELECT doctor_id, doctor_name, starts_at, ends_at, booked_by
FROM staff_booked_slots(window_start => %(start)s, window_end => %(end)s)"""

# The agent's own free-slot function (migrations/0004_free_slots.sql), for every active doctor, through its
# owner's-rights wrapper.
_FREE = """
SELECT doctor_id, doctor_name, specialty, starts_at, ends_at
FROM staff_free_slots(window_start => %(start)s, window_end => %(end)s, only_doctor => NULL,
                      slot_length => %(slot)s, not_before => %(not_before)s, max_slots => %(limit)s)"""


def load_day(conn: psycopg.Connection, day: date, zone: ZoneInfo, *, slot_minutes: int, now: datetime) -> Day:
    start, end = day_window(day, zone)
    window = {"start": start, "end": end}
    with conn.cursor(row_factory=class_row(Shift)) as cur:
        shifts = cur.execute(_SHIFTS, window).fetchall()
    with conn.cursor(row_factory=class_row(Booking)) as cur:
        bookings = cur.execute(_BOOKINGS, window).fetchall()
    with conn.cursor(row_factory=class_row(FreeSlot)) as cur:
        free = cur.execute(
            _FREE, {**window, "slot": timedelta(minutes=slot_minutes), "not_before": now, "limit": MAX_FREE_SLOTS}
        ).fetchall()
    return Day(
        shifts=[_local(s, zone) for s in shifts],
        bookings=[_local(b, zone) for b in bookings],
        free=[_local(f, zone) for f in free],
    )


def _local(row: Row, zone: ZoneInfo) -> Row:
    return replace(row, starts_at=row.starts_at.astimezone(zone), ends_at=row.ends_at.astimezone(zone))

"""The data layer: the hospital's records as the receptionist sees them.

Call path: caller -> tool (agent/tools/) -> `Hospital` (protocol.py), implemented on PostgreSQL by
`PostgresHospital` (postgres.py, appointments.py, journal.py) -> SQL (migrations/). Every argument is checked
against the stored-value rules (rules.py) before any SQL runs. Every method that reads or changes a patient's
record writes an audit row in the same transaction (most do it in the same statement, as a data-modifying
CTE, so one round trip serves both).

Parameters are always bound, never formatted in. The frequent patient and appointment statements are database
functions (migrations/0004_free_slots.sql, 0005_call_functions.sql, 0006_identity_and_schedule_locks.sql, where
their rules are commented): planned once per server connection there, where a statement sent as text is planned
on every call behind a pooler. The implementation keeps no session state (no SET, no advisory locks, no
LISTEN), so it runs unchanged through RDS Proxy and PgBouncer in transaction mode (see pool.py).
"""

from agent.hospital.postgres import PostgresHospital
from agent.hospital.protocol import CallJournal, Hospital
from agent.hospital.records import (
    Actor,
    Appointment,
    AppointmentStatus,
    Booked,
    BookingRefused,
    BookingResult,
    CallEventKind,
    CallOutcome,
    DatabaseUnavailable,
    Department,
    Doctor,
    HospitalError,
    IdentityCheck,
    IdentityClosed,
    InvalidInput,
    NoMatch,
    NotFound,
    Patient,
    Registered,
    Registration,
    RegistrationRefused,
    Slot,
    SlotTaken,
    Verified,
)
from agent.hospital.rules import name_key

__all__ = [
    "Actor",
    "Appointment",
    "AppointmentStatus",
    "Booked",
    "BookingRefused",
    "BookingResult",
    "CallEventKind",
    "CallJournal",
    "CallOutcome",
    "DatabaseUnavailable",
    "Department",
    "Doctor",
    "Hospital",
    "HospitalError",
    "IdentityCheck",
    "IdentityClosed",
    "InvalidInput",
    "NoMatch",
    "NotFound",
    "Patient",
    "PostgresHospital",
    "Registered",
    "Registration",
    "RegistrationRefused",
    "Slot",
    "SlotTaken",
    "Verified",
    "name_key",
]

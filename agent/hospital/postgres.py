"""`Hospital` on PostgreSQL: patients and their identity checks, the directory, callbacks and the audit of refusals,
with the appointments (agent/hospital/appointments.py) and the call journal (agent/hospital/journal.py).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Literal

import asyncpg

from agent.hospital import rules
from agent.hospital.appointments import PostgresAppointments
from agent.hospital.journal import PostgresCallJournal
from agent.hospital.records import (
    Actor,
    DatabaseUnavailable,
    Department,
    Doctor,
    IdentityCheck,
    IdentityClosed,
    InvalidInput,
    NoMatch,
    Patient,
    Registered,
    Registration,
    RegistrationRefused,
    Verified,
)
from agent.hospital.store import not_found_for

DOCTORS_LIMIT = 50
_TITLES = {"dr", "dr.", "doctor", "prof", "prof.", "professor"}

_VERIFY_PATIENT = """
SELECT * FROM verify_patient(name_given => $1, born => $2, phone_given => $3, in_session => $4, acting => $5,
                             lookup => $6)"""

_REGISTER_PATIENT = """
SELECT * FROM register_new_patient(name_given => $1, born => $2, phone_given => $3, new_mrn => $4,
                                   email_given => $5, in_session => $6, acting => $7)"""

_DEPARTMENTS = "SELECT id, name, location, phone_extension, description FROM departments ORDER BY name"

_HOSPITAL_INFO = "SELECT topic, answer FROM hospital_info ORDER BY topic"

_FIND_DOCTORS = "SELECT * FROM find_doctors(of_specialty => $1, named => $2, speaking => $3, max_rows => $4)"

_AUDIT_DENIED = """
INSERT INTO audit_log (call_session_id, actor, action, patient_id, entity, entity_id, detail)
VALUES ($1, $2, 'denied', NULL, $3, NULL, jsonb_build_object('reason', $4::text))"""

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


class PostgresHospital(PostgresAppointments, PostgresCallJournal):
    """`Hospital` on PostgreSQL through an asyncpg pool (see agent/hospital/pool.py).

    Times: aware datetimes in any zone; a naive one is wall-clock time in the hospital's zone. Results come
    back in the hospital's zone. "Now" is the injected `clock`, so "never in the past" is testable.
    Slots are `slot_minutes` long and start at a shift's start and every slot length after it.
    Retries: a request that failed on a transient error is repeated on a fresh connection after
    `retry_delays` when that is safe (a read, an idempotent write, or nothing reached the server); otherwise
    it raises DatabaseUnavailable.
    """

    # -- patients ---------------------------------------------------------------------------------------------

    async def verify_patient(
        self,
        actor: Actor,
        *,
        full_name: str,
        date_of_birth: date | None = None,
        phone: str | None = None,
        phone_is_caller_id: bool = False,
    ) -> IdentityCheck:
        """Exactly one match verifies: two records with the same name and birth date identify nobody."""
        session, who = self._actor(actor)
        name = rules.name_key(rules.name(full_name, "full_name"))
        if date_of_birth is None and phone is None:
            raise InvalidInput("give the date of birth or the phone number with the name")
        birth = None if date_of_birth is None else self._birth_date(date_of_birth)
        number = None if phone is None else rules.phone(phone)
        phone_kind = "caller_id" if phone_is_caller_id else "phone"
        lookup = "+".join(kind for kind, value in (("dob", birth), (phone_kind, number)) if value is not None)

        async def work(connection: asyncpg.Connection) -> IdentityCheck:
            try:
                row = await connection.fetchrow(_VERIFY_PATIENT, name, birth, number, session, who, lookup)
            except asyncpg.ForeignKeyViolationError as error:
                raise not_found_for(error) from None
            if row["outcome"] == "verified":
                return Verified(_patient(row))
            return _identity_closed(row["outcome"]) or NoMatch()

        # Not repeated: each attempt counts against the limits, and a lost answer must not cost a second one.
        return await self._run("verify_patient", work, safe_to_repeat=False)

    async def register_patient(
        self, actor: Actor, *, full_name: str, date_of_birth: date, phone: str, email: str | None = None
    ) -> Registration:
        session, who = self._actor(actor)
        name = rules.name(full_name, "full_name")
        birth = self._birth_date(date_of_birth)
        number = rules.phone(phone)
        mail = rules.email(email)

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
                    raise not_found_for(error) from None
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
        wanted = None if specialty is None else rules.plain_text(specialty, "specialty", rules.SPECIALTY_MAX)
        words = None
        if name is not None:
            words = " ".join(w for w in rules.name(name, "name").split() if w.lower() not in _TITLES) or None
            if words is None:
                raise InvalidInput("name has no words besides a title")
        spoken = None if language is None else rules.plain_text(language, "language", rules.LANGUAGE_MAX)

        async def work(connection: asyncpg.Connection) -> list[Doctor]:
            rows = await connection.fetch(_FIND_DOCTORS, wanted, words, spoken, DOCTORS_LIMIT)
            return [_doctor(row) for row in rows]

        return await self._run("find_doctors", work, safe_to_repeat=True)

    async def audit_denied(self, actor: Actor, *, entity: Literal["patient", "appointment"], reason: str) -> None:
        session, who = self._actor(actor)
        if entity not in {"patient", "appointment"}:
            raise InvalidInput("entity must be patient or appointment")
        why = rules.plain_text(reason, "reason", rules.SHORT_TEXT_MAX * 2)

        async def work(connection: asyncpg.Connection) -> None:
            try:
                await connection.execute(_AUDIT_DENIED, session, who, entity, why)
            except asyncpg.ForeignKeyViolationError as error:
                raise not_found_for(error) from None

        await self._run("audit_denied", work, safe_to_repeat=False)

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
        name = rules.name(caller_name, "caller_name")
        number = rules.phone(callback_phone, "callback_phone")
        text = rules.plain_text(message, "message", rules.MESSAGE_MAX)
        patient = None if patient_id is None else rules.record_id(patient_id, "patient_id")

        async def work(connection: asyncpg.Connection) -> int:
            try:
                return await connection.fetchval(_ADD_CALLBACK, session, patient, name, number, text, who)
            except asyncpg.ForeignKeyViolationError as error:
                raise not_found_for(error) from None

        return await self._run("add_callback_request", work, safe_to_repeat=False)

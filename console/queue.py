"""Needs a person: callback requests and calls the agent handed off or flagged, as a queue staff work through.

A queue item is a callback request, or a handed-off/emergency call that left none. Emergencies come first, then
the oldest. Claiming, notes and resolving live in follow_ups and follow_up_notes (migrations/0007_console.sql);
each writes an audit row when the item is about a known patient. Reading the list is audited in the database: one
row per person per staff member per console session, when that person first shows.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import psycopg
from psycopg.rows import class_row

from console.identity import Identity

Source = Literal["callback", "call"]
NOTE_MAX = 2000
QUEUE_LIMIT = 200


class QueueRefused(Exception):
    """The action can't be done (taken by someone else, already resolved, bad note). Safe to show."""


@dataclass(frozen=True)
class QueueItem:
    source: Source
    subject_id: int
    emergency: bool
    created_at: datetime
    call_session_id: int | None
    patient_id: int | None
    caller_name: str | None
    callback_phone: str | None
    message: str | None
    outcome: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    notes: list[str]

    @property
    def key(self) -> str:
        return f"{self.source}-{self.subject_id}"


# staff_open_queue (migrations/0009_console_read_audit.sql) reads the queue with its owner's rights and audits
# each person it shows this staff member for the first time in this console session.
_OPEN_ITEMS = """
SELECT source, subject_id, emergency, created_at, call_session_id, patient_id, caller_name, callback_phone, message,
       outcome, claimed_by, claimed_at, notes
FROM staff_open_queue(acting => %(acting)s, viewing_session => %(session)s, zone => %(zone)s, max_rows => %(limit)s)"""


def open_items(conn: psycopg.Connection, who: Identity, *, session: uuid.UUID, zone: str) -> list[QueueItem]:
    """The open items, emergencies first; audited once per person shown to `who` in console `session`."""
    params = {"acting": who.actor, "session": session, "zone": zone, "limit": QUEUE_LIMIT}
    with conn.cursor(row_factory=class_row(QueueItem)) as cur:
        return cur.execute(_OPEN_ITEMS, params).fetchall()


_SUBJECT_COLUMN = {"callback": "callback_request_id", "call": "call_session_id"}

_SUBJECT = {
    "callback": "SELECT patient_id FROM callback_requests WHERE id = %(id)s",
    "call": "SELECT patient_id FROM call_sessions WHERE id = %(id)s",
}


def _follow_up(conn: psycopg.Connection, source: Source, subject_id: int) -> tuple[int, int | None, str | None]:
    """The follow-up row of this item (created on first touch, locked): its id, the patient, who claimed it."""
    if source not in _SUBJECT_COLUMN:
        raise QueueRefused("unknown kind of queue item")
    subject = conn.execute(_SUBJECT[source], {"id": subject_id}).fetchone()
    if subject is None:
        raise QueueRefused("no such queue item")
    column = _SUBJECT_COLUMN[source]
    conn.execute(
        f"INSERT INTO follow_ups ({column}) VALUES (%(id)s) ON CONFLICT DO NOTHING",  # noqa: S608 - fixed names
        {"id": subject_id},
    )
    row = conn.execute(
        f"SELECT id, claimed_by, resolved_at FROM follow_ups WHERE {column} = %(id)s FOR UPDATE",  # noqa: S608
        {"id": subject_id},
    ).fetchone()
    if row[2] is not None:
        raise QueueRefused("this item is already resolved")
    return row[0], subject[0], row[1]


def _audit(conn: psycopg.Connection, who: Identity, patient_id: int | None, follow_up_id: int, what: str) -> None:
    if patient_id is None:
        return
    conn.execute(
        "INSERT INTO audit_log (actor, action, patient_id, entity, entity_id, detail) "
        "VALUES (%s, 'update', %s, 'patient', %s, jsonb_build_object('follow_up_id', %s::bigint, 'did', %s::text))",
        (who.actor, patient_id, patient_id, follow_up_id, what),
    )


def _claim_for(conn: psycopg.Connection, who: Identity, follow_up_id: int, claimed_by: str | None) -> None:
    if claimed_by is not None and claimed_by != who.actor:
        raise QueueRefused(f"already claimed by {claimed_by.removeprefix('staff:')}")
    if claimed_by is None:
        conn.execute(
            "UPDATE follow_ups SET claimed_by = %s, claimed_at = now() WHERE id = %s", (who.actor, follow_up_id)
        )


def claim(conn: psycopg.Connection, who: Identity, source: Source, subject_id: int) -> None:
    with conn.transaction():
        follow_up_id, patient_id, claimed_by = _follow_up(conn, source, subject_id)
        if claimed_by == who.actor:
            return
        _claim_for(conn, who, follow_up_id, claimed_by)
        _audit(conn, who, patient_id, follow_up_id, "claim")


def check_note(text: str) -> str:
    """The note as stored, or QueueRefused saying what is wrong with it."""
    note = text.strip()
    if not note:
        raise QueueRefused("write a note first")
    if len(note) > NOTE_MAX:
        raise QueueRefused(f"a note is at most {NOTE_MAX} characters")
    if any(unicodedata.category(char) in {"Cc", "Cs"} for char in note if char not in "\t\n"):
        raise QueueRefused("the note holds characters that can't be stored")
    return note


def add_note(conn: psycopg.Connection, who: Identity, source: Source, subject_id: int, text: str) -> None:
    note = check_note(text)
    with conn.transaction():
        follow_up_id, patient_id, claimed_by = _follow_up(conn, source, subject_id)
        _claim_for(conn, who, follow_up_id, claimed_by)
        conn.execute(
            "INSERT INTO follow_up_notes (follow_up_id, author, note) VALUES (%s, %s, %s)",
            (follow_up_id, who.actor, note),
        )
        _audit(conn, who, patient_id, follow_up_id, "note")


def resolve(conn: psycopg.Connection, who: Identity, source: Source, subject_id: int) -> None:
    with conn.transaction():
        follow_up_id, patient_id, claimed_by = _follow_up(conn, source, subject_id)
        _claim_for(conn, who, follow_up_id, claimed_by)
        conn.execute(
            "UPDATE follow_ups SET resolved_by = %s, resolved_at = now() WHERE id = %s", (who.actor, follow_up_id)
        )
        if source == "callback":
            conn.execute("UPDATE callback_requests SET status = 'done' WHERE id = %s", (subject_id,))
        _audit(conn, who, patient_id, follow_up_id, "resolve")

"""Audit (admins): who read or changed which patient's data, when, and from which front end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

AUDIT_LIMIT = 500


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    front_end: str
    actor: str
    action: str
    entity: str
    patient_id: int | None
    entity_id: int | None
    call_session_id: int | None
    detail: dict


# The agent acts as 'agent' (within a call session); the console as 'staff:<user name>'.
_RECENT = """
SELECT at, CASE WHEN actor LIKE 'staff:%%' THEN 'console' ELSE 'voice agent' END AS front_end, actor, action,
       entity, patient_id, entity_id, call_session_id, detail
FROM audit_log
WHERE (%(patient)s::bigint IS NULL OR patient_id = %(patient)s::bigint)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s::text)
ORDER BY at DESC, id DESC
LIMIT %(limit)s"""


def recent(conn: psycopg.Connection, *, patient_id: int | None = None, actor: str | None = None) -> list[AuditEntry]:
    with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        return cur.execute(_RECENT, {"patient": patient_id, "actor": actor, "limit": AUDIT_LIMIT}).fetchall()

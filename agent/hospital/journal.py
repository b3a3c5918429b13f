"""The call journal on PostgreSQL: a call session opened, its events appended, the call closed.

Events hold ids, codes and timings, never PHI or words said (see agent/call.py, which writes them).
"""

from __future__ import annotations

import json
import math
from typing import get_args

import asyncpg

from agent.hospital import rules
from agent.hospital.records import CallEventKind, CallOutcome, InvalidInput, NotFound
from agent.hospital.store import PostgresStore, not_found_for

_EVENT_KINDS = frozenset(get_args(CallEventKind))
_OUTCOMES = frozenset(get_args(CallOutcome))

_START_CALL = "INSERT INTO call_sessions (room, job_id) VALUES ($1, $2) RETURNING id"

_RECORD_EVENT = """
INSERT INTO call_events (call_session_id, kind, tool, outcome, duration_ms, detail)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)"""

_END_CALL = """
UPDATE call_sessions SET ended_at = greatest(now(), started_at), outcome = $2, patient_id = coalesce($3, patient_id)
WHERE id = $1"""


class PostgresCallJournal(PostgresStore):
    """`CallJournal` on PostgreSQL."""

    async def start_call(self, *, room: str, job_id: str | None) -> int:
        # A phone call's room name carries the caller's number (rules.PHONE_NUMBER_SHAPES); the row keeps the rest.
        name = rules.without_phone_numbers(rules.plain_text(room, "room", rules.ROOM_MAX))
        job = None if job_id is None else rules.plain_text(job_id, "job_id", rules.ROOM_MAX)

        async def work(connection: asyncpg.Connection) -> int:
            return await connection.fetchval(_START_CALL, name, job)

        return await self._run("start_call", work, safe_to_repeat=False)

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
        session = rules.record_id(call_session_id, "call_session_id")
        if kind not in _EVENT_KINDS:
            raise InvalidInput("unknown event kind")
        tool_name = None if tool is None else rules.plain_text(tool, "tool", rules.SHORT_TEXT_MAX)
        result = None if outcome is None else rules.plain_text(outcome, "outcome", rules.SHORT_TEXT_MAX)
        if duration_ms is not None and (
            isinstance(duration_ms, bool)
            or not isinstance(duration_ms, int | float)
            or not math.isfinite(duration_ms)
            or duration_ms < 0
        ):
            raise InvalidInput("duration_ms must be a finite number of milliseconds, zero or more")
        try:
            payload = json.dumps(detail or {}, allow_nan=False)
        except (TypeError, ValueError):
            raise InvalidInput("detail must be plain JSON (ids and codes)") from None
        if len(payload) > rules.DETAIL_JSON_MAX or "\\u0000" in payload:
            raise InvalidInput("detail is too large or holds characters that can't be stored")

        async def work(connection: asyncpg.Connection) -> None:
            try:
                await connection.execute(_RECORD_EVENT, session, kind, tool_name, result, duration_ms, payload)
            except asyncpg.ForeignKeyViolationError as error:
                raise not_found_for(error) from None

        await self._run("record_event", work, safe_to_repeat=False)

    async def end_call(self, call_session_id: int, *, outcome: CallOutcome, patient_id: int | None = None) -> None:
        session = rules.record_id(call_session_id, "call_session_id")
        if outcome not in _OUTCOMES:
            raise InvalidInput("unknown call outcome")
        patient = None if patient_id is None else rules.record_id(patient_id, "patient_id")

        async def work(connection: asyncpg.Connection) -> None:
            try:
                status = await connection.execute(_END_CALL, session, outcome, patient)
            except asyncpg.ForeignKeyViolationError as error:
                raise not_found_for(error) from None
            if status == "UPDATE 0":
                raise NotFound("no such call session")

        await self._run("end_call", work, safe_to_repeat=True)

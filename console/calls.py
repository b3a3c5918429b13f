"""Calls: recent call sessions with outcome, duration, turn latency and their events (never words said).

A call's events are read through staff_call_events, audited: an emergency's kind in an event's detail is health
information. The list and the charts aggregate the other columns, which the console's role reads itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import class_row, dict_row

from console.identity import Identity
from console.schedule import day_window

OUTCOMES = ("completed", "handed_off", "emergency", "abandoned", "error")
CALLS_LIMIT = 500
EVENTS_LIMIT = 500


@dataclass(frozen=True)
class CallSummary:
    id: int
    room: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    outcome: str | None
    events: int
    turns: int
    turn_p50_ms: float | None
    turn_p95_ms: float | None


@dataclass(frozen=True)
class CallEvent:
    at: datetime
    kind: str
    tool: str | None
    outcome: str | None
    duration_ms: float | None
    detail: dict


_CALLS = """
SELECT cs.id, cs.room, cs.started_at, cs.ended_at,
       extract(epoch FROM cs.ended_at - cs.started_at)::float8 AS duration_s, cs.outcome,
       count(e.id)::int AS events,
       count(e.duration_ms) FILTER (WHERE e.kind = 'agent_turn')::int AS turns,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY e.duration_ms) FILTER (WHERE e.kind = 'agent_turn') AS turn_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY e.duration_ms) FILTER (WHERE e.kind = 'agent_turn') AS turn_p95_ms
FROM call_sessions cs LEFT JOIN call_events e ON e.call_session_id = cs.id
WHERE cs.started_at >= %(start)s AND cs.started_at < %(end)s
  AND (%(outcome)s::text IS NULL OR cs.outcome = %(outcome)s::text)
GROUP BY cs.id
ORDER BY cs.started_at DESC
LIMIT %(limit)s"""

# The console's role can't read events' details itself (an emergency's kind is health information): this function
# (migrations/0010_console_appointment_functions.sql) returns them and audits the call's patients under `acting`.
_EVENTS = """
SELECT at, kind, tool, outcome, duration_ms, detail
FROM staff_call_events(for_call => %(id)s, acting => %(acting)s, max_rows => %(limit)s)"""

_PER_HOUR = """
SELECT date_trunc('hour', cs.started_at AT TIME ZONE %(zone)s) AS hour, count(*)::int AS calls
FROM call_sessions cs WHERE cs.started_at >= %(start)s AND cs.started_at < %(end)s
GROUP BY 1 ORDER BY 1"""

_LATENCY = """
SELECT percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY e.duration_ms) AS ms, count(*)::int AS n
FROM call_events e JOIN call_sessions cs ON cs.id = e.call_session_id
WHERE e.kind = 'agent_turn' AND e.duration_ms IS NOT NULL AND cs.started_at >= %(start)s AND cs.started_at < %(end)s"""


def check_outcome(outcome: str | None) -> str | None:
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    return outcome


def recent_calls(conn: psycopg.Connection, day: date, zone: ZoneInfo, outcome: str | None = None) -> list[CallSummary]:
    start, end = day_window(day, zone)
    params = {"start": start, "end": end, "outcome": check_outcome(outcome), "limit": CALLS_LIMIT}
    with conn.cursor(row_factory=class_row(CallSummary)) as cur:
        return cur.execute(_CALLS, params).fetchall()


def call_events(conn: psycopg.Connection, who: Identity, call_id: int) -> list[CallEvent]:
    """The call's events, oldest first; audited as a read of each patient the call names."""
    with conn.cursor(row_factory=class_row(CallEvent)) as cur:
        return cur.execute(_EVENTS, {"id": call_id, "acting": who.actor, "limit": EVENTS_LIMIT}).fetchall()


def calls_per_hour(conn: psycopg.Connection, day: date, zone: ZoneInfo) -> list[dict]:
    """Calls started in each local hour of the day that had any."""
    start, end = day_window(day, zone)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_PER_HOUR, {"start": start, "end": end, "zone": zone.key}).fetchall()


def turn_latency(conn: psycopg.Connection, day: date, zone: ZoneInfo) -> dict[str, float | int | None]:
    """Percentiles of the agent's end-to-end turn latency (ms) over the day's calls, and how many turns."""
    start, end = day_window(day, zone)
    row = conn.execute(_LATENCY, {"start": start, "end": end}).fetchone()
    values, count = row
    names = ("p50", "p90", "p95", "p99")
    return {"turns": count, **{name: None if values is None else values[i] for i, name in enumerate(names)}}

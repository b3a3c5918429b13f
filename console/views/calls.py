"""Calls: the day's call sessions with outcome, duration and turn latency, their events, and two charts.

Events carry kinds, tools, outcomes and timings; no words said are stored, so none are shown. The chosen call's
events are read through the database's audited staff_call_events (an emergency's kind is health information).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import streamlit as st

from console import auth, calls, charts, resources, tables

who = auth.require()
zone = resources.zone()
today = datetime.now(zone).date()

st.title("Calls")
day_col, outcome_col = st.columns(2)
day = day_col.date_input(
    "Day", value=today, min_value=today - timedelta(days=365), max_value=today + timedelta(days=1), key="calls_day"
)
outcome = outcome_col.selectbox("Outcome", ["any", *calls.OUTCOMES], key="calls_outcome")

with resources.connection() as conn:
    recent = calls.recent_calls(conn, day, zone, None if outcome == "any" else outcome)
    per_hour = calls.calls_per_hour(conn, day, zone)
    latency = calls.turn_latency(conn, day, zone)
    # The call whose events show below: the one chosen there (its widget's value from the last run) while it is
    # still listed, else the latest; read here, with the rest, on one connection.
    listed = [c.id for c in recent]
    shown = st.session_state.get("calls_chosen")
    shown = shown if shown in listed else next(iter(listed), None)
    events = [] if shown is None else calls.call_events(conn, who, shown)

if not recent:
    st.info(f"No calls on {day:%A %d %B %Y}" + ("" if outcome == "any" else f" with outcome {outcome}") + ".")
    st.stop()

PERCENTILES = ("p50", "p90", "p95", "p99")
calls_by_hour = {row["hour"].hour: row["calls"] for row in per_hour}
hours_col, latency_col = st.columns(2)
with hours_col:
    st.subheader("Calls per hour")
    charts.bars(
        {"hour": [f"{h:02d}:00" for h in range(24)], "calls": [calls_by_hour.get(h, 0) for h in range(24)]},
        category="hour",
        value="calls",
        height=220,
    )
with latency_col:
    st.subheader("Agent turn latency (ms)")
    if latency["turns"]:
        charts.bars(
            {"percentile": list(PERCENTILES), "ms": [latency[p] for p in PERCENTILES]},
            category="percentile",
            value="ms",
            height=220,
        )
        st.caption(f"over {latency['turns']} agent turns")
    else:
        st.caption("No agent turns with a measured latency on this day.")

st.subheader("Call sessions")
tables.grid(
    [
        {
            "call": c.id,
            "started": f"{c.started_at.astimezone(zone):%H:%M:%S}",
            "duration (s)": None if c.duration_s is None else round(c.duration_s),
            "outcome": c.outcome or "in progress",
            "events": c.events,
            "turns": c.turns,
            "turn p50 (ms)": None if c.turn_p50_ms is None else round(c.turn_p50_ms),
            "turn p95 (ms)": None if c.turn_p95_ms is None else round(c.turn_p95_ms),
        }
        for c in recent
    ]
)

st.selectbox("Events of call", listed, index=listed.index(shown), key="calls_chosen")
tables.grid(
    [
        {
            "at": f"{e.at.astimezone(zone):%H:%M:%S.%f}"[:-3],
            "kind": e.kind,
            "tool": e.tool,
            "outcome": e.outcome,
            "ms": e.duration_ms,
            # As text: events' details differ in shape, which one typed column can't hold.
            "detail": json.dumps(e.detail, sort_keys=True) if e.detail else None,
        }
        for e in events
    ]
)

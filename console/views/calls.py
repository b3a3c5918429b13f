"""Calls: the day's call sessions with outcome, duration and turn latency, their events, and two charts.

Events carry kinds, tools, outcomes and timings; no words said are stored, so none are shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from console import auth, calls, charts, resources

auth.require()
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

if not recent:
    st.info(f"No calls on {day:%A %d %B %Y}" + ("" if outcome == "any" else f" with outcome {outcome}") + ".")
    st.stop()

hours_col, latency_col = st.columns(2)
with hours_col:
    st.subheader("Calls per hour")
    hours = pd.DataFrame({"hour": [f"{h:02d}:00" for h in range(24)], "calls": 0}).set_index("hour")
    for row in per_hour:
        hours.loc[f"{row['hour'].hour:02d}:00", "calls"] = row["calls"]
    charts.bars(hours.reset_index(), category="hour", value="calls", height=220)
with latency_col:
    st.subheader("Agent turn latency (ms)")
    if latency["turns"]:
        charts.bars(
            pd.DataFrame(
                {"percentile": ["p50", "p90", "p95", "p99"], "ms": [latency[p] for p in ("p50", "p90", "p95", "p99")]}
            ),
            category="percentile",
            value="ms",
            height=220,
        )
        st.caption(f"over {latency['turns']} agent turns")
    else:
        st.caption("No agent turns with a measured latency on this day.")

st.subheader("Call sessions")
table = pd.DataFrame(
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
st.dataframe(table, hide_index=True, width="stretch")

chosen = st.selectbox("Events of call", [c.id for c in recent], key="calls_chosen")
with resources.connection() as conn:
    events = calls.call_events(conn, chosen)
st.dataframe(
    pd.DataFrame(
        [
            {
                "at": f"{e.at.astimezone(zone):%H:%M:%S.%f}"[:-3],
                "kind": e.kind,
                "tool": e.tool,
                "outcome": e.outcome,
                "ms": e.duration_ms,
                "detail": e.detail,
            }
            for e in events
        ]
    ),
    hide_index=True,
    width="stretch",
)

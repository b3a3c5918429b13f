"""Today: each doctor's shifts, booked and free slots on a day (default today in the hospital's time zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from console import auth, charts, resources, schedule

auth.require()
settings = resources.settings()
zone = ZoneInfo(settings.hospital_timezone)
today = datetime.now(zone).date()

st.title("Today")
day = st.date_input(
    "Day", value=today, min_value=today - timedelta(days=365), max_value=today + timedelta(days=365), key="today_day"
)
with resources.connection() as conn:
    data = schedule.load_day(conn, day, zone, slot_minutes=settings.slot_minutes, now=datetime.now(UTC))

if not data.shifts:
    st.info(f"No doctor is on shift on {day:%A %d %B %Y}.")
    st.stop()

load = data.load()
st.caption(
    f"{len(data.bookings)} booked, {len(data.free)} free slots on {day:%A %d %B %Y} ({settings.hospital_timezone})"
)
charts.bars(
    {
        "doctor": [row["doctor"] for row in load for _ in ("booked", "free")],
        "slots": ["booked", "free"] * len(load),
        "count": [row[kind] for row in load for kind in ("booked", "free")],
    },
    category="doctor",
    value="count",
    stack="slots",
    horizontal=True,
    height=max(200, 28 * len(load)),
)

st.subheader("Shifts")
st.dataframe(
    pd.DataFrame(
        [
            {
                "doctor": s.doctor_name,
                "specialty": s.specialty,
                "from": f"{s.starts_at:%H:%M}",
                "to": f"{s.ends_at:%H:%M}",
            }
            for s in data.shifts
        ]
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Appointments and free slots")
doctor = st.selectbox("Doctor", ["Everyone", *sorted({s.doctor_name for s in data.shifts})], key="today_doctor")
rows = [
    {"time": f"{b.starts_at:%H:%M}", "doctor": b.doctor_name, "slot": f"booked by {b.booked_by}"} for b in data.bookings
] + [{"time": f"{f.starts_at:%H:%M}", "doctor": f.doctor_name, "slot": "free"} for f in data.free]
rows = sorted((r for r in rows if doctor in ("Everyone", r["doctor"])), key=lambda r: (r["time"], r["doctor"]))
if doctor == "Everyone":
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
else:  # one doctor's day is short: a plain table, readable without scrolling a grid
    st.table(pd.DataFrame(rows).set_index("time"))

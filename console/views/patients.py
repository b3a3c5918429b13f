"""Patients and appointments: find a patient, see what is booked, book, move or cancel on the caller's behalf.

Every read of a patient's record is audited by the database (staff_find_patients, staff_upcoming_appointments), so a
patient's upcoming appointments are read when the patient is chosen or changed, not on every rerun. Free slots are
read once a doctor (booking) or a day (moving) is picked: a rerun of the page reads no slots nobody asked for.
Writes run the agent's own database functions (console/patients.py) with this staff member as the actor.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import streamlit as st

from console import auth, patients, resources
from console.identity import Identity

who = auth.require()
settings = resources.settings()
zone = resources.zone()
today = datetime.now(zone).date()
SLOT_MINUTES = settings.slot_minutes

st.title("Patients and appointments")


def _error_beside(field: str) -> None:
    if message := st.session_state.get(f"error-{field}"):
        st.error(message, icon=":material/error:")


def _refresh_upcoming(staff: Identity, patient: patients.PatientRecord) -> None:
    with resources.connection() as conn:
        rows = patients.upcoming(conn, staff, patient.id, now=datetime.now(UTC), zone=zone)
    st.session_state["upcoming"] = (patient.id, rows)


def _search(staff: Identity) -> None:
    st.session_state.pop("error-search", None)
    try:
        with resources.connection() as conn:
            found = patients.search(conn, staff, st.session_state.get("search_term", ""))
    except patients.Refused as refused:
        st.session_state["error-search"] = str(refused)
        return
    st.session_state["patients_found"] = found
    st.session_state.pop("upcoming", None)


def _write(field: str, staff: Identity, patient: patients.PatientRecord, work) -> None:
    """Run a booking change; its refusal goes beside `field`, its success re-reads the patient's appointments."""
    st.session_state.pop(f"error-{field}", None)
    try:
        with resources.connection() as conn:
            message = work(conn)
    except patients.Refused as refused:
        st.session_state[f"error-{field}"] = str(refused)
        return
    st.session_state["done"] = message
    _refresh_upcoming(staff, patient)


def _book(staff: Identity, patient: patients.PatientRecord) -> None:
    slot = st.session_state.get("book_slot")

    def work(conn) -> str:
        if slot is None:
            raise patients.Refused("pick a free slot")
        booked = patients.book(
            conn,
            staff,
            patient_id=patient.id,
            doctor_id=slot.doctor_id,
            starts_at=slot.starts_at,
            reason=st.session_state.get("book_reason", ""),
            slot_minutes=SLOT_MINUTES,
            request_key=uuid.uuid4(),
            now=datetime.now(UTC),
        )
        return f"Booked with {booked.doctor_name} on {booked.starts_at.astimezone(zone):%a %d %b %H:%M}."

    _write("book", staff, patient, work)


def _move(staff: Identity, patient: patients.PatientRecord, appointment: patients.Appointment) -> None:
    slot = st.session_state.get(f"move_slot-{appointment.id}")

    def work(conn) -> str:
        if slot is None:
            raise patients.Refused("pick a free slot to move to")
        moved = patients.move(
            conn,
            staff,
            patient_id=patient.id,
            appointment_id=appointment.id,
            starts_at=slot.starts_at,
            slot_minutes=SLOT_MINUTES,
            request_key=uuid.uuid4(),
            now=datetime.now(UTC),
        )
        return f"Moved to {moved.starts_at.astimezone(zone):%a %d %b %H:%M}."

    _write(f"move-{appointment.id}", staff, patient, work)


def _cancel(staff: Identity, patient: patients.PatientRecord, appointment: patients.Appointment) -> None:
    def work(conn) -> str:
        patients.cancel(conn, staff, patient_id=patient.id, appointment_id=appointment.id)
        return f"Cancelled the appointment of {appointment.starts_at:%a %d %b %H:%M}."

    _write(f"move-{appointment.id}", staff, patient, work)


def _slot_label(slot) -> str:
    return f"{slot.starts_at:%H:%M} {slot.doctor_name}"


def _free_slots(doctor_id: int, day: date) -> list:
    with resources.connection() as conn:
        return patients.free_slots(conn, doctor_id, day, zone, slot_minutes=SLOT_MINUTES, now=datetime.now(UTC))


st.text_input("Name, phone or record number", key="search_term", max_chars=200)
st.button("Find", key="search", on_click=_search, args=(who,))
_error_beside("search")

found = st.session_state.get("patients_found")
if found is None:
    st.stop()
if not found:
    st.info("No patient matches.")
    st.stop()
patient = st.selectbox(
    "Patient",
    found,
    format_func=lambda p: f"{p.full_name} · born {p.date_of_birth:%Y-%m-%d} · {p.mrn}",
    key="patient_choice",
)
st.markdown(f"**{patient.full_name}** · {patient.mrn} · born {patient.date_of_birth:%d %B %Y}")
st.caption(f"Phone {patient.phone or '-'} · email {patient.email or '-'}")
if st.session_state.get("upcoming", (None,))[0] != patient.id:
    _refresh_upcoming(who, patient)
upcoming = st.session_state["upcoming"][1]
if done := st.session_state.pop("done", None):
    st.success(done)

st.subheader("Upcoming appointments")
if not upcoming:
    st.caption("Nothing booked.")
for appointment in upcoming:
    label = f"{appointment.starts_at:%a %d %b %Y %H:%M} · {appointment.doctor_name} ({appointment.specialty})"
    with st.expander(label + (f" · {appointment.reason}" if appointment.reason else "")):
        move_day = st.date_input(
            "Move to day",
            value=None,
            min_value=today,
            max_value=today + timedelta(days=365),
            key=f"move_day-{appointment.id}",
        )
        if move_day is not None:
            st.selectbox(
                "Free slot",
                _free_slots(appointment.doctor_id, move_day),
                format_func=_slot_label,
                index=None,
                placeholder="pick a free slot",
                key=f"move_slot-{appointment.id}",
            )
        move_col, cancel_col = st.columns(2)
        move_col.button("Move", key=f"move-{appointment.id}", on_click=_move, args=(who, patient, appointment))
        cancel_col.button(
            "Cancel appointment", key=f"cancel-{appointment.id}", on_click=_cancel, args=(who, patient, appointment)
        )
        _error_beside(f"move-{appointment.id}")

st.subheader("Book")
doctor = st.selectbox(
    "Doctor",
    resources.doctors(),
    format_func=lambda d: f"{d.full_name} ({d.specialty})",
    index=None,
    placeholder="pick a doctor",
    key="book_doctor",
)
book_day = st.date_input("Day", value=today, min_value=today, max_value=today + timedelta(days=365), key="book_day")
if doctor is None:
    slots, no_slot = [], "pick a doctor first"
else:
    slots = _free_slots(doctor.id, book_day)
    no_slot = "pick a free slot" if slots else "no free slot on this day"
st.selectbox("Free slot", slots, format_func=_slot_label, index=None, placeholder=no_slot, key="book_slot")
st.text_area("Reason (optional)", key="book_reason", max_chars=patients.REASON_MAX, height=68)
st.button("Book", key="book", on_click=_book, args=(who, patient), type="primary")
_error_beside("book")

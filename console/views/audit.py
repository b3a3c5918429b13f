"""Audit (admins only): who read or changed which patient's data, when, and from which front end."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import audit, auth, resources

auth.require("admin")
zone = resources.zone()
st.title("Audit")

patient_col, actor_col = st.columns(2)
patient = patient_col.number_input("Patient id", min_value=0, value=0, step=1, key="audit_patient", help="0: all")
actor = actor_col.text_input("Actor", key="audit_actor", max_chars=80, placeholder="agent or staff:<user>").strip()
problem = None
if actor and (len(actor) > 80 or not actor.isprintable()):
    problem = "an actor is up to 80 printable characters, like agent or staff:alice"
    actor_col.error(problem, icon=":material/error:")
if problem is None:
    with resources.connection() as conn:
        entries = audit.recent(conn, patient_id=int(patient) or None, actor=actor or None)
    if not entries:
        st.info("No audit entries match.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "at": f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S}",
                        "front end": e.front_end,
                        "actor": e.actor,
                        "action": e.action,
                        "entity": e.entity,
                        "patient": e.patient_id,
                        "record": e.entity_id,
                        "call": e.call_session_id,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            ),
            hide_index=True,
            width="stretch",
        )

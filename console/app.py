"""The staff console's entry point: sign-in first, then the pages this staff member's roles allow."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from console import auth

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="Front desk console", page_icon=":material/local_hospital:", layout="wide")
who = auth.require()
auth.sign_out_button(who)
pages = [
    st.Page(VIEWS / "today.py", title="Today", icon=":material/today:", default=True),
    st.Page(VIEWS / "queue.py", title="Needs a person", icon=":material/support_agent:"),
    st.Page(VIEWS / "calls.py", title="Calls", icon=":material/call:"),
    st.Page(VIEWS / "patients.py", title="Patients and appointments", icon=":material/person_search:"),
    st.Page(VIEWS / "talk.py", title="Talk to the agent", icon=":material/mic:"),
]
if who.is_admin:
    pages.append(st.Page(VIEWS / "audit.py", title="Audit", icon=":material/policy:"))
st.navigation(pages).run()

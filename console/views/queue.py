"""Needs a person: callback requests and handed-off calls, emergencies on top; claim, note, resolve.

The list refreshes itself every QUEUE_REFRESH_SECONDS without reloading the page (a fragment). Actions run in
widget callbacks, before the list is read again, so what is shown is what the database holds after them.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from console import auth, queue, resources
from console.identity import Identity

QUEUE_REFRESH_SECONDS = 10

who = auth.require()
zone = resources.settings().hospital_timezone
st.title("Needs a person")


def _act(item_key: str, action: Callable[[], None]) -> None:
    """Run a queue action; its refusal is shown beside the item's controls."""
    st.session_state.pop(f"error-{item_key}", None)
    try:
        action()
    except queue.QueueRefused as refused:
        st.session_state[f"error-{item_key}"] = str(refused)


def _claim(staff: Identity, item: queue.QueueItem) -> None:
    def action() -> None:
        with resources.connection() as conn:
            queue.claim(conn, staff, item.source, item.subject_id)

    _act(item.key, action)


def _note(staff: Identity, item: queue.QueueItem) -> None:
    def action() -> None:
        with resources.connection() as conn:
            queue.add_note(conn, staff, item.source, item.subject_id, st.session_state.get(f"note-{item.key}", ""))
        st.session_state[f"note-{item.key}"] = ""

    _act(item.key, action)


def _resolve(staff: Identity, item: queue.QueueItem) -> None:
    def action() -> None:
        with resources.connection() as conn:
            queue.resolve(conn, staff, item.source, item.subject_id)

    _act(item.key, action)


def _title(item: queue.QueueItem) -> str:
    when = f"{item.created_at.astimezone(resources.zone()):%a %d %b %H:%M}"
    if item.emergency:
        kind = ":red[**Emergency**]"
    elif item.source == "callback":
        kind = "**Callback request**"
    else:
        kind = "**Handed-off call**"
    return f"{kind} · {when} · call {item.call_session_id or '-'}"


@st.fragment(run_every=QUEUE_REFRESH_SECONDS)
def queue_panel() -> None:
    auth.check_fresh()
    with resources.connection() as conn:
        items = queue.open_items(conn, zone=zone)
    if not items:
        st.success("Nothing is waiting for a person.")
        return
    st.caption(f"{len(items)} waiting, emergencies first; refreshes every {QUEUE_REFRESH_SECONDS} s")
    for item in items:
        with st.container(border=True, key=f"item-{item.key}"):
            st.markdown(_title(item))
            if item.caller_name:
                st.markdown(f"{item.caller_name} · {item.callback_phone}")
                st.text(item.message or "")
            else:
                st.markdown(f"Outcome: {item.outcome or 'call still open'}; no callback details were left.")
            claimed = item.claimed_by.removeprefix("staff:") if item.claimed_by else None
            st.caption(f"Claimed by {claimed}" if claimed else "Not claimed yet")
            for note in item.notes:
                st.caption(note.removeprefix("staff:"))
            claim_col, resolve_col = st.columns(2)
            claim_col.button(
                "Claim", key=f"claim-{item.key}", on_click=_claim, args=(who, item), disabled=claimed is not None
            )
            resolve_col.button(
                "Resolve", key=f"resolve-{item.key}", on_click=_resolve, args=(who, item), type="primary"
            )
            st.text_area("Note", key=f"note-{item.key}", max_chars=queue.NOTE_MAX, height=68)
            st.button("Add note", key=f"add-note-{item.key}", on_click=_note, args=(who, item))
            if error := st.session_state.get(f"error-{item.key}"):
                st.error(error, icon=":material/error:")


queue_panel()

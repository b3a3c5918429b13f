"""Needs a person: callback requests and handed-off calls, emergencies on top; claim, note, resolve.

The queue is one table; the item chosen below it shows in full with its actions, so a long queue costs a table's
rows, not a set of widgets per item.

The list refreshes itself every QUEUE_REFRESH_SECONDS without reloading the page (a fragment). Actions run in
widget callbacks, before the list is read again, so what is shown is what the database holds after them.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from console import auth, queue, resources, tables
from console.identity import Identity

QUEUE_REFRESH_SECONDS = 10

who = auth.require()
zone = resources.zone()
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


def _kind(item: queue.QueueItem) -> str:
    if item.emergency:
        return "Emergency"
    return "Callback request" if item.source == "callback" else "Handed-off call"


def _title(item: queue.QueueItem) -> str:
    when = f"{item.created_at.astimezone(zone):%a %d %b %H:%M}"
    kind = f":red[**{_kind(item)}**]" if item.emergency else f"**{_kind(item)}**"
    return f"{kind} · {when} · call {item.call_session_id or '-'}"


def _claimed(item: queue.QueueItem) -> str | None:
    return item.claimed_by.removeprefix("staff:") if item.claimed_by else None


def _rows(items: list[queue.QueueItem]) -> list[dict[str, object]]:
    return [
        {
            "kind": _kind(item),
            "when": f"{item.created_at.astimezone(zone):%a %d %b %H:%M}",
            "call": item.call_session_id,
            "caller": item.caller_name,
            "callback number": item.callback_phone,
            "message": item.message if item.caller_name else f"outcome: {item.outcome or 'call still open'}",
            "claimed by": _claimed(item),
            "notes": len(item.notes),
        }
        for item in items
    ]


def _work_on(item: queue.QueueItem) -> None:
    """The chosen item in full, with its actions: one item's widgets, however long the queue."""
    with st.container(border=True, key=f"item-{item.key}"):
        st.markdown(_title(item))
        if item.caller_name:
            st.markdown(f"{item.caller_name} · {item.callback_phone}")
            st.text(item.message or "")
        else:
            st.markdown(f"Outcome: {item.outcome or 'call still open'}; no callback details were left.")
        claimed = _claimed(item)
        st.caption(f"Claimed by {claimed}" if claimed else "Not claimed yet")
        for note in item.notes:
            st.caption(note.removeprefix("staff:"))
        claim_col, resolve_col = st.columns(2)
        claim_col.button(
            "Claim", key=f"claim-{item.key}", on_click=_claim, args=(who, item), disabled=claimed is not None
        )
        resolve_col.button("Resolve", key=f"resolve-{item.key}", on_click=_resolve, args=(who, item), type="primary")
        st.text_area("Note", key=f"note-{item.key}", max_chars=queue.NOTE_MAX, height=68)
        st.button("Add note", key=f"add-note-{item.key}", on_click=_note, args=(who, item))
        if error := st.session_state.get(f"error-{item.key}"):
            st.error(error, icon=":material/error:")


@st.fragment(run_every=QUEUE_REFRESH_SECONDS)
def queue_panel() -> None:
    auth.check_fresh()
    with resources.connection() as conn:
        items = queue.open_items(conn, who, session=auth.console_session(), zone=zone.key)
    if not items:
        st.success("Nothing is waiting for a person.")
        return
    if emergencies := sum(item.emergency for item in items):
        st.error(f"{emergencies} emergency call(s) the agent flagged, at the top.", icon=":material/emergency:")
    st.caption(f"{len(items)} waiting, emergencies first; refreshes every {QUEUE_REFRESH_SECONDS} s")
    tables.grid(_rows(items))
    by_key = {item.key: item for item in items}
    chosen = st.selectbox(
        "Work on", list(by_key), format_func=lambda key: _title(by_key[key]).replace("**", ""), key="queue_item"
    )
    _work_on(by_key[chosen])


queue_panel()

"""Every page of the console through Streamlit's AppTest, per role, on the real seeded database.

AppTest can't send request headers, so the tests replace console.auth's `request_headers` (the ALB mode, with
tokens signed by keys made here) and `on_loopback` (the dev sign-in), and seed the session's identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from console import auth, resources
from console.identity import Identity
from tests.console.conftest import ADMIN, FRONTDESK, ZONE
from tests.console.tokens import ALB_ARN, CLIENT_ID, COGNITO_KEYS, ISSUER, OTHER_ALB_ARN, signed_headers
from tests.console.tokens import ALB_KEYS as TEST_ALB_KEYS

APP = Path(__file__).parents[2] / "console" / "app.py"
VIEWS = ["views/today.py", "views/queue.py", "views/calls.py", "views/patients.py", "views/talk.py", "views/audit.py"]
TIMEOUT = 60


@pytest.fixture
def console_env(calls_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", calls_database)
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("CONSOLE_AUTH", "dev")
    monkeypatch.setenv("CONSOLE_DATABASE_ROLE", "hospital_console")
    monkeypatch.setenv("HOSPITAL_TIMEZONE", ZONE.key)
    monkeypatch.setattr(auth, "on_loopback", lambda: True)
    st.cache_resource.clear()  # the pool and the doctors list of another test's database
    yield calls_database
    st.cache_resource.clear()  # closes the pool before the database is dropped


@pytest.fixture
def alb_env(console_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CONSOLE_AUTH", "alb")
    monkeypatch.setenv("CONSOLE_ALB_ARN", ALB_ARN)
    monkeypatch.setenv("CONSOLE_COGNITO_ISSUER", ISSUER)
    monkeypatch.setenv("CONSOLE_COGNITO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setattr(auth, "on_loopback", lambda: False)
    monkeypatch.setattr(resources, "alb_keys", lambda: TEST_ALB_KEYS.__getitem__)
    monkeypatch.setattr(resources, "cognito_keys", lambda: COGNITO_KEYS.__getitem__)
    return console_env


def app(who: Identity | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if who is not None:
        at.session_state[auth.IDENTITY_KEY] = who
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def shows_data(at: AppTest) -> bool:
    return bool(at.dataframe) or bool(at.title) or bool(at.get("vega_lite_chart"))


# --- sign-in and refusals ------------------------------------------------------------------------------------


def test_without_identity_only_the_sign_in_form_shows(console_env: str) -> None:
    at = app()
    assert [t.label for t in at.text_input] == ["User name"]
    assert not at.title
    assert not at.dataframe


@pytest.mark.parametrize("view", VIEWS)
def test_each_page_alone_refuses_a_missing_identity(console_env: str, view: str) -> None:
    at = AppTest.from_file(str(APP.parent / view), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not at.title
    assert not at.dataframe
    assert [t.label for t in at.text_input] == ["User name"]


def test_the_dev_sign_in_is_refused_off_loopback(console_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "on_loopback", lambda: False)
    at = app()
    assert any("only on this machine" in e for e in errors(at))
    assert not at.text_input
    signed = app(FRONTDESK)  # an identity from an earlier loopback session is refused too
    assert any("only on this machine" in e for e in errors(signed))
    assert not signed.title


def test_sign_in_as_frontdesk_shows_today_and_no_audit_page(console_env: str) -> None:
    at = app()
    at.text_input(key="sign_in_username").input("alice")
    at.selectbox(key="sign_in_role").select("frontdesk")
    at.button[0].click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Today"]
    assert at.session_state[auth.IDENTITY_KEY] == Identity("alice", frozenset({"frontdesk"}))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/audit.py")
    # Opened directly, the audit page refuses a frontdesk identity itself.
    direct = AppTest.from_file(str(APP.parent / "views/audit.py"), default_timeout=TIMEOUT)
    direct.session_state[auth.IDENTITY_KEY] = FRONTDESK
    direct.run()
    assert any("admin role only" in e for e in errors(direct))
    assert not direct.dataframe


@pytest.mark.parametrize("username", ["", "   ", "two words", "x" * 73])
def test_a_bad_user_name_is_refused_beside_the_form(console_env: str, username: str) -> None:
    at = app()
    at.text_input(key="sign_in_username").input(username)
    at.button[0].click().run()
    assert errors(at)
    assert auth.IDENTITY_KEY not in at.session_state
    assert not at.title


def test_an_idle_session_must_sign_in_again(console_env: str) -> None:
    at = app(FRONTDESK)
    assert [t.value for t in at.title] == ["Today"]
    at.session_state[auth.LAST_SEEN_KEY] = at.session_state[auth.LAST_SEEN_KEY] - 31 * 60
    at.run()
    assert [t.label for t in at.text_input] == ["User name"]
    assert not at.title


def test_an_idle_alb_session_stays_refused_until_a_reload(alb_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "request_headers", signed_headers)
    at = app()
    assert [t.value for t in at.title] == ["Today"]
    at.session_state[auth.LAST_SEEN_KEY] = at.session_state[auth.LAST_SEEN_KEY] - 31 * 60
    for _ in range(2):  # interacting again does not bring it back
        at.run()
        assert any("idle too long" in e for e in errors(at))
        assert not at.title
    assert [t.value for t in app().title] == ["Today"]  # a reload is a new session


def test_alb_identity_signed_for_us_opens_the_console(alb_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "request_headers", lambda: signed_headers(groups=["admin"]))
    at = app(page="views/audit.py")
    assert [t.value for t in at.title] == ["Audit"]
    assert not errors(at)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (dict, "no signed identity"),
        (lambda: signed_headers(signer=OTHER_ALB_ARN), "another load balancer"),
        (lambda: signed_headers(expires_in=-300), "expired"),
        (lambda: signed_headers(groups=["visitors"]), "neither console group"),
    ],
)
def test_alb_mode_refuses_missing_or_bad_identities(
    alb_env: str, monkeypatch: pytest.MonkeyPatch, headers, reason: str
) -> None:
    monkeypatch.setattr(auth, "request_headers", headers)
    for script in (APP, *(APP.parent / view for view in VIEWS)):
        at = AppTest.from_file(str(script), default_timeout=TIMEOUT).run()
        assert not at.exception, (script, at.exception)
        assert any(reason in e for e in errors(at)), (script, errors(at))
        assert not at.title
        assert not at.dataframe
        assert not at.text_input  # no local sign-in form behind the load balancer


# --- pages per role ------------------------------------------------------------------------------------------


def test_today_shows_the_seeded_appointment(console_env: str, seed_today: date) -> None:
    at = app(FRONTDESK)
    at.date_input(key="today_day").set_value(seed_today + timedelta(days=2)).run()
    at.selectbox(key="today_doctor").select("Aisha Patel").run()
    slots = at.table[0].value
    booked = slots[slots["slot"].str.startswith("booked")]
    assert booked.loc["10:00", "slot"] == "booked by seed"  # who booked it; no appointment id, patient or reason
    assert set(slots["doctor"]) == {"Aisha Patel"}
    shifts = at.dataframe[0].value
    assert ("Aisha Patel", "09:00", "17:00") in set(zip(shifts["doctor"], shifts["from"], shifts["to"], strict=True))


def test_today_without_shifts_says_so(console_env: str) -> None:
    at = app(FRONTDESK)
    at.date_input(key="today_day").set_value(date.today() - timedelta(days=300)).run()
    assert any("No doctor is on shift" in i.value for i in at.info)


def _queue_kinds(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["kind"]) if at.dataframe else []


def _work_on_callback(at: AppTest) -> str:
    """Choose the first callback request in the queue; its item key."""
    choice = at.selectbox(key="queue_item")
    choice.select_index(next(i for i, label in enumerate(choice.options) if label.startswith("Callback"))).run()
    return next(b.key for b in at.button if b.key.startswith("claim-callback-")).removeprefix("claim-")


def test_queue_claim_note_resolve(console_env: str) -> None:
    at = app(FRONTDESK, "views/queue.py")
    assert _queue_kinds(at) == ["Emergency", "Callback request"]
    assert any("1 emergency call(s)" in e for e in errors(at))
    assert at.markdown[0].value.startswith(":red[**Emergency**]")  # the first item is chosen at first
    callback_key = _work_on_callback(at)
    assert not [b for b in at.button if b.key.startswith("claim-call-")]  # one item's actions at a time

    at.button(key=f"claim-{callback_key}").click().run()
    assert at.button(key=f"claim-{callback_key}").disabled
    at.text_area(key=f"note-{callback_key}").input("Called back, no answer")
    at.button(key=f"add-note-{callback_key}").click().run()
    assert [e for e in errors(at) if "emergency call(s)" not in e] == []
    assert any(c.value.endswith("Called back, no answer") for c in at.caption)
    at.button(key=f"resolve-{callback_key}").click().run()
    assert _queue_kinds(at) == ["Emergency"]
    with psycopg.connect(console_env) as conn:
        assert conn.execute("SELECT status FROM callback_requests").fetchone() == ("done",)


def _queue_reads(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM audit_log WHERE detail->>'listed' = 'queue'").fetchone()[0]


def test_the_queue_page_audits_who_it_shows_once_per_console_session(console_env: str) -> None:
    at = app(FRONTDESK, "views/queue.py")
    assert _queue_reads(console_env) == 1  # Maria's callback request; the emergency call names nobody
    at.run()
    at.run()  # what the 10-second refresh does: the same session, the same people
    assert _queue_reads(console_env) == 1
    app(FRONTDESK, "views/queue.py")  # another browser session: shown anew
    assert _queue_reads(console_env) == 2


@pytest.mark.parametrize("note", ["", "   ", "x" * 2001])
def test_a_bad_note_is_refused_beside_it_and_nothing_written(console_env: str, note: str) -> None:
    at = app(FRONTDESK, "views/queue.py")
    key = _work_on_callback(at)
    at.text_area(key=f"note-{key}").input(note)
    at.button(key=f"add-note-{key}").click().run()
    assert any("note" in e.lower() for e in errors(at)), errors(at)
    with psycopg.connect(console_env) as conn:
        assert conn.execute("SELECT count(*) FROM follow_up_notes").fetchone() == (0,)


def test_someone_elses_claim_is_refused_beside_the_item(console_env: str) -> None:
    alice = app(FRONTDESK, "views/queue.py")
    key = _work_on_callback(alice)
    alice.button(key=f"claim-{key}").click().run()
    bob = app(Identity("bob", frozenset({"frontdesk"})), "views/queue.py")
    _work_on_callback(bob)
    bob.button(key=f"resolve-{key}").click().run()
    assert any("already claimed by alice" in e for e in errors(bob))


def test_calls_page_lists_the_days_calls_and_filters(console_env: str, calls_day: date) -> None:
    at = app(FRONTDESK, "views/calls.py")
    at.date_input(key="calls_day").set_value(calls_day).run()
    calls_table = at.dataframe[0].value
    assert list(calls_table["outcome"]) == ["emergency", "handed_off", "completed"]
    assert list(at.dataframe[1].value["kind"]) == ["call_started", "emergency"]
    completed = int(calls_table[calls_table["outcome"] == "completed"]["call"].iloc[0])
    at.selectbox(key="calls_chosen").select(completed).run()  # its events show in the same run
    assert list(at.dataframe[1].value["kind"]) == ["call_started", "agent_turn", "agent_turn", "agent_turn"]
    at.selectbox(key="calls_outcome").select("completed").run()
    assert list(at.dataframe[0].value["outcome"]) == ["completed"]
    at.selectbox(key="calls_outcome").select("abandoned").run()
    assert any("No calls" in i.value for i in at.info)


def _audit_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM audit_log WHERE actor LIKE 'staff:%'").fetchone()[0]


@pytest.mark.parametrize("term", ["", "a", "x" * 201])
def test_a_bad_search_is_refused_beside_the_field_and_audits_nothing(console_env: str, term: str) -> None:
    at = app(FRONTDESK, "views/patients.py")
    at.text_input(key="search_term").input(term)
    at.button(key="search").click().run()
    assert errors(at)
    assert not at.selectbox
    assert _audit_count(console_env) == 0


def _find_maria(at: AppTest) -> AppTest:
    at.text_input(key="search_term").input("MRN100001")
    at.button(key="search").click().run()
    assert not at.exception, at.exception
    return at


def test_find_a_patient_see_upcoming_book_and_cancel(console_env: str, seed_today: date) -> None:
    at = _find_maria(app(FRONTDESK, "views/patients.py"))
    assert at.selectbox(key="patient_choice").value.full_name == "Maria Garcia"
    expanders = [e.label for e in at.expander]
    assert any("10:00 · Aisha Patel" in label for label in expanders)

    at.button(key="book").click().run()  # no slot picked
    assert any("pick a free slot" in e for e in errors(at))
    doctor = next(d for d in at.selectbox(key="book_doctor").options if "Aisha Patel" in d)
    at.selectbox(key="book_doctor").select(doctor).run()
    at.date_input(key="book_day").set_value(seed_today + timedelta(days=2)).run()
    slot = at.selectbox(key="book_slot")
    assert slot.options
    assert not any(option.startswith("10:00") for option in slot.options)
    slot.select(slot.options[0]).run()
    at.text_area(key="book_reason").input("ring \x07 bell")
    at.button(key="book").click().run()
    assert any("can't be stored" in e for e in errors(at))
    with psycopg.connect(console_env) as conn:
        assert conn.execute("SELECT count(*) FROM appointments WHERE booked_by = 'staff'").fetchone() == (0,)
    at.text_area(key="book_reason").input("annual check")
    at.button(key="book").click().run()
    assert any("Booked with Aisha Patel" in s.value for s in at.success)
    with psycopg.connect(console_env) as conn:
        booked = conn.execute("SELECT id FROM appointments WHERE booked_by = 'staff' AND status = 'booked'").fetchall()
    assert len(booked) == 1
    at.button(key=f"cancel-{booked[0][0]}").click().run()
    assert any("Cancelled" in s.value for s in at.success)
    with psycopg.connect(console_env) as conn:
        assert conn.execute("SELECT status FROM appointments WHERE id = %s", booked[0]).fetchone() == ("cancelled",)


def test_audit_page_for_admins_shows_the_consoles_reads(console_env: str) -> None:
    _find_maria(app(FRONTDESK, "views/patients.py"))
    at = app(ADMIN, "views/audit.py")
    table = at.dataframe[0].value
    assert ("console", "staff:alice", "read") in set(
        zip(table["front end"], table["actor"], table["action"], strict=True)
    )
    at.text_input(key="audit_actor").input("agent").run()
    assert any("No audit entries" in i.value for i in at.info)


def test_the_admin_sees_the_audit_page_in_the_navigation(console_env: str) -> None:
    at = app(ADMIN)
    assert [t.value for t in at.title] == ["Today"]
    at.switch_page("views/audit.py").run()
    assert [t.value for t in at.title] == ["Audit"]


def test_move_an_appointment_to_a_free_slot(console_env: str, seed_today: date) -> None:
    at = _find_maria(app(FRONTDESK, "views/patients.py"))
    with psycopg.connect(console_env) as conn:
        appointment_id, starts_at = conn.execute(
            "SELECT id, starts_at FROM appointments WHERE patient_id = 1 AND status = 'booked' "
            "ORDER BY starts_at LIMIT 1"
        ).fetchone()
    at.button(key=f"move-{appointment_id}").click().run()  # no slot picked
    assert any("pick a free slot to move to" in e for e in errors(at))
    assert not at.selectbox(key="book_slot").options  # no doctor picked to book with: no slots read
    at.date_input(key=f"move_day-{appointment_id}").set_value(starts_at.astimezone(ZONE).date()).run()
    slot = at.selectbox(key=f"move_slot-{appointment_id}")
    slot.select(slot.options[-1]).run()
    at.button(key=f"move-{appointment_id}").click().run()
    assert any(s.value.startswith("Moved to") for s in at.success), errors(at)
    with psycopg.connect(console_env) as conn:
        moved = conn.execute(
            "SELECT status, booked_by FROM appointments WHERE rescheduled_from = %s", (appointment_id,)
        ).fetchone()
        old = conn.execute("SELECT status FROM appointments WHERE id = %s", (appointment_id,)).fetchone()
    assert moved == ("booked", "staff")
    assert old == ("cancelled",)


def test_an_unreachable_database_is_one_line_on_the_page(console_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/hospital")
    monkeypatch.setenv("DATABASE_TIMEOUT_SECONDS", "1")
    st.cache_resource.clear()
    at = app(FRONTDESK)
    assert errors(at) == ["The hospital's database can't be reached right now: try again in a moment."]
    assert not at.dataframe

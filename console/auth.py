"""The one place a page learns who is asking; every page calls `require` before it shows anything.

CONSOLE_AUTH=alb: the load balancer's signed headers are verified on every run (console/identity.py); a missing,
forged or expired identity stops the page. CONSOLE_AUTH=dev: a local sign-in form, offered only when the server
listens on loopback alone and the browser is on this machine. Either way a session idle for longer than
CONSOLE_SESSION_IDLE_MINUTES must sign in again.

Streamlit's tests (AppTest) can't send request headers: they replace `request_headers` and `on_loopback`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

import streamlit as st

from console import resources
from console.identity import ROLES, Identity, IdentityRefused, identity, verify_alb_identity

IDENTITY_KEY = "console_identity"
LAST_SEEN_KEY = "console_last_seen"
EXPIRED_KEY = "console_expired"
SESSION_KEY = "console_session"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "localhost"})


def request_headers() -> Mapping[str, str]:
    """Headers of the request that opened this session's connection (what the load balancer forwarded)."""
    return st.context.headers


def on_loopback() -> bool:
    """True when the server listens on loopback only and this browser connected from this machine."""
    return st.get_option("server.address") in LOOPBACK_ADDRESSES and st.context.ip_address is None


def _refuse(reason: str) -> None:
    st.error(f"Not signed in: {reason}.", icon=":material/lock:")
    st.stop()


def _idle_expired() -> bool:
    limit = resources.settings().console_session_idle_minutes * 60
    last_seen = st.session_state.get(LAST_SEEN_KEY)
    now = time.monotonic()
    st.session_state[LAST_SEEN_KEY] = now
    return last_seen is not None and now - last_seen > limit


def _dev_sign_in() -> Identity:
    if not on_loopback():
        _refuse("the local sign-in works only on this machine (http://127.0.0.1)")
    with st.form("sign_in"):
        st.subheader("Sign in (local development)")
        username = st.text_input("User name", key="sign_in_username", max_chars=72)
        role = st.selectbox("Role", ROLES, key="sign_in_role")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            who = identity(username.strip(), {role, "frontdesk"} if role == "admin" else {role})
        except IdentityRefused as refused:
            st.error(str(refused), icon=":material/error:")
        else:
            st.session_state[IDENTITY_KEY] = who
            st.session_state[SESSION_KEY] = uuid.uuid4()
            st.rerun()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def current() -> Identity:
    """The verified staff member, or the page stops here with the reason (and, in dev, the sign-in form)."""
    settings = resources.settings()
    if _idle_expired():
        st.session_state.pop(IDENTITY_KEY, None)
        if settings.console_auth == "alb":
            # The headers stay those of the connection: only a reload (a new session) goes through the ALB again.
            st.session_state[EXPIRED_KEY] = True
        else:
            st.warning("The session was idle too long: sign in again.")
    if st.session_state.get(EXPIRED_KEY):
        _refuse("the session was idle too long: reload the page")
    if settings.console_auth == "alb":
        try:
            return verify_alb_identity(
                request_headers(),
                settings.alb_trust,
                alb_keys=resources.alb_keys(),
                cognito_keys=resources.cognito_keys(),
            )
        except IdentityRefused as refused:
            _refuse(str(refused))
    who = st.session_state.get(IDENTITY_KEY)
    if not isinstance(who, Identity):
        return _dev_sign_in()
    if not on_loopback():
        _refuse("the local sign-in works only on this machine (http://127.0.0.1)")
    return who


def require(role: str | None = None) -> Identity:
    """The signed-in staff member, who must hold `role` when given; otherwise the page stops."""
    who = current()
    if role is not None and role not in who.roles:
        st.error(f"This page is for the {role} role only.", icon=":material/block:")
        st.stop()
    return who


def console_session() -> uuid.UUID:
    """This console session's id: what staff_open_queue audits once per person shown (a new sign-in, or a new
    browser session behind the load balancer, starts a new one)."""
    return st.session_state.setdefault(SESSION_KEY, uuid.uuid4())


def check_fresh() -> None:
    """For panels that refresh themselves: rerun the whole page (which then refuses) once the session went stale.

    A refresh is not activity: it neither extends the idle time nor signs anyone in.
    """
    settings = resources.settings()
    last_seen = st.session_state.get(LAST_SEEN_KEY)
    idle = last_seen is not None and time.monotonic() - last_seen > settings.console_session_idle_minutes * 60
    if idle or (settings.console_auth == "dev" and not isinstance(st.session_state.get(IDENTITY_KEY), Identity)):
        st.rerun(scope="app")
    if settings.console_auth == "alb":
        try:
            verify_alb_identity(
                request_headers(),
                settings.alb_trust,
                alb_keys=resources.alb_keys(),
                cognito_keys=resources.cognito_keys(),
            )
        except IdentityRefused:
            st.rerun(scope="app")


def sign_out_button(who: Identity) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{who.username}** ({', '.join(sorted(who.roles))})")
        if resources.settings().console_auth == "dev" and st.button("Sign out", key="sign_out"):
            st.session_state.pop(IDENTITY_KEY, None)
            st.rerun()

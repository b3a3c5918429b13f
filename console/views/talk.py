"""Talk to the agent: a call from this browser to the deployed agent, in a room of its own, for every role."""

from __future__ import annotations

import streamlit as st

from console import auth, resources, talk

CALL_KEY = "talk_call"
COMPONENT_HEIGHT = 120

who = auth.require()
st.title("Talk to the agent")
settings = resources.settings()
st.caption(
    f"Starts a call with the agent `{settings.agent_name}` in a new room, from this browser's microphone. "
    f"The join token is made here and lasts {settings.console_talk_ttl_minutes} minutes: join within that time."
)
if missing := talk.missing_settings(settings):
    st.info(f"Talking to the agent needs {', '.join(missing)} in the console's settings.", icon=":material/info:")
    st.stop()

if st.button("Start a call", key="talk_start", type="primary"):
    try:
        st.session_state[CALL_KEY] = talk.start_call(settings, who)
    except talk.TalkUnavailable as unavailable:
        st.error(f"{unavailable}.", icon=":material/error:")
        st.stop()

call = st.session_state.get(CALL_KEY)
if isinstance(call, talk.Call):
    st.write(f"Room `{call.room}` on {call.url}")
    st.iframe(talk.browser_html(call), height=COMPONENT_HEIGHT)

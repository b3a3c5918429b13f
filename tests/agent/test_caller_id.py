"""Caller ID on phone calls: it may stand in for the spoken phone number when a caller is verified, never for the
name and never alone, and the model never sees it. The receptionist runs against the real PostgreSQL data layer
(the same check and attempt counting as every verification) with a scripted stand-in for the model.

LiveKit's SIP service reports the caller's number as the SIP participant's attribute `sip.phoneNumber`
(docs.livekit.io/reference/telephony/sip-participant); the worker reads it from that participant only."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from livekit import rtc

from agent.caller_id import caller_id
from devtools.testing.scripted import Call
from tests.agent.conftest import Conversation, receptionist_call, tool_outputs
from tests.agent.test_worker import SETTINGS

MARIA_LINE = "+15555550123"  # the phone on Maria Garcia's seeded record
OTHER_LINE = "+15559990000"  # on nobody's record
SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


def by_caller_id(full_name: str) -> Call:
    return Call("verify_identity", {"full_name": full_name, "use_caller_id": True})


def seen_by_model(call: Conversation) -> list[str]:
    """Everything the model was given, request by request: instructions, caller turns, tool calls and outputs."""
    return [json.dumps(request.to_dict(exclude_function_call=False)) for request in call.model.requests]


def session_attempts(sql: Any, call: Conversation) -> list[str]:
    rows = sql(
        "SELECT outcome FROM identity_attempts WHERE call_session_id = %s ORDER BY id", call.state.call_session_id
    )
    return [outcome for (outcome,) in rows]


# -- verification ----------------------------------------------------------------------------------------------


async def test_a_caller_on_the_number_of_their_record_verifies_with_their_name(hospital: Any, sql: Any) -> None:
    async with receptionist_call(hospital, caller_id=MARIA_LINE) as call:
        result = await call.say(
            "It's Maria Garcia, and yes, I'm calling from my own phone.", by_caller_id("Maria Garcia"), "Thanks."
        )
        _, output, is_error = tool_outputs(result)[0]
        assert not is_error
        assert output.startswith("Verified.")
        ((maria,),) = sql("SELECT id FROM patients WHERE mrn = 'MRN100001'")
        assert call.state.patient_id == maria
        assert session_attempts(sql, call) == ["verified"]
        assert sql(
            "SELECT detail FROM audit_log WHERE call_session_id = %s AND entity = 'patient'", call.state.call_session_id
        ) == [({"lookup": "caller_id", "matches": 1},)]
        # Staff see which factor verified the caller, never its value.
        assert sql("SELECT detail FROM call_events WHERE kind = 'verified'") == [
            ({"patient_id": maria, "factors": ["caller_id"]},)
        ]
        # As after a spoken phone number, the caller may hear and change their own appointments.
        listed = await call.say("What appointments do I have?", Call("list_my_appointments", {}), "You have one.")
        _, appointments, is_error = tool_outputs(listed)[0]
        assert not is_error
        assert "Aisha Patel" in appointments


async def test_the_caller_id_tells_two_patients_with_one_name_apart(hospital: Any, sql: Any) -> None:
    async with receptionist_call(hospital, caller_id="+15555550188") as call:
        await call.say("James Smith, on my own phone.", by_caller_id("James Smith"), "Thanks.")
        assert sql("SELECT date_of_birth::text FROM patients WHERE id = %s", call.state.patient_id) == [("1990-06-21",)]


async def test_a_caller_id_not_on_the_names_record_is_no_match_and_counted(hospital: Any, sql: Any) -> None:
    async with receptionist_call(hospital, caller_id=OTHER_LINE) as call:
        outputs = []
        for name in ("Maria Garcia", "Nobody Onfile"):
            result = await call.say(f"{name}, on my own phone.", by_caller_id(name), "No match, sorry.")
            outputs.append(tool_outputs(result)[0][1:])
        assert outputs[0] == outputs[1], "the same words whether or not the name is on file"
        output, is_error = outputs[0]
        assert is_error
        assert "No match" in output
        assert "date of birth" in output
        last = await call.say("Maria Garcia.", by_caller_id("Maria Garcia"), "I'm sorry.")
        assert "last try" in tool_outputs(last)[0][1]
        assert call.state.identity_closed
        assert call.state.patient_id is None
        # Counted by the database like any failed check: per call, and per name.
        assert session_attempts(sql, call) == ["no_match"] * 3
        assert sql("SELECT failures FROM identity_claims WHERE claim = identity_claim('Maria Garcia')") == [(2,)]
        assert sql("SELECT count(*) FROM call_events WHERE kind = 'verification_failed'") == [(3,)]


async def test_without_a_caller_id_the_model_is_told_to_ask_for_the_date_of_birth(
    conversation: Conversation, sql: Any
) -> None:
    result = await conversation.say(
        "Maria Garcia, I'm on my own phone.", by_caller_id("Maria Garcia"), "Your birthday?"
    )
    _, output, is_error = tool_outputs(result)[0]
    assert is_error
    assert "calling from isn't available on this call. Ask for their date of birth" in output
    assert conversation.state.patient_id is None
    assert conversation.state.failed_identity_checks == 0, "nothing was checked, so no attempt is used up"
    assert session_attempts(sql, conversation) == []


async def test_a_spoken_phone_together_with_the_caller_id_is_refused_unchecked(hospital: Any, sql: Any) -> None:
    async with receptionist_call(hospital, caller_id=OTHER_LINE) as call:
        arguments = {"full_name": "Maria Garcia", "phone": MARIA_LINE, "use_caller_id": True}
        result = await call.say("Maria Garcia, 555 555 0123.", Call("verify_identity", arguments), "Which number?")
        _, output, is_error = tool_outputs(result)[0]
        assert is_error
        assert "not both" in output
        assert call.state.patient_id is None
        assert session_attempts(sql, call) == []


# -- what the model sees ---------------------------------------------------------------------------------------


async def test_the_caller_id_never_reaches_the_model(hospital: Any) -> None:
    async with receptionist_call(hospital, caller_id=MARIA_LINE) as call:
        await call.say("James Smith, my own phone.", by_caller_id("James Smith"), "No match, sorry.")
        await call.say("Sorry, Maria Garcia.", by_caller_id("Maria Garcia"), "Thanks Maria.")
        await call.say("My appointments?", Call("list_my_appointments", {}), "You have one.")
        seen = seen_by_model(call)
    assert "Verified." in seen[-1]
    for request in seen:
        assert MARIA_LINE.removeprefix("+1") not in request


async def test_only_a_call_with_a_caller_id_is_offered_it(hospital: Any) -> None:
    offered = {}
    for line in (MARIA_LINE, None):
        async with receptionist_call(hospital, caller_id=line) as call:
            await call.say("Hello.", "Hello, how can I help?")
            (offered[line],) = seen_by_model(call)
    assert "use_caller_id=true" in offered[MARIA_LINE], "a phone call with caller ID offers it from the first turn"
    assert "use_caller_id" not in offered[None]
    assert "the phone number on file) and call verify_identity" in offered[None]


# -- where the caller ID comes from ----------------------------------------------------------------------------


def participant(kind: rtc.ParticipantKind.ValueType, **attributes: str) -> SimpleNamespace:
    return SimpleNamespace(identity=f"caller-{kind}", kind=kind, attributes=attributes)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (participant(SIP, **{"sip.phoneNumber": MARIA_LINE}), MARIA_LINE),
        (participant(STANDARD, **{"sip.phoneNumber": MARIA_LINE}), None),
        (participant(SIP, **{"sip.phoneNumber": "anonymous"}), None),
        (participant(SIP, **{"sip.phoneNumber": "15555550123"}), None),
        (participant(SIP), None),
        (None, None),
    ],
    ids=["sip", "web-participant-claiming-a-number", "withheld", "not-e164", "no-attribute", "nobody"],
)
def test_the_caller_id_is_a_sip_participants_well_formed_number(who: Any, expected: str | None) -> None:
    assert caller_id(who) == expected


async def test_the_worker_gives_the_call_the_number_of_a_sip_caller_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.agents import AgentSession
    from livekit.agents.testing import fake_job_context
    from livekit.plugins import silero

    from agent import worker
    from agent.settings import load

    started: list[AgentSession] = []

    async def fake_start(session: AgentSession, agent: object, **kwargs: object) -> None:
        started.append(session)  # no room to join here

    monkeypatch.setattr(AgentSession, "start", fake_start)
    settings = load(**{**SETTINGS, "database_timeout_seconds": 1})  # no database: the call is still answered
    vad = silero.VAD.load()
    for kind in (SIP, STANDARD):
        with fake_job_context() as ctx:
            caller = participant(kind, **{"sip.phoneNumber": MARIA_LINE})

            async def joins_after_the_job_started(caller: SimpleNamespace = caller, **_: object) -> SimpleNamespace:
                # The room is empty when the job starts; the caller joins a moment later (LiveKit's
                # JobContext.wait_for_participant returns them once they are active).
                assert not ctx.room.remote_participants
                await asyncio.sleep(0.05)
                return caller

            monkeypatch.setattr(ctx, "wait_for_participant", joins_after_the_job_started)
            ctx.proc.userdata.update(settings=settings, vad=vad)
            await worker.entrypoint(ctx)
            for callback in ctx._shutdown_callbacks:
                await callback("test")
    phone_call, web_call = (session.userdata for session in started)
    assert phone_call.caller_id == MARIA_LINE
    assert phone_call.transfer is not None, "a phone caller who joined late can still be transferred"
    assert web_call.caller_id is None, "a web participant's own attributes are not caller ID"
    assert web_call.transfer is None

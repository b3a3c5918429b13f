"""After an emergency: one handling whoever noticed it (the phrase screen, or the model through report_emergency),
a live transfer offered where the line has one, the line kept open for the caller's answer, and no appointment
searched, booked, moved or cancelled for the rest of the call, whatever the model does."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from livekit.agents import AgentSession
from livekit.agents.llm.utils import build_legacy_openai_schema

from agent.call import CallConfig, CallState
from agent.receptionist import Receptionist
from agent.safety import Emergency, detect_emergency, emergency_message
from devtools.testing.scripted import Call, ScriptedLLM
from tests.agent.conftest import CONFIG, DESK_OPEN, ZONE, Conversation, offered_slot, reply_text, tool_outputs
from tests.agent.test_conversations import offer_patel_slots, verify_maria

# Said in words no phrase of the screen knows: only the model can notice this one.
MISSED_BY_THE_SCREEN = "My dad's gone a funny colour, he's sweating buckets and mumbling nonsense"
TRANSFER_NUMBER = "+15550100100"


def spoken(conversation: Conversation) -> str:
    """Everything the agent has said in the call so far (speech from a tool included)."""
    return " ".join(
        item.text_content or ""
        for item in conversation.session.history.items
        if item.type == "message" and item.role == "assistant"
    )


def situation(request) -> str:
    """The system message the model gets each step with the clock (and, after an emergency, what that means)."""
    return next(item.text_content for item in request.items if item.id == "receptionist_clock")


async def test_nothing_is_booked_moved_cancelled_or_searched_after_an_emergency(conversation: Conversation, sql):
    await verify_maria(conversation)
    await offer_patel_slots(conversation)
    doctor_id, starts_at = offered_slot(conversation.model.requests[-1])
    booking = {"doctor_id": doctor_id, "starts_at": starts_at, "reason": "check-up"}
    await conversation.say("The first one.", Call("book_appointment", booking), "Shall I go ahead?")
    ((appointment_id,),) = sql(
        "SELECT a.id FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "WHERE p.full_name = 'Maria Garcia' AND a.status = 'booked' LIMIT 1"
    )

    emergency = await conversation.session.run(user_input="oh no my husband just collapsed")
    assert reply_text(emergency) == emergency_message("911")
    # The caller's next words are heard (the line stays open); a careless model carries on with the booking it
    # read back before, and with everything else about appointments, all in one step.
    result = await conversation.say(
        "Yes, go ahead.",
        [
            Call("book_appointment", {**booking, "confirmed": True}),
            Call("find_free_slots", {"specialty": "Cardiology"}),
            Call("reschedule_appointment", {"appointment_id": appointment_id, "new_starts_at": starts_at}),
            Call("cancel_appointment", {"appointment_id": appointment_id, "confirmed": True}),
        ],
        "Please call 911 now. Is someone with you?",
    )
    outputs = tool_outputs(result)
    assert [name for name, _, _ in outputs] == [
        "book_appointment",
        "find_free_slots",
        "reschedule_appointment",
        "cancel_appointment",
    ]
    for _, output, is_error in outputs:
        assert is_error
        assert "emergency (unconscious)" in output
        assert "call 911 now" in output
    assert sql("SELECT count(*) FROM appointments WHERE booked_by = 'agent'") == [(0,)]
    assert sql("SELECT status FROM appointments WHERE id = %s", appointment_id) == [("booked",)]
    assert "described an emergency (unconscious)" in situation(conversation.model.requests[-1])
    refused = sql("SELECT tool FROM call_events WHERE kind = 'tool_call' AND outcome = 'refused' ORDER BY id")
    assert [tool for (tool,) in refused] == [name for name, _, _ in outputs]
    assert sql("SELECT detail->>'kind', detail->>'source' FROM call_events WHERE kind = 'emergency'") == [
        ("unconscious", "screen")
    ]


async def test_the_model_reports_an_emergency_the_screen_missed(conversation: Conversation, sql) -> None:
    assert detect_emergency(MISSED_BY_THE_SCREEN) is None
    result = await conversation.say(MISSED_BY_THE_SCREEN, Call("report_emergency", {"kind": "stroke"}))
    name, output, is_error = tool_outputs(result)[0]
    assert (name, is_error) == ("report_emergency", False)
    # The screen's fixed words, spoken as they are; the model is not asked to say anything after the tool.
    assert emergency_message("911") in spoken(conversation)
    assert emergency_message("911") in output
    assert len(conversation.model.requests) == 1
    assert sql("SELECT detail->>'kind', detail->>'source' FROM call_events WHERE kind = 'emergency'") == [
        ("stroke", "model")
    ]

    later = await conversation.say(
        "Could you still book me in with Dr Patel next week?",
        Call("find_free_slots", {"specialty": "Cardiology"}),
        "I can't book anything now. Please call 911.",
    )
    assert tool_outputs(later)[0][2] is True
    assert "emergency (stroke)" in tool_outputs(later)[0][1]
    await conversation.state.finish()
    assert sql("SELECT outcome FROM call_sessions") == [("emergency",)]


async def test_a_badly_named_emergency_is_still_handled(conversation: Conversation, sql) -> None:
    result = await conversation.say("...", Call("report_emergency", {"kind": "HE IS NOT OK!!"}))
    assert tool_outputs(result)[0][2] is False
    assert sql("SELECT detail->>'kind' FROM call_events WHERE kind = 'emergency'") == [("other",)]
    assert "call 911" in spoken(conversation)


async def test_a_live_transfer_is_offered_where_the_line_has_one(hospital, sql) -> None:
    transferred: list[str] = []

    async def transfer(number: str) -> None:
        transferred.append(number)

    config = CallConfig(hospital_name="Riverside", zone=ZONE, emergency_number="911", transfer_number=TRANSFER_NUMBER)
    state = CallState(hospital=hospital, config=config, transfer=transfer, clock=lambda: DESK_OPEN)
    await state.begin(room="emergency-room", job_id="job")
    model = ScriptedLLM()
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(config))
        emergency = await session.run(user_input="she's not breathing")
        said = reply_text(emergency)
        assert said == emergency_message("911", can_transfer=True)
        assert "put you through" in said
        assert not model.requests  # the screen answered; nothing ended the call
        model.add(Call("transfer_to_human", {}), "Putting you through now.")
        answer = await session.run(user_input="yes please")
    await state.finish()
    assert tool_outputs(answer)[0][2] is False
    assert transferred == [TRANSFER_NUMBER]
    assert "call transfer_to_human" in situation(model.requests[0])
    assert sql("SELECT kind FROM call_events WHERE kind IN ('emergency', 'handoff') ORDER BY id") == [
        ("emergency",),
        ("handoff",),
    ]
    # The handoff does not hide that the call was an emergency.
    assert sql("SELECT outcome FROM call_sessions") == [("emergency",)]


async def test_after_hours_an_emergency_gets_the_same_advice_and_a_message_instead_of_a_transfer(hospital, sql) -> None:
    transferred: list[str] = []

    async def transfer(number: str) -> None:
        transferred.append(number)

    night = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # Tuesday 22:00 in New York: the front desk is closed
    config = CallConfig(hospital_name="Riverside", zone=ZONE, emergency_number="911", transfer_number=TRANSFER_NUMBER)
    state = CallState(hospital=hospital, config=config, transfer=transfer, clock=lambda: night)
    await state.begin(room="night-room", job_id="job")
    model = ScriptedLLM()
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(config))
        emergency = await session.run(user_input="she's not breathing")
        # The same words as at any hour, minus an offer nobody is there to take up.
        assert reply_text(emergency) == emergency_message("911")
        assert emergency_message("911", can_transfer=True).startswith(emergency_message("911").split(" I can't")[0])
        assert not model.requests  # the screen answered, before the model
        model.add(
            [Call("transfer_to_human", {}), Call("find_free_slots", {"specialty": "Cardiology"})],
            "Please call 911 now. Can I take a message for the front desk?",
        )
        answer = await session.run(user_input="can I talk to someone there?")
    await state.finish()
    outputs = tool_outputs(answer)
    assert [(name, is_error) for name, _, is_error in outputs] == [
        ("transfer_to_human", True),
        ("find_free_slots", True),
    ]
    assert "request_callback" in outputs[0][1]
    assert "call 911 now" in outputs[1][1]
    assert transferred == []
    told = situation(model.requests[0])
    assert "offer a message for the front desk (request_callback)" in told
    assert "call transfer_to_human" not in told
    assert sql("SELECT detail->>'kind', detail->>'source' FROM call_events WHERE kind = 'emergency'") == [
        ("breathing", "screen")
    ]
    assert sql("SELECT outcome FROM call_sessions") == [("emergency",)]


def test_without_a_transfer_the_message_offers_none() -> None:
    message = emergency_message("112")
    assert "put you through" not in message
    assert "won't book anything" in message


def test_the_tool_names_every_kind_the_screen_knows() -> None:
    """The model picks a kind from the tool's schema; it lists the same kinds as agent/safety.py."""
    schema = build_legacy_openai_schema(Receptionist(CONFIG).report_emergency)
    described = schema["function"]["parameters"]["properties"]["kind"]["description"]
    listed = set(re.findall(r"[a-z_]+", described.split("closest of", 1)[1].split(";", 1)[0]))
    assert listed == {kind.value for kind in Emergency}

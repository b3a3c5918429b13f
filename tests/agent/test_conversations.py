"""The receptionist end to end in text mode: the real Agent and tools, the real PostgreSQL data layer with
seed data, and a scripted stand-in for the model emitting the tool calls a real model would make."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from livekit.agents import AgentSession, llm
from livekit.agents.testing import fake_job_context

from agent.call import CallConfig, CallState
from agent.receptionist import Receptionist, _tag_tool_calls
from devtools.testing.scripted import Call, ScriptedLLM
from tests.agent.conftest import (
    CONFIG,
    DESK_OPEN,
    ZONE,
    Conversation,
    last_tool_output,
    mentioned_id,
    offered_slot,
    reply_text,
    tool_outputs,
)

MARIA = {"full_name": "Maria Garcia", "date_of_birth": "1985-04-12"}


def next_weekday_morning() -> str:
    """09:00 on the Tuesday after the seed's Monday (Dr Patel works weekdays 9 to 5; shifts start that Monday)."""
    today = datetime.now(ZONE).date()
    monday = today + timedelta(days=7 - today.weekday())
    return f"{monday + timedelta(days=1)}T09:00"


def next_skipped_wall_time() -> str:
    """The first wall-clock time the hospital's clocks skip (spring forward) from now on, as a model would pass it."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    while (hour + timedelta(hours=1)).astimezone(ZONE).utcoffset() <= hour.astimezone(ZONE).utcoffset():
        hour += timedelta(hours=1)
    skipped = hour.astimezone(ZONE).replace(tzinfo=None) + timedelta(hours=1, minutes=30)
    return f"{skipped:%Y-%m-%dT%H:%M}"


async def verify_maria(conversation: Conversation) -> None:
    result = await conversation.say(
        "It's Maria Garcia, born April 12th 1985.",
        Call("verify_identity", MARIA),
        "Thanks Maria, you're verified. How can I help?",
    )
    result.expect.next_event().is_function_call(name="verify_identity")
    result.expect.next_event().is_function_call_output(is_error=False)


async def offer_patel_slots(conversation: Conversation):
    await conversation.say(
        "I'd like to see Doctor Patel.",
        Call("find_doctors", {"doctor_name": "Patel"}),
        "Doctor Aisha Patel is a cardiologist. When would suit you?",
    )
    return await conversation.say(
        "Any morning early next week.",
        lambda ctx: Call(
            "find_free_slots",
            {"doctor_id": mentioned_id(ctx, "doctor_id"), "earliest": next_weekday_morning()},
        ),
        "I have a few times, the first is at nine in the morning. Does that work?",
    )


async def test_greets_with_the_hospital_name(conversation: Conversation) -> None:
    for _ in range(100):
        greeting = [item for item in conversation.session.history.items if item.type == "message"]
        if greeting:
            break
        await asyncio.sleep(0.02)
    assert greeting
    assert "Riverside General Hospital" in (greeting[0].text_content or "")
    assert greeting[0].role == "assistant"
    assert not conversation.model.requests


async def test_verified_booking_end_to_end(conversation: Conversation, sql) -> None:
    await verify_maria(conversation)
    offer = await offer_patel_slots(conversation)
    slots = tool_outputs(offer)[0][1]
    assert "Option 1" in slots
    assert "[starts_at" in slots

    def book(confirmed: bool):
        return lambda ctx: Call(
            "book_appointment",
            {"doctor_id": doctor_id, "starts_at": starts_at, "reason": "heart check-up", "confirmed": confirmed},
        )

    doctor_id, starts_at = offered_slot(conversation.model.requests[-1])
    read_back = await conversation.say(
        "The first one, please.", book(False), "That's with Doctor Patel at nine. Shall I go ahead?"
    )
    assert "Not done yet" in tool_outputs(read_back)[0][1]
    assert sql("SELECT count(*) FROM appointments WHERE booked_by = 'agent'") == [(0,)]

    done = await conversation.say("Yes, go ahead.", book(True), "Done, you're booked with Doctor Patel.")
    name, output, is_error = tool_outputs(done)[0]
    assert (name, is_error) == ("book_appointment", False)
    assert output.startswith("Booked:")

    rows = sql(
        "SELECT a.doctor_id, a.starts_at, a.status, p.full_name FROM appointments a JOIN patients p "
        "ON p.id = a.patient_id WHERE a.booked_by = 'agent'"
    )
    assert len(rows) == 1
    assert rows[0][0] == doctor_id
    assert rows[0][2] == "booked"
    assert rows[0][3] == "Maria Garcia"
    assert rows[0][1] == datetime.fromisoformat(starts_at).replace(tzinfo=ZONE)
    events = [kind for (kind,) in sql("SELECT kind FROM call_events ORDER BY id")]
    assert events[0] == "call_started"
    assert events.count("user_turn") == 5  # one per caller turn: the interaction log
    assert events.count("agent_turn") >= 5
    assert "verified" in events
    assert "booking_created" in events


async def test_confirmation_for_another_slot_is_read_back_again(conversation: Conversation, sql) -> None:
    await verify_maria(conversation)
    await offer_patel_slots(conversation)
    request = conversation.model.requests[-1]
    first, second = offered_slot(request, 1), offered_slot(request, 2)
    await conversation.say(
        "The first.",
        Call("book_appointment", {"doctor_id": first[0], "starts_at": first[1], "reason": "check-up"}),
        "Shall I book it?",
    )
    # The model "confirms" a slot the caller never heard read back: nothing is written, it reads back again.
    result = await conversation.say(
        "Yes.",
        Call(
            "book_appointment",
            {"doctor_id": second[0], "starts_at": second[1], "reason": "check-up", "confirmed": True},
        ),
        "Sorry, let me check: shall I book the second time?",
    )
    assert "Not done yet" in tool_outputs(result)[0][1]
    assert sql("SELECT count(*) FROM appointments WHERE booked_by = 'agent'") == [(0,)]


async def test_unverified_caller_learns_nothing_and_is_audited(conversation: Conversation, sql) -> None:
    appointment = sql(
        "SELECT a.starts_at, d.full_name FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "JOIN doctors d ON d.id = a.doctor_id WHERE p.full_name = 'Maria Garcia' AND a.status = 'booked' LIMIT 1"
    )
    result = await conversation.say(
        "When is Maria Garcia's next appointment? I'm her neighbour.",
        Call("list_my_appointments", {}),
        "I'm sorry, I can only share appointment details with the patient once I've verified who I'm talking to.",
    )
    name, output, is_error = tool_outputs(result)[0]
    assert (name, is_error) == ("list_my_appointments", True)
    assert "not verified" in output
    said = reply_text(result) + output
    assert "Maria" not in output
    assert "appointment_id" not in said
    for starts_at, doctor in appointment:
        assert doctor not in said
        assert starts_at.astimezone(ZONE).strftime("%B") not in output
    denied = sql("SELECT action, entity, patient_id FROM audit_log WHERE action = 'denied'")
    assert denied == [("denied", "appointment", None)]


async def test_wrong_identity_details_reveal_nothing(conversation: Conversation, sql) -> None:
    result = await conversation.say(
        "Maria Garcia, born January 1st 1985.",
        Call("verify_identity", {"full_name": "Maria Garcia", "date_of_birth": "1985-01-01"}),
        "I couldn't find a match with those details. Could you check them?",
    )
    _, output, is_error = tool_outputs(result)[0]
    assert is_error
    assert "No match" in output
    assert "+1555" not in output
    assert conversation.state.patient_id is None
    assert sql("SELECT count(*) FROM call_events WHERE kind = 'verification_failed'") == [(1,)]


async def test_slot_taken_between_offer_and_booking(conversation: Conversation, sql) -> None:
    await verify_maria(conversation)
    await offer_patel_slots(conversation)
    doctor_id, starts_at = offered_slot(conversation.model.requests[-1])
    arguments = {"doctor_id": doctor_id, "starts_at": starts_at, "reason": "check-up"}
    await conversation.say("The first one.", Call("book_appointment", arguments), "Shall I go ahead?")

    # Someone else books the same slot from another line before the caller says yes.
    sql(
        "INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, booked_by) "
        "SELECT p.id, %s, %s::timestamptz, %s::timestamptz + interval '30 minutes', 'staff' "
        "FROM patients p WHERE p.full_name = 'Li Wei'",
        doctor_id,
        datetime.fromisoformat(starts_at).replace(tzinfo=ZONE),
        datetime.fromisoformat(starts_at).replace(tzinfo=ZONE),
    )
    taken = await conversation.say(
        "Yes please.",
        Call("book_appointment", {**arguments, "confirmed": True}),
        "Oh, that time was just taken. I can offer the next one instead.",
    )
    output = tool_outputs(taken)[0][1]
    assert "just taken" in output
    assert "Option 1" in output
    new_doctor, new_start = offered_slot(conversation.model.requests[-1])
    assert new_start != starts_at

    await conversation.say(
        "The next one is fine.",
        Call("book_appointment", {"doctor_id": new_doctor, "starts_at": new_start, "reason": "check-up"}),
        "That's with Doctor Patel. Shall I go ahead?",
    )
    done = await conversation.say(
        "Yes.",
        Call(
            "book_appointment",
            {"doctor_id": new_doctor, "starts_at": new_start, "reason": "check-up", "confirmed": True},
        ),
        "You're booked.",
    )
    assert tool_outputs(done)[-1][1].startswith("Booked:")
    mine = sql(
        "SELECT a.starts_at FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "WHERE a.booked_by = 'agent' AND p.full_name = 'Maria Garcia'"
    )
    assert mine == [(datetime.fromisoformat(new_start).replace(tzinfo=ZONE),)]
    outcomes = sql("SELECT outcome FROM call_events WHERE tool = 'book_appointment' ORDER BY id")
    assert ("slot_taken",) in outcomes


async def book_first_patel_slot(conversation: Conversation) -> int:
    await verify_maria(conversation)
    await offer_patel_slots(conversation)
    doctor_id, starts_at = offered_slot(conversation.model.requests[-1])
    arguments = {"doctor_id": doctor_id, "starts_at": starts_at, "reason": "check-up"}
    await conversation.say("The first, please.", Call("book_appointment", arguments), "Shall I go ahead?")
    result = await conversation.say("Yes.", Call("book_appointment", {**arguments, "confirmed": True}), "Booked.")
    return mentioned_id(conversation.model.requests[-1], "appointment_id") if result else 0


async def test_reschedule(conversation: Conversation, sql) -> None:
    appointment_id = await book_first_patel_slot(conversation)
    doctor_id, new_start = offered_slot(conversation.model.requests[-5], 2)

    def move(confirmed: bool):
        return Call(
            "reschedule_appointment",
            {"appointment_id": appointment_id, "new_starts_at": new_start, "confirmed": confirmed},
        )

    await conversation.say("Can I move it half an hour later?", move(False), "Move it to half past nine?")
    assert sql("SELECT status FROM appointments WHERE id = %s", appointment_id) == [("booked",)]
    result = await conversation.say("Yes.", move(True), "Done, it's now at half past nine.")
    assert tool_outputs(result)[0][1].startswith("Moved.")
    rows = sql("SELECT status, starts_at FROM appointments WHERE booked_by = 'agent' ORDER BY id")
    assert rows == [("cancelled", rows[0][1]), ("booked", datetime.fromisoformat(new_start).replace(tzinfo=ZONE))]
    assert sql("SELECT count(*) FROM call_events WHERE kind = 'booking_moved'") == [(1,)]
    assert doctor_id > 0


async def test_cancel(conversation: Conversation, sql) -> None:
    appointment_id = await book_first_patel_slot(conversation)
    listed = await conversation.say(
        "What appointments do I have?", Call("list_my_appointments", {}), "You have one with Doctor Patel."
    )
    assert f"appointment_id {appointment_id}" in tool_outputs(listed)[0][1]
    cancel = {"appointment_id": appointment_id}
    await conversation.say("Cancel it please.", Call("cancel_appointment", cancel), "Cancel the one with Patel?")
    assert sql("SELECT status FROM appointments WHERE id = %s", appointment_id) == [("booked",)]
    result = await conversation.say(
        "Yes.", Call("cancel_appointment", {**cancel, "confirmed": True}), "It's cancelled."
    )
    assert tool_outputs(result)[0][1].startswith("Cancelled")
    assert sql("SELECT status FROM appointments WHERE id = %s", appointment_id) == [("cancelled",)]
    assert sql("SELECT count(*) FROM call_events WHERE kind = 'booking_cancelled'") == [(1,)]


async def test_cancel_someone_elses_appointment_is_refused(conversation: Conversation, sql) -> None:
    ((other,),) = sql(
        "SELECT a.id FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "WHERE p.mrn = 'MRN100002' AND a.status = 'booked'"
    )
    await verify_maria(conversation)
    cancel = {"appointment_id": other}
    await conversation.say("Cancel appointment.", Call("cancel_appointment", cancel), "Shall I cancel it?")
    result = await conversation.say(
        "Yes.", Call("cancel_appointment", {**cancel, "confirmed": True}), "I couldn't find that appointment."
    )
    _, output, is_error = tool_outputs(result)[0]
    assert is_error
    assert "James" not in output
    assert "Dubois" not in output
    assert sql("SELECT status FROM appointments WHERE id = %s", other) == [("booked",)]
    # Refused before the read-back and again at the "confirmation", each time on the record against its owner.
    denied = sql(
        "SELECT p.mrn, entity, entity_id FROM audit_log a JOIN patients p ON p.id = a.patient_id "
        "WHERE action = 'denied'"
    )
    assert denied == [("MRN100002", "appointment", other)] * 2


async def test_new_patient_registration(conversation: Conversation, sql) -> None:
    result = await conversation.say(
        "I'm new here. Sam Rivera, born March 3rd 1991, my number is 555 201 7788.",
        Call(
            "register_patient",
            {"full_name": "Sam Rivera", "date_of_birth": "1991-03-03", "phone": "+1 (555) 201-7788"},
        ),
        "You're registered, Sam Rivera, born March 3rd 1991, phone ending 7788. Is that right?",
    )
    _, output, is_error = tool_outputs(result)[0]
    assert not is_error
    assert "Sam Rivera" in output
    assert "March 3rd, 1991" in output
    assert "+15552017788" in output
    assert sql("SELECT full_name, date_of_birth::text, phone FROM patients WHERE full_name = 'Sam Rivera'") == [
        ("Sam Rivera", "1991-03-03", "+15552017788")
    ]
    assert conversation.state.patient_id is not None
    assert sql("SELECT count(*) FROM call_events WHERE kind = 'patient_registered'") == [(1,)]


async def test_emergency_is_answered_before_the_model(conversation: Conversation, sql) -> None:
    # Scripted as a careless model that would book: it must never be asked.
    conversation.model.add(Call("find_free_slots", {"specialty": "Cardiology"}))
    result = await conversation.session.run(user_input="I have crushing chest pain and my left arm is numb")
    await conversation.state.flush()
    assert len(conversation.model.steps) == 1, "the model was asked despite the emergency"
    conversation.model.steps.clear()
    result.expect.next_event().is_message(role="assistant")
    result.expect.no_more_events()
    said = reply_text(result)
    assert "911" in said
    assert "hang up" in said
    assert sql("SELECT kind, detail->>'kind' FROM call_events WHERE kind = 'emergency'") == [
        ("emergency", "chest_pain")
    ]
    assert sql("SELECT count(*) FROM appointments WHERE booked_by = 'agent'") == [(0,)]
    await conversation.state.finish()
    assert sql("SELECT outcome FROM call_sessions") == [("emergency",)]


async def test_request_for_a_human_takes_a_callback(conversation: Conversation, sql) -> None:
    transfer = await conversation.say(
        "Can I talk to a real person?",
        Call("transfer_to_human", {}),
        "I can't transfer you right now, but I can take a message. What's your name and number?",
    )
    assert tool_outputs(transfer)[0][2] is True  # no transfer number on this line
    result = await conversation.say(
        "Jordan Lee, 555 010 4477, it's about a bill.",
        Call(
            "request_callback",
            {"caller_name": "Jordan Lee", "callback_phone": "+15550104477", "message": "Question about a bill"},
        ),
        "Thanks Jordan, the front desk will call you back.",
    )
    assert not tool_outputs(result)[0][2]
    assert sql("SELECT caller_name, callback_phone, message, status FROM callback_requests") == [
        ("Jordan Lee", "+15550104477", "Question about a bill", "open")
    ]
    assert sql("SELECT detail->>'kind' FROM call_events WHERE kind = 'handoff'") == [("callback",)]


async def test_practical_question_answered_from_the_database(conversation: Conversation, sql) -> None:
    (answer,) = sql("SELECT answer FROM hospital_info WHERE topic = 'parking'")[0]
    result = await conversation.say(
        "Where do I park?", Call("hospital_information", {"topic": "parking"}), "The garage is on Oak Street."
    )
    assert answer in tool_outputs(result)[0][1]
    unknown = await conversation.say(
        "Do you have a helipad tour?", Call("hospital_information", {"topic": "helipad tours"}), "I don't know."
    )
    assert "No recorded answer" in tool_outputs(unknown)[0][1]


HOSTILE = [
    ("verify_identity", {"full_name": "Robert'); DROP TABLE patients;--", "date_of_birth": "1985-04-12"}),
    ("verify_identity", {"full_name": "Maria Garcia", "date_of_birth": "12/04/1985"}),
    ("verify_identity", {"full_name": "Maria Garcia", "date_of_birth": "1985-02-30"}),
    ("register_patient", {"full_name": "A" * 10_000, "date_of_birth": "1990-01-01", "phone": "+15550001111"}),
    ("register_patient", {"full_name": "Sam Rivera", "date_of_birth": "2999-01-01", "phone": "+15550001111"}),
    ("register_patient", {"full_name": "Sam Rivera", "date_of_birth": "1990-01-01", "phone": "1 OR 1=1"}),
    ("find_free_slots", {"specialty": "Cardiology", "earliest": "next tuesday"}),
    ("find_free_slots", {"specialty": "Cardiology", "earliest": "9999-12-31T23:00"}),
    ("find_free_slots", {"specialty": "Cardiology", "earliest": "0001-01-01T00:00"}),
    ("find_free_slots", {"specialty": "Cardiology", "latest": "9999-12-31T23:59"}),
    ("find_free_slots", {"specialty": "x" * 10_000}),
    ("request_callback", {"caller_name": "Jo Lee", "callback_phone": "+15550104477", "message": "m" * 10_000}),
    ("request_callback", {"caller_name": "Jo Lee", "callback_phone": "'; DELETE FROM x;--", "message": "hi"}),
]


@pytest.mark.parametrize(("tool", "arguments"), HOSTILE, ids=[f"{t}-{i}" for i, (t, _) in enumerate(HOSTILE)])
async def test_malformed_and_hostile_arguments_write_nothing(conversation: Conversation, sql, tool, arguments):
    before = sql("SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM callback_requests)")
    result = await conversation.say("...", Call(tool, arguments), "Sorry, could you repeat that?")
    name, output, is_error = tool_outputs(result)[0]
    assert (name, is_error) == (tool, True)
    assert len(output) < 600
    assert sql("SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM callback_requests)") == before
    outcomes = sql("SELECT outcome FROM call_events WHERE kind = 'tool_call' AND tool = %s", tool)
    assert outcomes == [("refused",)]


async def test_hostile_booking_arguments_while_verified(conversation: Conversation, sql) -> None:
    await verify_maria(conversation)
    for arguments in (
        {"doctor_id": 1, "starts_at": "2026-13-45T99:00", "reason": "x"},
        {"doctor_id": -5, "starts_at": next_weekday_morning(), "reason": "x"},
        {"doctor_id": 1, "starts_at": next_weekday_morning(), "reason": "r" * 10_000},
        {"doctor_id": 1, "starts_at": "9999-12-31T23:00", "reason": "x"},
        {"doctor_id": 1, "starts_at": "0001-01-01T00:00", "reason": "x"},
        {"doctor_id": 1, "starts_at": "0001-01-01T00:00+14:00", "reason": "x", "confirmed": True},
        {"doctor_id": 1, "starts_at": next_skipped_wall_time(), "reason": "x"},
    ):
        result = await conversation.say("Book it.", Call("book_appointment", arguments), "Let me check that.")
        _, output, is_error = tool_outputs(result)[0]
        assert is_error
        assert "isn't answering" not in output  # the caller's mistake, not a broken booking system
    assert conversation.state.pending is None
    outcomes = sql("SELECT outcome FROM call_events WHERE kind = 'tool_call' AND tool = 'book_appointment'")
    assert set(outcomes) == {("refused",)}
    assert sql("SELECT count(*) FROM appointments WHERE booked_by = 'agent'") == [(0,)]


async def test_repeated_failures_suggest_a_human(conversation: Conversation) -> None:
    wrong = {"full_name": "Maria Garcia", "date_of_birth": "1985-01-0{}"}
    outputs = []
    for attempt in range(1, 4):
        arguments = {**wrong, "date_of_birth": wrong["date_of_birth"].format(attempt)}
        result = await conversation.say("...", Call("verify_identity", arguments), "No match, sorry.")
        outputs.append(tool_outputs(result)[0][1])
    assert "front desk" not in outputs[0]
    assert "transfer them or take a message" in outputs[2]


async def test_dropped_database_mid_call_apologises_and_goes_on(
    conversation: Conversation, hospital_url: str, postgres_server
) -> None:
    await verify_maria(conversation)
    database = hospital_url.rsplit("/", 1)[1]
    # The database goes away mid-call: its connections are cut and new ones are refused.
    postgres_server.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
    postgres_server.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")
    try:
        result = await conversation.say(
            "What appointments do I have?",
            Call("list_my_appointments", {}),
            "Sorry, our system isn't answering. Shall I take a message?",
        )
        _, output, is_error = tool_outputs(result)[0]
        assert is_error
        assert "request_callback" in output
        assert "Sorry" in reply_text(result)
    finally:
        postgres_server.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
    later = await conversation.say("Try again?", Call("list_my_appointments", {}), "You have appointments with us.")
    assert tool_outputs(later)[0][2] is False
    assert last_tool_output(conversation.model.requests[-1])


async def test_the_model_is_told_the_hospital_date_and_time_every_step(conversation: Conversation) -> None:
    conversation.state.clock = lambda: datetime(2026, 12, 1, 19, 30, tzinfo=UTC)  # 14:30 in New York
    await conversation.say("Where do I park?", Call("hospital_information", {"topic": "parking"}), "Oak Street.")
    await conversation.say("Thanks.", "You're welcome.")
    assert len(conversation.model.requests) == 3
    for request in conversation.model.requests:
        clock = [
            m.text_content for m in request.items if m.type == "message" and "Right now it is" in (m.text_content or "")
        ]
        assert len(clock) == 1
        assert "Tuesday, December 1, 2026, 14:30 (hospital time, America/New_York)" in clock[0]
        assert "2026-12-02T15:00" in clock[0]  # the example of tomorrow at 3 pm, in the tools' format


async def test_transfer_to_the_front_desk_when_a_number_is_set(hospital, sql) -> None:
    transferred: list[str] = []

    async def transfer(number: str) -> None:
        transferred.append(number)

    config = CallConfig(hospital_name="Riverside", zone=ZONE, emergency_number="911", transfer_number="+15550100100")
    state = CallState(hospital=hospital, config=config, transfer=transfer, clock=lambda: DESK_OPEN)
    await state.begin(room="transfer-room", job_id="job")
    model = ScriptedLLM(Call("transfer_to_human", {}), "Putting you through now.")
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(config))
        result = await session.run(user_input="Please put me through to a person.")
    await state.finish()
    assert tool_outputs(result)[0][2] is False
    assert transferred == ["+15550100100"]
    assert sql("SELECT detail->>'kind' FROM call_events WHERE kind = 'handoff'") == [("transfer",)]
    assert sql("SELECT outcome, ended_at IS NOT NULL FROM call_sessions") == [("handed_off", True)]


async def test_end_call_closes_the_call_session(hospital, sql) -> None:
    state = CallState(hospital=hospital, config=CONFIG)
    await state.begin(room="end-room", job_id="job")
    model = ScriptedLLM(Call("end_call", {}), "Goodbye, take care.")
    with fake_job_context():
        async with AgentSession[CallState](llm=model, userdata=state) as session:
            await session.start(Receptionist(CONFIG))
            result = await session.run(user_input="That's all, thank you, bye.")
    result.expect.next_event().is_function_call(name="end_call")
    assert "Goodbye" in reply_text(result)
    for _ in range(100):  # the session's close event closes the call record, in the background
        if sql("SELECT ended_at FROM call_sessions WHERE ended_at IS NOT NULL"):
            break
        await asyncio.sleep(0.02)
    assert sql("SELECT outcome, ended_at IS NOT NULL FROM call_sessions") == [("completed", True)]
    kinds = [kind for (kind,) in sql("SELECT kind FROM call_events ORDER BY id")]
    assert kinds[0] == "call_started"
    assert kinds[-1] == "call_ended"


# -- consent: a change needs the caller's answer to its read-back ----------------------------------------------


def booked_by_agent(sql) -> list[tuple]:
    return sql("SELECT patient_id, doctor_id, starts_at FROM appointments WHERE booked_by = 'agent'")


async def offered_arguments(conversation: Conversation) -> dict:
    await verify_maria(conversation)
    await offer_patel_slots(conversation)
    doctor_id, starts_at = offered_slot(conversation.model.requests[-1])
    return {"doctor_id": doctor_id, "starts_at": starts_at, "reason": "check-up"}


async def test_a_read_back_and_its_confirmation_in_one_model_step_change_nothing(conversation: Conversation, sql):
    arguments = await offered_arguments(conversation)
    # Both calls in one model step: the caller never had a turn to answer.
    result = await conversation.say(
        "The first one.",
        [Call("book_appointment", arguments), Call("book_appointment", {**arguments, "confirmed": True})],
        "Shall I go ahead?",
    )
    assert [output.startswith("Not done yet") for _, output, _ in tool_outputs(result)] == [True, True]
    assert booked_by_agent(sql) == []
    done = await conversation.say("Yes.", Call("book_appointment", {**arguments, "confirmed": True}), "Booked.")
    assert tool_outputs(done)[0][1].startswith("Booked:")


async def test_a_cancellation_read_back_and_confirmed_in_one_step_changes_nothing(conversation: Conversation, sql):
    await verify_maria(conversation)
    ((appointment,),) = sql(
        "SELECT a.id FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "WHERE p.mrn = 'MRN100001' AND a.status = 'booked'"
    )
    cancel = {"appointment_id": appointment}
    result = await conversation.say(
        "Cancel my appointment.",
        [Call("cancel_appointment", cancel), Call("cancel_appointment", {**cancel, "confirmed": True})],
        Call("cancel_appointment", {**cancel, "confirmed": True}),
        "Shall I cancel it?",
    )
    assert all(output.startswith("Not done yet") for _, output, _ in tool_outputs(result))
    assert sql("SELECT status FROM appointments WHERE id = %s", appointment) == [("booked",)]


async def test_a_confirmation_in_a_later_step_of_the_same_caller_turn_changes_nothing(conversation: Conversation, sql):
    arguments = await offered_arguments(conversation)
    result = await conversation.say(
        "The first one.",
        Call("book_appointment", arguments),
        Call("book_appointment", {**arguments, "confirmed": True}),
        "Shall I go ahead?",
    )
    confirmation = tool_outputs(result)[1][1]
    assert confirmation.startswith("Not done yet. The caller hasn't answered")
    assert booked_by_agent(sql) == []


async def test_a_change_read_back_for_one_patient_is_dropped_when_another_is_verified(conversation: Conversation, sql):
    arguments = await offered_arguments(conversation)
    await conversation.say("The first one.", Call("book_appointment", arguments), "Shall I go ahead?")
    await conversation.say(
        "Actually, I'm James Smith, born November 3rd 1972.",
        Call("verify_identity", {"full_name": "James Smith", "date_of_birth": "1972-11-03"}),
        "Thanks James.",
    )
    result = await conversation.say("Yes, book it.", Call("book_appointment", {**arguments, "confirmed": True}), "Ok.")
    assert tool_outputs(result)[0][1].startswith("Not done yet")
    assert booked_by_agent(sql) == []


async def test_verifying_again_even_as_the_same_patient_drops_the_read_back(conversation: Conversation, sql):
    arguments = await offered_arguments(conversation)
    await conversation.say("The first one.", Call("book_appointment", arguments), "Shall I go ahead?")
    await verify_maria(conversation)
    result = await conversation.say("Yes.", Call("book_appointment", {**arguments, "confirmed": True}), "Ok.")
    assert tool_outputs(result)[0][1].startswith("Not done yet")
    assert booked_by_agent(sql) == []


def patel_and_retired(sql) -> tuple[int, int]:
    ((patel,),) = sql("SELECT id FROM doctors WHERE full_name = 'Aisha Patel'")
    ((retired,),) = sql("SELECT id FROM doctors WHERE NOT active LIMIT 1")
    return patel, retired


async def test_nothing_unbookable_is_read_back(conversation: Conversation, sql):
    await verify_maria(conversation)
    patel, retired = patel_and_retired(sql)
    tuesday = next_weekday_morning()[:10]
    unbookable = [
        (patel, "2020-01-07T09:00", "outside the dates this can be"),
        (patel, "0001-01-02T09:00", ""),
        (patel, f"{tuesday}T03:00", "working hours"),
        (patel, f"{tuesday}T09:10", "grid"),
        (999_999, f"{tuesday}T09:00", "no such doctor"),
        (retired, f"{tuesday}T09:00", "not taking appointments"),
    ]
    for doctor_id, starts_at, reason in unbookable:
        arguments = {"doctor_id": doctor_id, "starts_at": starts_at, "reason": "check-up"}
        result = await conversation.say("Book that.", Call("book_appointment", arguments), "Let me check.")
        _, output, is_error = tool_outputs(result)[0]
        assert is_error, (starts_at, output)
        assert reason in output
        assert "Read this back" not in output
        assert conversation.state.pending is None
    # A bookable time never offered in this call is read back with its doctor named.
    ((free,),) = sql(
        "SELECT to_char(starts_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD\"T\"HH24:MI') "
        "FROM free_slots(now(), now() + interval '14 days', %s, NULL, interval '30 minutes', now(), 1)",
        patel,
    )
    arguments = {"doctor_id": patel, "starts_at": free, "reason": "check-up"}
    result = await conversation.say(
        "Book Tuesday half nine with Doctor Patel.", Call("book_appointment", arguments), "Ok?"
    )
    assert "Read this back to the caller: Aisha Patel (Cardiology)" in tool_outputs(result)[0][1]


async def test_a_taken_time_is_not_read_back(conversation: Conversation, sql):
    await verify_maria(conversation)
    patel, _ = patel_and_retired(sql)
    ((taken,),) = sql(
        "SELECT to_char(a.starts_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD\"T\"HH24:MI') FROM appointments a "
        "JOIN patients p ON p.id = a.patient_id WHERE p.mrn = 'MRN100001' AND a.status = 'booked'"
    )
    arguments = {"doctor_id": patel, "starts_at": taken, "reason": "check-up"}
    result = await conversation.say("Wednesday at ten.", Call("book_appointment", arguments), "That one's taken.")
    output = tool_outputs(result)[0][1]
    assert output.startswith("That time is not free, so nothing was read back")
    assert "Option 1" in output
    assert conversation.state.pending is None


async def test_a_move_and_a_cancellation_are_read_back_with_the_appointment_named(conversation: Conversation, sql):
    await verify_maria(conversation)
    ((appointment,),) = sql(
        "SELECT a.id FROM appointments a JOIN patients p ON p.id = a.patient_id "
        "WHERE p.mrn = 'MRN100001' AND a.status = 'booked'"
    )
    cancel = await conversation.say(
        "Cancel my appointment.", Call("cancel_appointment", {"appointment_id": appointment}), "Cancel it?"
    )
    assert "cancelling the appointment with Aisha Patel (Cardiology)" in tool_outputs(cancel)[0][1]
    tuesday = next_weekday_morning()[:10]
    move = await conversation.say(
        "Or move it to Tuesday at three am.",
        Call("reschedule_appointment", {"appointment_id": appointment, "new_starts_at": f"{tuesday}T03:00"}),
        "That's outside the doctor's hours.",
    )
    assert "working hours" in tool_outputs(move)[0][1]
    assert conversation.state.pending.action == "cancel"  # the refused move left the earlier read-back alone


# -- identity --------------------------------------------------------------------------------------------------


async def test_three_failed_checks_leave_only_a_transfer_or_a_message(conversation: Conversation, sql):
    for day in (1, 2, 3):
        wrong = {"full_name": "Maria Garcia", "date_of_birth": f"1985-01-0{day}"}
        await conversation.say("...", Call("verify_identity", wrong), "No match, sorry.")
    result = await conversation.say("Oh, it's April 12th.", Call("verify_identity", MARIA), "I'm sorry.")
    _, output, is_error = tool_outputs(result)[0]
    assert is_error
    assert "can't be checked on this call" in output
    assert "request_callback" in output
    assert conversation.state.patient_id is None
    # Registering instead is closed too.
    register = await conversation.say(
        "Then register me.",
        Call("register_patient", {**MARIA, "phone": "+15555550123"}),
        "I can take a message instead.",
    )
    assert "can't be checked on this call" in tool_outputs(register)[0][1]
    assert conversation.state.patient_id is None


async def test_a_locked_name_is_neither_confirmed_nor_denied(conversation: Conversation, sql):
    for name in ("Maria Garcia", "Nobody Onfile"):
        sql(
            "INSERT INTO identity_claims (claim, failures, last_failure_at, locked_until) "
            "VALUES (identity_claim(%s), 5, now(), now() + interval '1 day')",
            name,
        )
    outputs = []
    for name in ("Maria Garcia", "Nobody Onfile"):
        result = await conversation.say(
            "...", Call("verify_identity", {"full_name": name, "date_of_birth": "1985-04-12"}), "I'm sorry."
        )
        outputs.append(tool_outputs(result)[0][1:])
    assert outputs[0] == outputs[1]
    assert outputs[0][1] is True
    assert conversation.state.patient_id is None


async def test_registering_someone_elses_name_and_birth_date_makes_no_record_and_locks_nobody_out(
    conversation: Conversation, sql
):
    result = await conversation.say(
        "I'm new. Maria Garcia, born April 12th 1985, 555 999 0000.",
        Call("register_patient", {**MARIA, "phone": "+15559990000"}),
        "I can't register you with those details.",
    )
    _, output, is_error = tool_outputs(result)[0]
    assert is_error
    assert "no record was made" in output
    assert "Maria" not in output
    assert "+1555555" not in output
    assert sql("SELECT count(*) FROM patients WHERE name_key = 'maria garcia'") == [(1,)]
    assert conversation.state.patient_id is None
    await verify_maria(conversation)  # the real Maria still verifies


async def test_re_registering_reads_back_only_what_the_caller_said(conversation: Conversation, sql):
    result = await conversation.say(
        "Register me: Maria Garcia, April 12th 1985, 555 555 0123, email new.address@example.org.",
        Call("register_patient", {**MARIA, "phone": "+15555550123", "email": "new.address@example.org"}),
        "You're already with us.",
    )
    _, output, is_error = tool_outputs(result)[0]
    assert not is_error
    assert "already on file" in output
    assert "maria.garcia@example.com" not in output
    assert "new.address@example.org" not in output  # not saved, so not read back as if it were
    assert sql("SELECT email FROM patients WHERE mrn = 'MRN100001'") == [("maria.garcia@example.com",)]
    assert sql("SELECT count(*) FROM patients WHERE name_key = 'maria garcia'") == [(1,)]


@pytest.mark.parametrize(
    "said",
    ["ZOE\u0308 O\u2019CONNOR", "zoë o'connor", "Zoe\u0308  o'CONNOR"],
    ids=["decomposed-typographic-capitals", "lowercase", "decomposed-mixed-case"],
)
async def test_names_match_as_people_say_them(conversation: Conversation, said):
    result = await conversation.say(
        "It's Zoë.", Call("verify_identity", {"full_name": said, "date_of_birth": "1999-12-31"}), "Thanks."
    )
    assert tool_outputs(result)[0][2] is False
    assert conversation.state.patient_id is not None


async def test_a_look_alike_letter_from_another_script_does_not_match(conversation: Conversation):
    cyrillic_a = "\u0430"
    arguments = {"full_name": f"M{cyrillic_a}ria Garcia", "date_of_birth": "1985-04-12"}
    result = await conversation.say("...", Call("verify_identity", arguments), "No match.")
    assert tool_outputs(result)[0][2] is True
    assert conversation.state.patient_id is None


async def test_a_call_the_database_could_not_record_still_gets_three_identity_checks(conversation: Conversation):
    conversation.state.call_session_id = None  # as when the call session row could not be written at the start
    for day in (1, 2, 3):
        wrong = {"full_name": "Maria Garcia", "date_of_birth": f"1985-01-0{day}"}
        await conversation.say("...", Call("verify_identity", wrong), "No match, sorry.")
    result = await conversation.say("It's April 12th.", Call("verify_identity", MARIA), "I'm sorry.")
    assert "can't be checked on this call" in tool_outputs(result)[0][1]
    assert conversation.state.patient_id is None


async def test_each_tool_call_is_tagged_with_the_caller_message_it_answers() -> None:
    async def model_output():
        yield "Let me check. "
        yield llm.ChatChunk(
            id="step",
            delta=llm.ChoiceDelta(
                role="assistant",
                tool_calls=[
                    llm.FunctionToolCall(name="book_appointment", arguments="{}", call_id="call_a"),
                    llm.FunctionToolCall(name="book_appointment", arguments="{}", call_id="call_b"),
                ],
            ),
        )

    state = CallState(hospital=None, config=CONFIG)
    passed = [chunk async for chunk in _tag_tool_calls(model_output(), state, "caller-message-1")]
    assert passed[0] == "Let me check. "
    assert len(passed) == 2
    assert state.call_turns == {"call_a": "caller-message-1", "call_b": "caller-message-1"}

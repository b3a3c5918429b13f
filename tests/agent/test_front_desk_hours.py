"""The front desk's opening hours (agent/front_desk.py): the receptionist answers at any hour, but puts callers
through to a person only while the front desk is open; outside its hours it says so, says when the desk opens
again, and offers a callback. The hours are read on the hospital's wall clock, daylight saving time included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from livekit.agents import AgentSession, llm

from agent.call import CallConfig, CallState
from agent.front_desk import FrontDeskHours, parse_days
from agent.receptionist import Receptionist
from agent.settings import Settings, SettingsError, load
from devtools.testing.scripted import Call, ScriptedLLM
from tests.agent.conftest import DESK_OPEN, ZONE, tool_outputs

FRONT_DESK = "+15550100100"
WEEKDAYS = FrontDeskHours()  # Monday to Friday, 8 to 18: the settings' defaults
SATURDAY_MORNING = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # 10:00 in New York
CALLBACK = {"caller_name": "Maria Garcia", "callback_phone": "+15555550123", "message": "Please call me back."}


def system_text(request: llm.ChatContext) -> str:
    """Everything the model was told besides the conversation: its instructions and the per-turn situation."""
    return " ".join(
        item.text_content or "" for item in request.items if item.type == "message" and item.role == "system"
    )


async def greeting(session: AgentSession[CallState]) -> str:
    for _ in range(100):
        said = [item for item in session.history.items if item.type == "message" and item.role == "assistant"]
        if said:
            return said[0].text_content or ""
        await asyncio.sleep(0.02)
    raise AssertionError("no greeting")


async def phone_call(hospital, clock: Callable[[], datetime], model: ScriptedLLM, *caller_turns: str):
    """A phone call to a line with a front desk number, at the moment `clock` gives; returns (state, greeting,
    results, numbers transferred to)."""
    transferred: list[str] = []

    async def transfer(number: str) -> None:
        transferred.append(number)

    config = CallConfig(hospital_name="Riverside", zone=ZONE, emergency_number="911", transfer_number=FRONT_DESK)
    state = CallState(hospital=hospital, config=config, transfer=transfer, clock=clock)
    await state.begin(room="phone-room", job_id="job")
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(config))
        greeted = await greeting(session)
        results = [await session.run(user_input=turn) for turn in caller_turns]
    await state.finish()
    return state, greeted, results, transferred


async def test_in_opening_hours_the_caller_is_put_through(hospital, sql) -> None:
    model = ScriptedLLM(Call("transfer_to_human", {}), "Putting you through now.")
    _, greeted, (result,), transferred = await phone_call(
        hospital, lambda: DESK_OPEN, model, "Please put me through to a person."
    )
    assert "closed" not in greeted
    assert tool_outputs(result)[0][2] is False
    assert transferred == [FRONT_DESK]
    # The model knows the hours, and is not told the desk is closed.
    told = system_text(model.requests[0])
    assert "The front desk takes transfers Monday to Friday, 8 in the morning to 6 in the evening" in told
    assert "closed right now" not in told
    assert sql("SELECT detail->>'kind' FROM call_events WHERE kind = 'handoff'") == [("transfer",)]


async def test_outside_opening_hours_a_transfer_is_refused_and_a_callback_offered(hospital, sql) -> None:
    model = ScriptedLLM(
        Call("find_doctors", {"doctor_name": "Patel"}),
        "Doctor Patel is a cardiologist.",
        Call("transfer_to_human", {}),
        "The front desk is closed until Monday at 8. Shall I take a message so they call you back?",
        Call("request_callback", CALLBACK),
        "Done, the front desk will call you back.",
    )
    state, greeted, (searched, refused, taken), transferred = await phone_call(
        hospital,
        lambda: SATURDAY_MORNING,
        model,
        "Is Doctor Patel a heart doctor?",
        "Put me through to a person, please.",
        "Yes, Maria Garcia, +15555550123, please call me back.",
    )
    reopens = "Monday, December 7th at 8 in the morning"
    assert f"The front desk is closed right now; it opens again {reopens}." in greeted
    assert "take a message" in greeted
    assert f"closed right now; it opens again {reopens}" in system_text(model.requests[0])
    # Only people keep hours: the receptionist's own work goes on.
    assert tool_outputs(searched)[0][2] is False
    assert "Aisha Patel" in tool_outputs(searched)[0][1]

    name, output, is_error = tool_outputs(refused)[0]
    assert (name, is_error) == ("transfer_to_human", True)
    assert reopens in output
    assert "request_callback" in output
    assert transferred == [], "nobody is at the front desk to answer"
    assert tool_outputs(taken)[0][2] is False
    assert sql("SELECT caller_name, callback_phone FROM callback_requests") == [("Maria Garcia", "+15555550123")]
    assert sql("SELECT outcome, detail->>'kind' FROM call_events WHERE kind = 'handoff'") == [(None, "callback")]
    assert state.outcome == "handed_off"


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        # The Monday after the clocks went forward (2026-03-08): 12:30 UTC is 8:30 EDT, open; on standard time's
        # offset it would be 7:30, closed.
        (datetime(2026, 3, 9, 12, 30, tzinfo=UTC), True),
        (datetime(2026, 3, 9, 22, 30, tzinfo=UTC), False),  # 18:30 EDT
        # The Friday before they go back (2026-11-01): 8:30 EDT, open; the Monday after: 7:30 EST, closed.
        (datetime(2026, 10, 30, 12, 30, tzinfo=UTC), True),
        (datetime(2026, 11, 2, 12, 30, tzinfo=UTC), False),
        (datetime(2026, 11, 2, 13, 0, tzinfo=UTC), True),  # 8:00 EST, opening time
        (datetime(2026, 11, 2, 22, 59, tzinfo=UTC), True),  # 17:59 EST
        (datetime(2026, 11, 2, 23, 0, tzinfo=UTC), False),  # 18:00 EST, closing time
        (datetime(2026, 12, 5, 15, 0, tzinfo=UTC), False),  # a Saturday
    ],
)
def test_open_or_closed_is_read_on_the_hospitals_wall_clock(moment: datetime, is_open: bool) -> None:
    assert WEEKDAYS.is_open(moment, ZONE) is is_open


def test_the_same_moment_is_open_in_one_time_zone_and_closed_in_another() -> None:
    moment = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 9:00 in London, 4:00 in New York
    assert WEEKDAYS.is_open(moment, ZoneInfo("Europe/London"))
    assert not WEEKDAYS.is_open(moment, ZONE)


def test_the_next_opening_across_a_weekend_when_the_clocks_change() -> None:
    friday_evening = datetime(2026, 3, 7, 0, 0, tzinfo=UTC)  # Friday 19:00 EST
    opening = WEEKDAYS.next_opening(friday_evening, ZONE)
    # Monday 8:00 is on daylight time by then: 12:00 UTC, not 13:00.
    assert opening.astimezone(UTC) == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert WEEKDAYS.closed_notice(friday_evening, ZONE) == (
        "The front desk is closed right now; it opens again Monday, March 9th at 8 in the morning."
    )
    early_tuesday = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 6:00 EST
    assert WEEKDAYS.closed_notice(early_tuesday, ZONE).endswith("opens again today at 8 in the morning.")


def test_days_are_written_as_in_the_alarms_cron_expressions() -> None:
    assert parse_days("MON-FRI") == frozenset(range(5))
    assert parse_days("MON-FRI,SAT") == frozenset(range(6))
    assert parse_days("mon,wed,fri") == frozenset({0, 2, 4})
    for wrong, complaint in [("FRI-MON", "runs backwards"), ("MON-TUE-WED", "not a day"), ("", "not a day")]:
        with pytest.raises(ValueError, match=complaint):
            parse_days(wrong)
    assert FrontDeskHours(days=parse_days("MON-FRI,SUN"), opens=0, closes=24).describe() == (
        "Monday to Friday, Sunday, midnight to midnight"
    )


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"front_desk_open_days": "FRI-MON"}, "FRONT_DESK_OPEN_DAYS: 'FRI-MON' runs backwards"),
        ({"front_desk_open_hour": 9, "front_desk_close_hour": 9}, "FRONT_DESK_CLOSE_HOUR: must be after"),
        ({"front_desk_close_hour": 25}, "FRONT_DESK_CLOSE_HOUR: Input should be less than or equal to 24"),
    ],
)
def test_bad_hours_are_named_in_the_settings_error(values: dict[str, object], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        load(Settings, _env_file=None, **values)


def test_the_settings_make_the_hours_the_receptionist_keeps() -> None:
    fields = Settings.model_fields
    hours = FrontDeskHours(
        days=parse_days(fields["front_desk_open_days"].default),
        opens=fields["front_desk_open_hour"].default,
        closes=fields["front_desk_close_hour"].default,
    )
    assert hours == CallConfig(hospital_name="H", zone=ZONE, emergency_number="911").front_desk

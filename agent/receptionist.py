"""The receptionist: a thin Agent whose small tools (agent/tools/: identity, directory, appointments, people) call
the data layer (`agent.hospital.Hospital`). This module is the agent itself: its instructions, the model step
(`llm_node`), the call's turn records and emergency handling; agent/guard.py holds what every tool runs under.

Rules the tools enforce whatever the model does:
- nothing about a patient is read or changed before the caller is verified (a refusal is audited);
- a change is checked (the slot bookable, the appointment the caller's own), then read back naming the doctor,
  and only made on a later call with `confirmed=true` for the same request and patient, after a caller turn
  that came after the read-back; verifying anyone drops it;
- identity checks are limited per call and per name by the database; after the limit, or for a locked name,
  only a transfer or a message is left, in words that never say whether the name is on file;
- a verification needs the name and a date of birth or the phone number on file; on a phone call the caller ID
  may stand in for the spoken number (never for the name), and the model never sees it;
- every failure becomes a short ToolError the model can act on; the call never dies from a tool.
Emergencies are caught in `llm_node` before the model is asked anything (see agent/safety.py), or reported by the
model (report_emergency) when the phrase screen missed one; either way the call is recorded as an emergency and no
appointment is searched, booked, moved or cancelled for the rest of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from livekit.agents import (
    Agent,
    CloseEvent,
    ConversationItemAddedEvent,
    ModelSettings,
    RunContext,
    ToolResult,
    function_tool,
    llm,
)
from livekit.agents.beta import EndCallTool

from agent import speech
from agent.call import CallConfig, CallState
from agent.safety import Emergency, detect_emergency
from agent.tools.appointments import AppointmentTools
from agent.tools.directory import DirectoryTools
from agent.tools.identity import IdentityTools
from agent.tools.people import PeopleTools

logger = logging.getLogger("agent.receptionist")

CLOCK_ID = "receptionist_clock"


def _identity_first(*, caller_id: bool) -> str:
    if caller_id:  # a phone call whose line gave the caller's number; the number itself is never in the prompt
        return """Identity first: before telling or changing anything about a patient, get the full name and ask
whether they are calling from the phone number on their record; if so, call verify_identity with use_caller_id=true
(you don't know that number), otherwise ask for their date of birth."""
    return """Identity first: before telling or changing anything about a patient, get the full name and date of
birth (or the phone number on file) and call verify_identity."""


def instructions(config: CallConfig, *, caller_id: bool = False) -> str:
    return f"""You are the receptionist of {config.hospital_name}, answering the phone.
You speak, you don't write: one to three short sentences, no lists, no markdown, no symbols, no ids read aloud.
Say dates and times the way people do ("Tuesday the 2nd at half past two in the afternoon"), never ISO strings.
You help with: appointments (find a doctor, offer two or three free times, book, move, cancel), the caller's
upcoming appointments, registering a new patient, practical questions about the hospital, and messages for staff.
{_identity_first(caller_id=caller_id)}
If it fails, say you couldn't find a match with those details, never whether the person exists, and ask them to
check the details.
Changes: read the details back (doctor, day, time) and ask "shall I go ahead?"; only after a clear yes call the
same tool again with confirmed=true. After the change, confirm it in one sentence.
If a time was just taken, say so and offer the next free times the tool gives you.
Practical questions: answer only from hospital_information; if it has no answer, say you don't know and offer
a message for the front desk. Never invent opening hours, prices, medical advice or diagnoses.
Emergencies: if the caller describes a medical emergency happening now and you were not already told one was
handled, call report_emergency at once, before anything else; it tells the caller what to do. After an emergency,
don't book, move or cancel anything: repeat that they should call {config.emergency_number} now, put them through
to staff (transfer_to_human) if they say yes to that, and stay on the line until they end the call.
If the caller wants a person, or things keep failing, transfer them (transfer_to_human) or take a message
(request_callback). The front desk takes transfers {config.front_desk.describe()} ({config.zone.key} time); you
answer at any hour. Outside those hours say the front desk is closed and when it opens, offer to take a message
(request_callback) instead of a transfer, and go on helping with appointments yourself.
When the caller is done, say goodbye and call end_call."""


def _last_user_message(chat_ctx: llm.ChatContext) -> llm.ChatMessage | None:
    for item in reversed(chat_ctx.items):
        if item.type == "message" and item.role == "user":
            return item
    return None


async def _tag_tool_calls(
    chunks: AsyncGenerator[object, None], state: CallState, turn: str | None
) -> AsyncIterator[object]:
    """The model's output as it is, noting which caller message each tool call answers: a confirmation counts only
    if it answers a later caller message than its read-back did."""
    async with aclosing(chunks):
        async for chunk in chunks:
            if isinstance(chunk, llm.ChatChunk) and chunk.delta is not None:
                for call in chunk.delta.tool_calls:
                    state.call_turns[call.call_id] = turn
            yield chunk


class Receptionist(IdentityTools, DirectoryTools, AppointmentTools, PeopleTools):
    """The agent of one call; its tools come from the groups it is made of, plus end_call and report_emergency."""

    def __init__(self, config: CallConfig) -> None:
        self._config = config
        self._screened: tuple[str | None, Emergency | None] = (None, None)
        self._emergency = None
        self._closing: asyncio.Future[None] | None = None
        self._state: CallState | None = None
        super().__init__(
            instructions=instructions(config),
            tools=[EndCallTool(on_tool_called=self._on_end_call, end_instructions="Say a short, warm goodbye.")],
        )

    async def on_enter(self) -> None:
        # Kept: the session's close event comes after this agent stopped, when self.session is gone.
        self._state = self.session.userdata
        if self._state.caller_id is not None:
            await self.update_instructions(instructions(self._config, caller_id=True))
        self.session.on("conversation_item_added", self._record_turn)
        self.session.on("close", self._on_close)
        closed = "" if self._state.front_desk_open() else self._closed_greeting(self._state)
        self.session.say(f"Hello, you've reached {self._config.hospital_name}.{closed} How can I help you today?")

    async def llm_node(self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings) -> object:
        """Emergency check before the model, then the model with today's date and time (refreshed every turn)."""
        state: CallState = self.session.userdata
        message = _last_user_message(chat_ctx)
        if message is not None and (kind := self._screen(message.text_content or "")) is not None:
            if message.id not in state.emergency_turns:
                state.emergency_turns.add(message.id)
                self._declare_emergency(state, kind.value, source="screen")
            return self._emergency_reply(state)
        # The framework hands each generation step its own copy of the context, so it is edited in place
        # (no second copy per step); the previous step's clock line is replaced, not repeated. Appended, not
        # put in the instructions: the instructions prefix stays cacheable across turns.
        items = chat_ctx.items
        stale = next((index for index in range(len(items) - 1, -1, -1) if items[index].id == CLOCK_ID), None)
        if stale is not None:
            del items[stale]
        situation = [speech.clock_line(state.clock(), self._config.zone)]
        if not state.front_desk_open():
            situation.append(
                f"{state.front_desk_closed_notice()} Don't offer to put the caller through: for a person, offer a "
                "message (request_callback)."
            )
        if self._emergency is not None:
            situation.append(self._after_emergency(state))
        chat_ctx.add_message(role="system", content=situation, id=CLOCK_ID)
        turn = None if message is None else message.id
        return _tag_tool_calls(Agent.default.llm_node(self, chat_ctx, tools, model_settings), state, turn)

    @staticmethod
    def _closed_greeting(state: CallState) -> str:
        return f" {state.front_desk_closed_notice()} I can still help with appointments, or take a message for them."

    def _record_turn(self, event: ConversationItemAddedEvent) -> None:
        """The call's interaction log: one event per turn with its id and latency, never its words."""
        item = event.item
        if item.type != "message" or item.role not in {"user", "assistant"}:
            return
        state = self._state
        latency = item.metrics.get("e2e_latency") if item.role == "assistant" else None
        state.record(
            "user_turn" if item.role == "user" else "agent_turn",
            duration_ms=None if latency is None else round(latency * 1000, 1),
            detail={"item_id": item.id, "interrupted": item.interrupted},
        )

    def _screen(self, text: str) -> Emergency | None:
        """detect_emergency, once per distinct caller message (llm_node runs again after each tool step)."""
        if self._screened[0] != text:
            self._screened = (text, detect_emergency(text))
        return self._screened[1]

    async def _on_end_call(self, _event: object) -> None:
        state: CallState = self.session.userdata
        state.tool_finished("end_call", "ok", 0.0)

    def _on_close(self, _event: CloseEvent) -> None:
        """The session is over (caller hung up, end_call, shutdown): close the call's record."""
        self._closing = asyncio.ensure_future(self._state.finish())

    # -- emergencies the phrase screen missed ----------------------------------------------------------------

    @function_tool
    async def report_emergency(self, ctx: RunContext[CallState], kind: str) -> ToolResult:
        """Call this at once, before anything else, when the caller describes a medical emergency happening now, in
        any words or language: someone not breathing or choking, chest pain, signs of a stroke, heavy bleeding,
        collapse or not waking, a seizure, an overdose or poisoning, a severe allergic reaction, a bad head injury,
        thoughts of suicide or self-harm. Not for past events, follow-ups or questions. It tells the caller what to
        do itself; don't repeat it.

        Args:
            kind: The closest of chest_pain, breathing, stroke, bleeding, suicidal, overdose, unconscious, seizure,
                allergic_reaction, severe_pain, injury, pregnancy; other when none fits.
        """
        async with self._step(ctx, "report_emergency") as state:
            # Never refused for a badly named kind: the caller's safety does not wait for a valid argument.
            named = kind.strip().lower() if isinstance(kind, str) else ""
            self._declare_emergency(
                state, named if named in {known.value for known in Emergency} else "other", source="model"
            )
            message = self._emergency_reply(state)
            # The same fixed words as the screen's path, spoken as they are, not paraphrased by the model.
            ctx.session.say(message)
            return ToolResult(f"Said to the caller: {message} Now wait for their answer.", reply_required=False)

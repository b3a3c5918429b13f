"""Handing the caller to people: a message for the front desk, or a live transfer."""

from __future__ import annotations

from livekit.agents import RunContext, ToolError, function_tool

from agent import tool_args
from agent.call import CallState, TransferFailed
from agent.guard import ToolGuard
from agent.hospital import rules


class PeopleTools(ToolGuard):
    @function_tool
    async def request_callback(
        self, ctx: RunContext[CallState], caller_name: str, callback_phone: str, message: str
    ) -> str:
        """Take a message so a person from the front desk calls back.

        Args:
            caller_name: Who to call back, first and last name.
            callback_phone: Number to call back, international form like +15551234567.
            message: What they need, in their words (short).
        """
        async with self._step(ctx, "request_callback") as state:
            name = tool_args.person_name(caller_name, "caller_name")
            number = tool_args.phone(callback_phone, "callback_phone")
            text = tool_args.free_text(message, "message", rules.MESSAGE_MAX)
            request_id = await state.hospital.add_callback_request(
                state.actor, caller_name=name, callback_phone=number, message=text, patient_id=state.patient_id
            )
            if state.outcome != "emergency":
                state.outcome = "handed_off"
            state.record("handoff", detail={"kind": "callback", "callback_request_id": request_id})
            return "Message taken. Tell them the front desk will call them back, usually within one working day."

    @function_tool
    async def transfer_to_human(self, ctx: RunContext[CallState]) -> str:
        """Transfer the call to a person at the front desk, when the caller asks for one or things keep failing.
        Only in the front desk's opening hours; otherwise take a message (request_callback)."""
        async with self._step(ctx, "transfer_to_human") as state:
            if self._config.transfer_number is None or state.transfer is None:
                raise ToolError(
                    "A live transfer isn't possible on this line. Offer to take a message instead: ask for their "
                    "name, a callback number and what it's about, then call request_callback."
                )
            if not state.front_desk_open():
                # Nobody would answer: the caller would hear ringing, then nothing.
                raise ToolError(
                    f"No transfer: {state.front_desk_closed_notice()} Tell the caller so, and offer to take a message "
                    "so the front desk calls them back once it opens: ask for their name, a callback number and "
                    "what it's about, then call request_callback."
                )
            outcome_before = state.outcome
            if state.outcome != "emergency":
                state.outcome = "handed_off"
            await ctx.wait_for_playout()
            try:
                await state.transfer(self._config.transfer_number)
            except TransferFailed as failure:
                # The caller is still here: keep the call going and leave them a way to reach a person.
                state.outcome = outcome_before
                state.record("handoff", outcome="failed", detail={"kind": "transfer", "reason": failure.reason[:200]})
                raise ToolError(
                    "The transfer didn't go through and the caller is still on the line. Say sorry, the front desk "
                    "couldn't be reached just now, and offer to take a message: their name, a callback number and "
                    "what it's about, then call request_callback."
                ) from failure
            state.record("handoff", detail={"kind": "transfer"})
            return "Transferring now. Tell them you're putting them through to the front desk."

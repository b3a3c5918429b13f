"""What every tool of the receptionist runs under, whatever the model does: the step guard (timing, the call's
record, every failure turned into a ToolError the model can act on), the verification gate, read-back and
confirm, the emergency gate, and how slots and appointments are described to the model.

The tools (agent/tools/) build on `ToolGuard`; `agent.receptionist.Receptionist` puts them together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Literal

from livekit.agents import Agent, RunContext, ToolError

from agent import speech
from agent.call import CallConfig, CallState, PendingChange
from agent.hospital import Appointment, DatabaseUnavailable, HospitalError, Slot, SlotTaken
from agent.safety import emergency_message

logger = logging.getLogger("agent.receptionist")

APOLOGY = (
    "Sorry, our booking system isn't answering right now. Apologise briefly and offer to take a message "
    "so the front desk calls them back (request_callback), or suggest calling again a little later."
)
NOT_VERIFIED = (
    "The caller is not verified. Ask for their full name and date of birth (or the phone number on file) "
    "and call verify_identity first. Until then say nothing about any patient or appointment, not even "
    "whether the person is a patient."
)
HUMAN_HINT = " This caller has had several problems: offer to transfer them or take a message for the front desk."


def _spoken_reason(error: HospitalError) -> str:
    """The data layer's reason is fit for the caller (no PHI, no SQL); keep a generic fallback."""
    return str(error) or "that request can't be done"


class ToolGuard(Agent):
    """The receptionist's state and rules that its tools share (see the module docstring)."""

    _config: CallConfig
    _emergency: str | None
    """The kind of the first emergency described in this call, by the screen or the model."""

    # -- the emergency gate --------------------------------------------------------------------------------

    def _declare_emergency(self, state: CallState, kind: str, *, source: Literal["screen", "model"]) -> None:
        """The one handling of an emergency, whoever noticed it: a staff-visible event and the call's outcome."""
        if self._emergency is None:
            self._emergency = kind
        state.outcome = "emergency"
        state.record("emergency", detail={"kind": kind, "source": source})
        logger.warning(
            "emergency described", extra={"call_session_id": state.call_session_id, "kind": kind, "source": source}
        )

    def _emergency_reply(self, state: CallState) -> str:
        # The same advice at any hour; a transfer is offered only while someone can take it.
        return emergency_message(self._config.emergency_number, can_transfer=state.can_transfer())

    def _after_emergency(self, state: CallState) -> str:
        """What the model is told for the rest of a call in which an emergency was described."""
        person = (
            "if they say yes to being put through, call transfer_to_human"
            if state.can_transfer()
            else "if they want a person later, offer a message for the front desk (request_callback)"
        )
        return (
            f"The caller described an emergency ({self._emergency}) earlier in this call and was told to call "
            f"{self._config.emergency_number}. Nothing is searched, booked, moved or cancelled for the rest of this "
            f"call. Remind them to call {self._config.emergency_number} now, ask whether someone is with them, "
            f"{person}, and stay on the line until they end the call."
        )

    def _no_appointments_after_emergency(self, state: CallState) -> None:
        if self._emergency is not None:
            raise ToolError("Not done. " + self._after_emergency(state))

    # -- the step guard, the verification gate, descriptions, read-back and confirm ----------------------

    @asynccontextmanager
    async def _step(self, ctx: RunContext[CallState], name: str) -> AsyncIterator[CallState]:
        """Time a tool, record its outcome, and turn every failure into a ToolError the model can act on."""
        state = ctx.userdata
        state.step_outcome = "ok"
        started = time.perf_counter()
        outcome = "ok"
        try:
            yield state
            outcome = state.step_outcome
        except ToolError as error:
            outcome = "refused"
            state.failures += 1
            raise ToolError(error.message + (HUMAN_HINT if state.needs_human else "")) from None
        except DatabaseUnavailable:
            outcome = "db_unavailable"
            state.failures += 1
            raise ToolError(APOLOGY) from None
        except HospitalError as error:
            outcome = f"refused:{type(error).__name__}"
            state.failures += 1
            raise ToolError(_spoken_reason(error) + (HUMAN_HINT if state.needs_human else "")) from None
        except Exception:
            outcome = "error"
            state.failures += 1
            logger.exception("tool failed", extra={"tool": name, "call_session_id": state.call_session_id})
            raise ToolError(APOLOGY) from None
        finally:
            state.tool_finished(name, outcome, (time.perf_counter() - started) * 1000)

    async def _verified_patient(self, state: CallState, entity: Literal["patient", "appointment"]) -> int:
        if state.patient_id is None:
            await state.hospital.audit_denied(state.actor, entity=entity, reason="caller not verified")
            raise ToolError(NOT_VERIFIED)
        return state.patient_id

    def _say(self, state: CallState, moment: datetime) -> str:
        return speech.say_when(moment, self._config.zone, now=state.clock())

    def _describe_slots(self, state: CallState, slots: list[Slot]) -> str:
        zone = self._config.zone
        return " ".join(
            f"Option {number}: {slot.doctor_name} ({slot.specialty}, doctor_id {slot.doctor_id}), "
            f"{self._say(state, slot.starts_at)} [starts_at {speech.tool_time(slot.starts_at, zone)}]."
            for number, slot in enumerate(slots, start=1)
        )

    def _not_free(self, state: CallState, taken: SlotTaken) -> str:
        """A slot found taken before its read-back: nothing is read back; the next free times are offered."""
        state.offered = taken.alternatives
        state.step_outcome = "slot_taken"
        if not taken.alternatives:
            return "That time is not free and nothing else is free nearby. Nothing was read back. Offer other dates."
        return "That time is not free, so nothing was read back. Say so and offer these instead: " + (
            self._describe_slots(state, taken.alternatives)
        )

    def _describe_appointment(self, state: CallState, appointment: Appointment) -> str:
        return (
            f"appointment_id {appointment.id}: {appointment.doctor_name} ({appointment.specialty}), "
            f"{self._say(state, appointment.starts_at)}"
        )

    def _change(self, ctx: RunContext[CallState], action: str, patient_id: int, **details: object) -> PendingChange:
        """The change this tool call asks for, with the caller message the model was answering when it called."""
        turn = ctx.userdata.call_turns.get(ctx.function_call.call_id)
        return PendingChange(action, patient_id=patient_id, read_back_turn=turn, **details)

    def _confirmation_needed(self, state: CallState, change: PendingChange, read_back: str, confirmed: bool) -> str:
        pending = state.pending
        if pending is None or not pending.same_request(change) or pending.patient_id != change.patient_id:
            state.pending = change
        else:  # the same request read back again: the caller's answer must come after this read-back
            state.pending = replace(pending, read_back_turn=change.read_back_turn)
        unheard = (
            "The caller hasn't answered a read-back of this yet, so it can't count as agreed. " if confirmed else ""
        )
        return (
            f"Not done yet. {unheard}Read this back to the caller: {read_back} Ask if you should go ahead. Only after "
            "their clear yes, in their next turn, call this tool again with the same details and confirmed=true."
        )

    def _confirmed_change(self, state: CallState, change: PendingChange) -> PendingChange | None:
        """The pending change this confirmation is for: read back for this patient, with a caller turn since.
        None when it was never read back, was read back for someone else, or the caller hasn't answered yet."""
        pending = state.pending
        if pending is None or not pending.same_request(change) or pending.patient_id != change.patient_id:
            return None
        if change.read_back_turn is None or change.read_back_turn == pending.read_back_turn:
            return None
        return pending

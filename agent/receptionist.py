"""The receptionist: a thin Agent whose small tools call the data layer (`agent.hospital.Hospital`).

Rules the tools enforce whatever the model does:
- nothing about a patient is read or changed before the caller is verified (a refusal is audited);
- a change is checked (the slot bookable, the appointment the caller's own), then read back naming the doctor,
  and only made on a later call with `confirmed=true` for the same request and patient, after a caller turn
  that came after the read-back; verifying anyone drops it;
- identity checks are limited per call and per name by the database; after the limit, or for a locked name,
  only a transfer or a message is left, in words that never say whether the name is on file;
- every failure becomes a short ToolError the model can act on; the call never dies from a tool.
Emergencies are caught in `llm_node` before the model is asked anything (see agent/safety.py), or reported by the
model (report_emergency) when the phrase screen missed one; either way the call is recorded as an emergency and no
appointment is searched, booked, moved or cancelled for the rest of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from livekit.agents import (
    Agent,
    CloseEvent,
    ConversationItemAddedEvent,
    ModelSettings,
    RunContext,
    ToolError,
    ToolResult,
    function_tool,
    llm,
)
from livekit.agents.beta import EndCallTool

from agent import speech, tool_args
from agent.call import IDENTITY_CHECKS_PER_CALL, CallConfig, CallState, PendingChange
from agent.hospital import (
    Appointment,
    Booked,
    DatabaseUnavailable,
    HospitalError,
    IdentityClosed,
    NoMatch,
    RegistrationRefused,
    Slot,
    SlotTaken,
    rules,
)
from agent.safety import Emergency, detect_emergency, emergency_message

logger = logging.getLogger("agent.receptionist")

SLOT_SEARCH_DAYS = 14
CLOCK_ID = "receptionist_clock"
APOLOGY = (
    "Sorry, our booking system isn't answering right now. Apologise briefly and offer to take a message "
    "so the front desk calls them back (request_callback), or suggest calling again a little later."
)
NOT_VERIFIED = (
    "The caller is not verified. Ask for their full name and date of birth (or the phone number on file) "
    "and call verify_identity first. Until then say nothing about any patient or appointment, not even "
    "whether the person is a patient."
)
IDENTITY_CLOSED = (
    "Identity can't be checked on this call any more. Don't ask for more details and don't say whether anyone "
    "is on file. Offer to transfer them to the front desk (transfer_to_human) or take a message (request_callback)."
)
NO_MATCH = (
    "No match for those details. Say you couldn't find a match and ask them to check the spelling and date; "
    "never say whether such a patient exists."
)
REGISTRATION_REFUSED = (
    "Can't register with those details over the phone, and no record was made. Don't say whether anyone with "
    "these details is on file. If they have been a patient here before, they can be verified (verify_identity); "
    "otherwise offer to transfer them to the front desk (transfer_to_human) or take a message (request_callback)."
)
HUMAN_HINT = " This caller has had several problems: offer to transfer them or take a message for the front desk."

_LANGUAGES = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "arabic": "ar",
    "hindi": "hi",
    "russian": "ru",
    "vietnamese": "vi",
    "korean": "ko",
    "japanese": "ja",
    "tagalog": "tl",
    "polish": "pl",
    "haitian creole": "ht",
}


def instructions(config: CallConfig) -> str:
    return f"""You are the receptionist of {config.hospital_name}, answering the phone.
You speak, you don't write: one to three short sentences, no lists, no markdown, no symbols, no ids read aloud.
Say dates and times the way people do ("Tuesday the 2nd at half past two in the afternoon"), never ISO strings.
You help with: appointments (find a doctor, offer two or three free times, book, move, cancel), the caller's
upcoming appointments, registering a new patient, practical questions about the hospital, and messages for staff.
Identity first: before telling or changing anything about a patient, get the full name and date of birth (or
the phone number on file) and call verify_identity. If it fails, say you couldn't find a match with those
details, never whether the person exists, and ask them to check the details.
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
(request_callback). When the caller is done, say goodbye and call end_call."""


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


def _spoken_reason(error: HospitalError) -> str:
    """The data layer's reason is fit for the caller (no PHI, no SQL); keep a generic fallback."""
    return str(error) or "that request can't be done"


class Receptionist(Agent):
    def __init__(self, config: CallConfig) -> None:
        self._config = config
        self._screened: tuple[str | None, Emergency | None] = (None, None)
        self._emergency: str | None = None
        """The kind of the first emergency described in this call, by the screen or the model."""
        self._closing: asyncio.Future[None] | None = None
        self._state: CallState | None = None
        super().__init__(
            instructions=instructions(config),
            tools=[EndCallTool(on_tool_called=self._on_end_call, end_instructions="Say a short, warm goodbye.")],
        )

    async def on_enter(self) -> None:
        # Kept: the session's close event comes after this agent stopped, when self.session is gone.
        self._state = self.session.userdata
        self.session.on("conversation_item_added", self._record_turn)
        self.session.on("close", self._on_close)
        self.session.say(f"Hello, you've reached {self._config.hospital_name}. How can I help you today?")

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
        if self._emergency is not None:
            situation.append(self._after_emergency(state))
        chat_ctx.add_message(role="system", content=situation, id=CLOCK_ID)
        turn = None if message is None else message.id
        return _tag_tool_calls(Agent.default.llm_node(self, chat_ctx, tools, model_settings), state, turn)

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

    def _declare_emergency(self, state: CallState, kind: str, *, source: Literal["screen", "model"]) -> None:
        """The one handling of an emergency, whoever noticed it: a staff-visible event and the call's outcome."""
        if self._emergency is None:
            self._emergency = kind
        state.outcome = "emergency"
        state.record("emergency", detail={"kind": kind, "source": source})
        logger.warning(
            "emergency described", extra={"call_session_id": state.call_session_id, "kind": kind, "source": source}
        )

    def _can_transfer(self, state: CallState) -> bool:
        return self._config.transfer_number is not None and state.transfer is not None

    def _emergency_reply(self, state: CallState) -> str:
        return emergency_message(self._config.emergency_number, can_transfer=self._can_transfer(state))

    def _after_emergency(self, state: CallState) -> str:
        """What the model is told for the rest of a call in which an emergency was described."""
        person = (
            "if they say yes to being put through, call transfer_to_human"
            if self._can_transfer(state)
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

    async def _on_end_call(self, _event: object) -> None:
        state: CallState = self.session.userdata
        state.tool_finished("end_call", "ok", 0.0)

    def _on_close(self, _event: CloseEvent) -> None:
        """The session is over (caller hung up, end_call, shutdown): close the call's record."""
        self._closing = asyncio.ensure_future(self._state.finish())

    # -- helpers -------------------------------------------------------------------------------------------

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

    # -- identity ------------------------------------------------------------------------------------------

    @function_tool
    async def verify_identity(
        self,
        ctx: RunContext[CallState],
        full_name: str,
        date_of_birth: str | None = None,
        phone: str | None = None,
    ) -> str:
        """Verify who is calling before anything about a patient is shared or changed.

        Args:
            full_name: The caller's first and last name as they said it.
            date_of_birth: Their date of birth as YYYY-MM-DD. Give this or phone.
            phone: The phone number on their record, international form like +15551234567.
        """
        async with self._step(ctx, "verify_identity") as state:
            state.pending = None  # whatever was read back was for the identity held until now
            if state.identity_closed:
                raise ToolError(IDENTITY_CLOSED)
            name = tool_args.person_name(full_name)
            today = state.clock().astimezone(self._config.zone).date()
            born = tool_args.birth_date(date_of_birth, today=today) if date_of_birth else None
            number = tool_args.phone(phone) if phone else None
            if born is None and number is None:
                raise ToolError("Ask for the date of birth (or the phone number on file) as well as the name.")
            check = await state.hospital.verify_patient(state.actor, full_name=name, date_of_birth=born, phone=number)
            if isinstance(check, IdentityClosed | NoMatch):
                raise ToolError(self._identity_failed(state, check, NO_MATCH))
            patient = check.patient
            state.patient_id = patient.id
            state.record("verified", detail={"patient_id": patient.id})
            return f"Verified. You may now help {patient.full_name} with their own appointments."

    @function_tool
    async def register_patient(
        self,
        ctx: RunContext[CallState],
        full_name: str,
        date_of_birth: str,
        phone: str,
        email: str | None = None,
    ) -> str:
        """Register a new patient who is not on file yet. Afterwards read back what was recorded.

        Args:
            full_name: First and last name.
            date_of_birth: YYYY-MM-DD.
            phone: Phone number in international form like +15551234567.
            email: Optional email address.
        """
        async with self._step(ctx, "register_patient") as state:
            state.pending = None  # whatever was read back was for the identity held until now
            if state.identity_closed:
                raise ToolError(IDENTITY_CLOSED)
            if state.registered:
                raise ToolError(
                    "A patient was already registered on this call; one per call. For anyone else, offer a message "
                    "for the front desk (request_callback)."
                )
            name = tool_args.person_name(full_name)
            today = state.clock().astimezone(self._config.zone).date()
            born = tool_args.birth_date(date_of_birth, today=today)
            number = tool_args.phone(phone)
            address = tool_args.email(email)
            result = await state.hospital.register_patient(
                state.actor, full_name=name, date_of_birth=born, phone=number, email=address
            )
            if isinstance(result, IdentityClosed | RegistrationRefused):
                raise ToolError(self._identity_failed(state, result, REGISTRATION_REFUSED))
            state.patient_id = result.patient.id
            state.registered = True
            state.record("patient_registered", detail={"patient_id": result.patient.id, "on_file": result.on_file})
            # Only what the caller said: a record on file is not read out to whoever knows its name and birth date.
            said = f"name {name}, born {speech.say_birth_date(born)}, phone {number}"
            if result.on_file:
                unsaved = " (the email they gave was not saved; the front desk can update it)" if address else ""
                return (
                    f"These details match a record already on file, so the caller is verified and nothing on it was "
                    f"changed{unsaved}. Read back only what they told you: {said}."
                )
            said += f", email {address}." if address else "."
            return f"Registered and verified. Read back what was recorded: {said} Ask them to say if anything is wrong."

    def _identity_failed(
        self, state: CallState, result: IdentityClosed | NoMatch | RegistrationRefused, message: str
    ) -> str:
        """Count a failed identity attempt; what the model is told. A closed identity check says nothing more."""
        if isinstance(result, IdentityClosed):
            state.identity_closed = True
            state.record("verification_failed", detail={"refused": result.reason})
            logger.warning(
                "identity check refused", extra={"call_session_id": state.call_session_id, "reason": result.reason}
            )
            return IDENTITY_CLOSED
        state.failed_identity_checks += 1
        state.record("verification_failed")
        if state.failed_identity_checks >= IDENTITY_CHECKS_PER_CALL:
            state.identity_closed = True
            return f"{message} That was the last try on this call. {IDENTITY_CLOSED}"
        return message

    # -- directory (public, no verification needed) --------------------------------------------------------

    @function_tool
    async def find_doctors(
        self,
        ctx: RunContext[CallState],
        specialty: str | None = None,
        doctor_name: str | None = None,
        language: str | None = None,
    ) -> str:
        """Find doctors by specialty, name or a language they speak.

        Args:
            specialty: e.g. cardiology, pediatrics, dermatology.
            doctor_name: Part of the doctor's name, e.g. Patel.
            language: A language the caller wants the doctor to speak, e.g. Spanish.
        """
        async with self._step(ctx, "find_doctors") as state:
            wanted = tool_args.optional_text(specialty, "specialty", rules.SPECIALTY_MAX)
            name = tool_args.optional_text(doctor_name, "doctor_name", rules.NAME_MAX)
            spoken = tool_args.optional_text(language, "language", rules.LANGUAGE_MAX)
            code = _LANGUAGES.get(spoken.lower(), spoken.lower()) if spoken else None
            doctors = await state.hospital.find_doctors(specialty=wanted, name=name, language=code)
            if not doctors:
                return "No doctor matches that. Offer another specialty or a doctor from the same department."
            return " ".join(
                f"{doctor.full_name}, {doctor.specialty}, {doctor.department} (doctor_id {doctor.id}, "
                f"speaks {', '.join(doctor.languages)})."
                for doctor in doctors[:5]
            )

    @function_tool
    async def find_free_slots(
        self,
        ctx: RunContext[CallState],
        specialty: str | None = None,
        doctor_id: int | None = None,
        earliest: str | None = None,
        latest: str | None = None,
    ) -> str:
        """Find free appointment times to offer (two or three at a time).

        Args:
            specialty: The specialty needed, when no particular doctor is wanted.
            doctor_id: A doctor_id from find_doctors, when the caller wants that doctor.
            earliest: Earliest acceptable start, ISO 8601 in hospital time (e.g. 2026-12-02T13:00). Default now.
            latest: Latest acceptable start, ISO 8601 in hospital time. Default two weeks after earliest.
        """
        async with self._step(ctx, "find_free_slots") as state:
            self._no_appointments_after_emergency(state)
            wanted = tool_args.optional_text(specialty, "specialty", rules.SPECIALTY_MAX)
            doctor = tool_args.record_id(doctor_id, "doctor_id") if doctor_id is not None else None
            if wanted is None and doctor is None:
                raise ToolError("Ask which specialty or doctor the caller needs first.")
            now = state.clock()
            start = tool_args.moment(earliest, "earliest", self._config.zone, now=now) if earliest else now
            start = max(start, now)
            end = tool_args.moment(latest, "latest", self._config.zone, now=now) if latest else start
            if end <= start:
                end = start + timedelta(days=SLOT_SEARCH_DAYS)
            if end - start > timedelta(days=92):
                raise ToolError("Search at most three months ahead; ask the caller to narrow it down.")
            slots = await state.hospital.free_slots(
                window_start=start, window_end=end, doctor_id=doctor, specialty=wanted, limit=3
            )
            state.offered = slots
            if not slots:
                return "Nothing free in that window. Offer to look at later dates or another doctor."
            return "Offer these: " + self._describe_slots(state, slots)

    @function_tool
    async def hospital_information(self, ctx: RunContext[CallState], topic: str) -> str:
        """Answer practical questions: opening hours, address, parking, visiting hours, departments and where they are.

        Args:
            topic: What the caller asks about, in a few words (e.g. parking, visiting hours, radiology department).
        """
        async with self._step(ctx, "hospital_information") as state:
            question = tool_args.free_text(topic, "topic", tool_args.TOPIC_MAX).lower()
            info = await state.hospital.hospital_info()
            words = set(question.replace("_", " ").split())
            answers = [
                f"{key.replace('_', ' ')}: {answer}"
                for key, answer in info.items()
                if key in question.replace(" ", "_") or words & set(key.split("_"))
            ]
            departments = await state.hospital.list_departments()
            places = [
                f"{department.name} is at {department.location}"
                + (f", extension {department.phone_extension}" if department.phone_extension else "")
                for department in departments
                if "department" in question
                or department.name.lower() in question
                or words & set(department.name.lower().split())
            ]
            found = answers + places
            if found:
                return " ".join(found) + " Answer only from this."
            known = ", ".join(key.replace("_", " ") for key in info)
            return (
                f"No recorded answer for that. Known topics: {known}. Say you don't know and offer a message for "
                "the front desk; don't guess."
            )

    # -- the caller's own appointments (verified only) ----------------------------------------------------

    @function_tool
    async def list_my_appointments(self, ctx: RunContext[CallState]) -> str:
        """List the verified caller's upcoming appointments."""
        async with self._step(ctx, "list_my_appointments") as state:
            patient_id = await self._verified_patient(state, "appointment")
            appointments = await state.hospital.upcoming_appointments(state.actor, patient_id=patient_id)
            if not appointments:
                return "They have no upcoming appointments."
            return " ".join(self._describe_appointment(state, a) + "." for a in appointments[:5])

    @function_tool
    async def book_appointment(
        self,
        ctx: RunContext[CallState],
        doctor_id: int,
        starts_at: str,
        reason: str,
        confirmed: bool = False,
    ) -> str:
        """Book an appointment for the verified caller. First call with confirmed=false to get the read-back;
        call again with confirmed=true only after the caller said yes.

        Args:
            doctor_id: doctor_id of an offered slot.
            starts_at: Start of the offered slot, ISO 8601 in hospital time (as find_free_slots gave it).
            reason: A few words on why they are coming (no diagnosis needed).
            confirmed: True only after the caller agreed to the read-back.
        """
        async with self._step(ctx, "book_appointment") as state:
            self._no_appointments_after_emergency(state)
            patient_id = await self._verified_patient(state, "appointment")
            doctor = tool_args.record_id(doctor_id, "doctor_id")
            start = tool_args.moment(starts_at, "starts_at", self._config.zone, now=state.clock())
            why = tool_args.free_text(reason, "reason", rules.REASON_MAX, required=False)
            change = self._change(ctx, "book", patient_id, doctor_id=doctor, starts_at=start, reason=why)
            pending = self._confirmed_change(state, change) if confirmed else None
            if pending is None:
                slot = await state.hospital.bookable_slot(doctor_id=doctor, starts_at=start)
                if isinstance(slot, SlotTaken):
                    return self._not_free(state, slot)
                read_back = f"{slot.doctor_name} ({slot.specialty}), {self._say(state, start)}."
                return self._confirmation_needed(state, change, read_back, confirmed)
            result = await state.hospital.book(
                state.actor,
                patient_id=patient_id,
                doctor_id=doctor,
                starts_at=start,
                reason=pending.reason,
                idempotency_key=pending.idempotency_key,
            )
            state.pending = None
            if not isinstance(result, Booked):
                state.offered = result.alternatives
                state.step_outcome = "slot_taken"
                if not result.alternatives:
                    return "That time was just taken and nothing else is free nearby. Offer to search other dates."
                return "That time was just taken by someone else. Say so and offer these instead: " + (
                    self._describe_slots(state, result.alternatives)
                )
            booked = result.appointment
            state.record("booking_created", detail={"appointment_id": booked.id})
            return f"Booked: {self._describe_appointment(state, booked)}. Confirm it to the caller."

    @function_tool
    async def reschedule_appointment(
        self,
        ctx: RunContext[CallState],
        appointment_id: int,
        new_starts_at: str,
        new_doctor_id: int | None = None,
        confirmed: bool = False,
    ) -> str:
        """Move one of the verified caller's appointments to a new free time. Read back first (confirmed=false),
        then call again with confirmed=true after the caller agreed.

        Args:
            appointment_id: appointment_id from list_my_appointments.
            new_starts_at: New start, ISO 8601 in hospital time, from find_free_slots.
            new_doctor_id: Only when moving to a different doctor.
            confirmed: True only after the caller agreed to the read-back.
        """
        async with self._step(ctx, "reschedule_appointment") as state:
            self._no_appointments_after_emergency(state)
            patient_id = await self._verified_patient(state, "appointment")
            appointment = tool_args.record_id(appointment_id, "appointment_id")
            start = tool_args.moment(new_starts_at, "new_starts_at", self._config.zone, now=state.clock())
            doctor = tool_args.record_id(new_doctor_id, "new_doctor_id") if new_doctor_id is not None else None
            change = self._change(
                ctx, "reschedule", patient_id, doctor_id=doctor, starts_at=start, appointment_id=appointment
            )
            pending = self._confirmed_change(state, change) if confirmed else None
            if pending is None:
                current = await state.hospital.own_appointment(
                    state.actor, patient_id=patient_id, appointment_id=appointment
                )
                slot = await state.hospital.bookable_slot(
                    doctor_id=doctor or current.doctor_id, starts_at=start, moving_appointment=appointment
                )
                if isinstance(slot, SlotTaken):
                    return self._not_free(state, slot)
                read_back = (
                    f"moving the appointment with {current.doctor_name} {self._say(state, current.starts_at)} to "
                    f"{slot.doctor_name} ({slot.specialty}), {self._say(state, start)}."
                )
                return self._confirmation_needed(state, change, read_back, confirmed)
            result = await state.hospital.reschedule(
                state.actor,
                patient_id=patient_id,
                appointment_id=appointment,
                new_starts_at=start,
                new_doctor_id=doctor,
                idempotency_key=pending.idempotency_key,
            )
            state.pending = None
            if not isinstance(result, Booked):
                state.offered = result.alternatives
                state.step_outcome = "slot_taken"
                return "That new time was just taken; the old appointment is unchanged. Offer these: " + (
                    self._describe_slots(state, result.alternatives) or "none nearby; offer other dates."
                )
            moved = result.appointment
            state.record("booking_moved", detail={"appointment_id": moved.id, "from_appointment_id": appointment})
            return f"Moved. New {self._describe_appointment(state, moved)}. Confirm it to the caller."

    @function_tool
    async def cancel_appointment(self, ctx: RunContext[CallState], appointment_id: int, confirmed: bool = False) -> str:
        """Cancel one of the verified caller's appointments. Read back first (confirmed=false), then call again
        with confirmed=true after the caller agreed.

        Args:
            appointment_id: appointment_id from list_my_appointments.
            confirmed: True only after the caller agreed to the read-back.
        """
        async with self._step(ctx, "cancel_appointment") as state:
            self._no_appointments_after_emergency(state)
            patient_id = await self._verified_patient(state, "appointment")
            appointment = tool_args.record_id(appointment_id, "appointment_id")
            change = self._change(ctx, "cancel", patient_id, appointment_id=appointment)
            if not confirmed or self._confirmed_change(state, change) is None:
                current = await state.hospital.own_appointment(
                    state.actor, patient_id=patient_id, appointment_id=appointment
                )
                read_back = (
                    f"cancelling the appointment with {current.doctor_name} ({current.specialty}), "
                    f"{self._say(state, current.starts_at)}."
                )
                return self._confirmation_needed(state, change, read_back, confirmed)
            cancelled = await state.hospital.cancel(state.actor, patient_id=patient_id, appointment_id=appointment)
            state.pending = None
            state.record("booking_cancelled", detail={"appointment_id": cancelled.id})
            return f"Cancelled {self._describe_appointment(state, cancelled)}. Confirm it to the caller."

    # -- people --------------------------------------------------------------------------------------------

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
        """Transfer the call to a person at the front desk, when the caller asks for one or things keep failing."""
        async with self._step(ctx, "transfer_to_human") as state:
            if self._config.transfer_number is None or state.transfer is None:
                raise ToolError(
                    "A live transfer isn't possible on this line. Offer to take a message instead: ask for their "
                    "name, a callback number and what it's about, then call request_callback."
                )
            if state.outcome != "emergency":
                state.outcome = "handed_off"
            state.record("handoff", detail={"kind": "transfer"})
            await ctx.wait_for_playout()
            await state.transfer(self._config.transfer_number)
            return "Transferring now. Tell them you're putting them through to the front desk."

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

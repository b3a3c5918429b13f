"""Identity tools: verify a caller, register a new patient. Checks are limited per call and per name by the
database; after the limit, or for a locked name, only a transfer or a message is left, in words that never
say whether the name is on file. On a phone call, the caller ID may stand in for the spoken phone number (never for
the name): the tool passes it to the same database check, and the model never sees it."""

from __future__ import annotations

import logging

from livekit.agents import RunContext, ToolError, function_tool

from agent import speech, tool_args
from agent.call import IDENTITY_CHECKS_PER_CALL, CallState
from agent.guard import ToolGuard
from agent.hospital import IdentityClosed, NoMatch, RegistrationRefused

logger = logging.getLogger("agent.receptionist")

IDENTITY_CLOSED = (
    "Identity can't be checked on this call any more. Don't ask for more details and don't say whether anyone "
    "is on file. Offer to transfer them to the front desk (transfer_to_human) or take a message (request_callback)."
)
NO_MATCH = (
    "No match for those details. Say you couldn't find a match and ask them to check the spelling and date; "
    "never say whether such a patient exists."
)
CALLER_ID_NO_MATCH = (
    "No match for that name with the number they are calling from. Say you couldn't find a match and ask for "
    "their date of birth; never say whether such a patient exists."
)
REGISTRATION_REFUSED = (
    "Can't register with those details over the phone, and no record was made. Don't say whether anyone with "
    "these details is on file. If they have been a patient here before, they can be verified (verify_identity); "
    "otherwise offer to transfer them to the front desk (transfer_to_human) or take a message (request_callback)."
)


class IdentityTools(ToolGuard):
    @function_tool
    async def verify_identity(
        self,
        ctx: RunContext[CallState],
        full_name: str,
        date_of_birth: str | None = None,
        phone: str | None = None,
        use_caller_id: bool = False,
    ) -> str:
        """Verify who is calling before anything about a patient is shared or changed.

        Args:
            full_name: The caller's first and last name as they said it.
            date_of_birth: Their date of birth as YYYY-MM-DD. Give this, phone, or use_caller_id.
            phone: The phone number on their record as they said it, international form like +15551234567.
            use_caller_id: True to check the name against the number they are calling from, when they say it is
                the number on their record (you don't know that number; never give it as phone).
        """
        async with self._step(ctx, "verify_identity") as state:
            state.pending = None  # whatever was read back was for the identity held until now
            if state.identity_closed:
                raise ToolError(IDENTITY_CLOSED)
            name = tool_args.person_name(full_name)
            today = state.clock().astimezone(self._config.zone).date()
            born = tool_args.birth_date(date_of_birth, today=today) if date_of_birth else None
            if use_caller_id:
                if phone:  # which number the caller meant is unclear: neither is checked
                    raise ToolError(
                        "Nothing was checked: give either the number they said (phone) or use_caller_id, not both."
                    )
                number = self._caller_id(state)
            else:
                number = tool_args.phone(phone) if phone else None
            if born is None and number is None:
                raise ToolError("Ask for the date of birth (or the phone number on file) as well as the name.")
            check = await state.hospital.verify_patient(
                state.actor, full_name=name, date_of_birth=born, phone=number, phone_is_caller_id=use_caller_id
            )
            if isinstance(check, IdentityClosed | NoMatch):
                raise ToolError(self._identity_failed(state, check, CALLER_ID_NO_MATCH if use_caller_id else NO_MATCH))
            patient = check.patient
            state.patient_id = patient.id
            # Which factors verified, for staff (call_events); never their values.
            used = (("date_of_birth", born), ("phone", phone), ("caller_id", use_caller_id))
            factors = [factor for factor, given in used if given]
            state.record("verified", detail={"patient_id": patient.id, "factors": factors})
            return f"Verified. You may now help {patient.full_name} with their own appointments."

    @staticmethod
    def _caller_id(state: CallState) -> str:
        """The call's caller ID as the phone factor; the model is never told the number."""
        if state.caller_id is None:
            raise ToolError(
                "The number they are calling from isn't available on this call. Ask for their date of birth instead."
            )
        return state.caller_id

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

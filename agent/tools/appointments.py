"""The verified caller's own appointments: list, book, move, cancel. A change is checked, read back naming the
doctor, and only made on a later call with `confirmed=true` after the caller answered the read-back."""

from __future__ import annotations

from livekit.agents import RunContext, function_tool

from agent import tool_args
from agent.call import CallState
from agent.guard import ToolGuard
from agent.hospital import Booked, SlotTaken, rules


class AppointmentTools(ToolGuard):
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

"""Directory tools, public (no verification needed): doctors, free slots, practical questions."""

from __future__ import annotations

from datetime import timedelta

from livekit.agents import RunContext, ToolError, function_tool

from agent import tool_args
from agent.call import CallState
from agent.guard import ToolGuard
from agent.hospital import directory, rules

SLOT_SEARCH_DAYS = 14


class DirectoryTools(ToolGuard):
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
            code = directory.language_code(spoken) if spoken else None
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
            question = tool_args.free_text(topic, "topic", tool_args.TOPIC_MAX)
            info = await state.hospital.hospital_info()
            found = directory.answers_to(question, info, await state.hospital.list_departments())
            if found:
                return " ".join(found) + " Answer only from this."
            known = ", ".join(key.replace("_", " ") for key in info)
            return (
                f"No recorded answer for that. Known topics: {known}. Say you don't know and offer a message for "
                "the front desk; don't guess."
            )

"""Per-call state (the session's userdata) and how a call is recorded through the data layer.

Recording never blocks a reply: events are written in background tasks and a failed write costs a
warning, not the call. Logs carry ids, kinds and timings only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from agent.front_desk import FrontDeskHours
from agent.hospital import Actor, CallEventKind, CallOutcome, Hospital, Slot

logger = logging.getLogger("agent.call")

# After this many failed steps (no identity match, a refused change, the database away) the
# receptionist offers a human instead of trying again.
FAILURES_BEFORE_HANDOFF = 3
# Failed identity checks (and refused registrations) a call gets before only a transfer or a message is left.
# The database counts the same per call session (identity_gate in migrations/0006_identity_and_schedule_locks.sql);
# this count covers a call whose session could not be recorded.
IDENTITY_CHECKS_PER_CALL = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CallConfig:
    """What the receptionist needs from the settings."""

    hospital_name: str
    zone: ZoneInfo
    emergency_number: str
    transfer_number: str | None = None
    front_desk: FrontDeskHours = field(default_factory=FrontDeskHours)


@dataclass(frozen=True)
class PendingChange:
    """A change read back to the caller and waiting for their yes, for the patient it was read back for. It counts
    as agreed only after a caller turn later than `read_back_turn` (the caller message the model was answering
    when it called for the read-back). The key makes a retried write idempotent."""

    action: Literal["book", "reschedule", "cancel"]
    patient_id: int
    read_back_turn: str | None
    doctor_id: int | None = None
    starts_at: datetime | None = None
    appointment_id: int | None = None
    reason: str = ""
    idempotency_key: uuid.UUID = field(default_factory=uuid.uuid4)

    def same_request(self, other: PendingChange) -> bool:
        return (self.action, self.doctor_id, self.starts_at, self.appointment_id) == (
            other.action,
            other.doctor_id,
            other.starts_at,
            other.appointment_id,
        )


ToolObserver = Callable[[str, str, float], None]
Transfer = Callable[[str], Awaitable[None]]


class TransferFailed(Exception):
    """The front desk could not be reached (busy, no answer, the trunk refused); the caller is still on the line.

    `reason` is a code from the telephony side (e.g. a SIP status), never anything the caller said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CallState:
    hospital: Hospital
    config: CallConfig
    clock: Callable[[], datetime] = utc_now
    transfer: Transfer | None = None
    """Moves a phone caller to the front desk; None when the caller can't be transferred (web callers)."""
    caller_id: str | None = field(default=None, repr=False)  # PHI: kept out of any printed state
    """The phone caller's number as their line reported it (agent/caller_id.py), E.164; None for web callers and
    withheld numbers. Spoofable: it may stand in for the spoken phone number, never for the name. The model
    never sees it."""
    on_tool_finished: ToolObserver | None = None
    """Telemetry hook: (tool name, outcome, duration in ms)."""

    call_session_id: int | None = None
    patient_id: int | None = None
    call_turns: dict[str, str | None] = field(default_factory=dict)
    """For each tool call (by call id), the caller message the model was answering when it made the call."""
    pending: PendingChange | None = None
    failed_identity_checks: int = 0
    identity_closed: bool = False
    """No more identity checks or registrations on this call: only a transfer or a message."""
    registered: bool = False
    offered: list[Slot] = field(default_factory=list)
    failures: int = 0
    outcome: CallOutcome = "completed"
    emergency_turns: set[str] = field(default_factory=set)
    step_outcome: str = "ok"
    """Outcome of the running tool when it succeeded but not as asked (e.g. "slot_taken")."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _last_write: asyncio.Future[None] | None = None
    _finishing: asyncio.Future[None] | None = None

    @property
    def actor(self) -> Actor:
        return Actor(call_session_id=self.call_session_id)

    @property
    def needs_human(self) -> bool:
        return self.failures >= FAILURES_BEFORE_HANDOFF

    def front_desk_open(self) -> bool:
        return self.config.front_desk.is_open(self.clock(), self.config.zone)

    def front_desk_closed_notice(self) -> str:
        return self.config.front_desk.closed_notice(self.clock(), self.config.zone)

    def can_transfer(self) -> bool:
        """A live transfer needs a front-desk number, a caller the line can move (a phone caller), and the desk
        open now: outside its hours nobody would answer."""
        return self.config.transfer_number is not None and self.transfer is not None and self.front_desk_open()

    async def begin(self, *, room: str, job_id: str | None) -> None:
        """Open the call session row; without the database the call still goes on, unrecorded."""
        try:
            self.call_session_id = await self.hospital.start_call(room=room, job_id=job_id)
        except Exception as exc:
            logger.warning("call session not recorded", extra={"error": type(exc).__name__})
            return
        self.record("call_started")

    def record(
        self,
        kind: CallEventKind,
        *,
        tool: str | None = None,
        outcome: str | None = None,
        duration_ms: float | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Append an event to the call's log in the background (ids and codes only, never words said)."""
        if self.call_session_id is None:
            return
        write = functools.partial(
            self.hospital.record_event,
            self.call_session_id,
            kind,
            tool=tool,
            outcome=outcome,
            duration_ms=duration_ms,
            detail=detail,
        )
        # Each write waits for the one before, so the log keeps the order things happened in.
        task = asyncio.ensure_future(self._quietly(write, kind, after=self._last_write))
        self._last_write = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quietly(
        self, write: Callable[[], Awaitable[None]], kind: str, after: asyncio.Future[None] | None
    ) -> None:
        if after is not None:
            await asyncio.wait([after])
        try:
            await write()
        except Exception as exc:
            logger.warning(
                "call event not recorded",
                extra={"call_session_id": self.call_session_id, "kind": kind, "error": type(exc).__name__},
            )

    def tool_finished(self, name: str, outcome: str, duration_ms: float) -> None:
        self.record("tool_call", tool=name, outcome=outcome, duration_ms=round(duration_ms, 3))
        if self.on_tool_finished is not None:
            self.on_tool_finished(name, outcome, duration_ms)

    async def flush(self) -> None:
        """Wait for the events written so far (tests and the end of the call)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def finish(self) -> None:
        """Close the call session with its outcome. Every caller awaits the same single write."""
        if self._finishing is None:
            self._finishing = asyncio.ensure_future(self._finish())
        await asyncio.shield(self._finishing)

    async def _finish(self) -> None:
        self.record("call_ended", outcome=self.outcome)
        await self.flush()
        if self.call_session_id is None:
            return
        try:
            await self.hospital.end_call(self.call_session_id, outcome=self.outcome, patient_id=self.patient_id)
        except Exception as exc:
            logger.warning(
                "call end not recorded",
                extra={"call_session_id": self.call_session_id, "error": type(exc).__name__},
            )

"""What a caller hears when every text-to-speech provider is down: a pre-rendered apology, a hand-off, an end.

Text to speech has failed for the call once the session reports an unrecoverable TTS error (its
FallbackAdapter raises only after the last provider failed). Then, once per call: the caller's microphone is
no longer listened to (a new turn would only fail again), and
- with a front desk to transfer a phone caller to, open now, the caller hears "putting you through" and is
  transferred;
- otherwise (or when the transfer fails), a phone caller whose number we know (the call's caller ID,
  agent/caller_id.py) gets a callback request for the front desk and hears so; anyone else hears to call
  again in a few minutes;
- then the session ends after the clip has played.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from livekit.agents import AgentSession
from livekit.agents.tts import TTSError
from livekit.agents.voice.events import ErrorEvent

from agent.call import CallState
from agent.outage_clips import CLIP_TEXTS, clip_frames

logger = logging.getLogger("agent.speech_outage")

OUTAGE_METRIC = "SpeechOutages"
CALLBACK_CALLER_NAME = "Unknown caller (speech outage)"
CALLBACK_MESSAGE = "The call's voice failed before the caller could say what they needed; please call back."


class SpeechOutage:
    """Watches one call's session and runs the outage procedure at most once."""

    def __init__(
        self,
        session: AgentSession[CallState],
        *,
        state: CallState,
        record: Callable[[str, float], None] | None = None,
    ) -> None:
        self._session = session
        self._state = state
        self._record = record
        self.task: asyncio.Task[str] | None = None

    def watch(self) -> None:
        self._session.on("error", self._on_error)

    def _on_error(self, event: ErrorEvent) -> None:
        if self.task is None and isinstance(event.error, TTSError) and not event.error.recoverable:
            self.task = asyncio.create_task(self.run())

    async def run(self) -> str:
        """Play the clips, hand off, end the call; returns what was done ("transferred", "callback", "call_again")."""
        logger.error("every text-to-speech provider failed; ending the call with a recorded apology")
        if self._record is not None:
            self._record(OUTAGE_METRIC, 1)
        self._session.input.set_audio_enabled(False)
        self._session.interrupt(force=True)
        outcome = await self._transfer() or await self._callback()
        self._state.record("handoff", detail={"kind": outcome, "reason": "speech_outage"})
        self._state.outcome = "handed_off" if outcome != "call_again" else "error"
        self._session.shutdown(drain=True)
        return outcome

    async def _say(self, clip: str) -> None:
        await self._session.say(CLIP_TEXTS[clip], audio=clip_frames(clip), allow_interruptions=False)

    async def _transfer(self) -> str | None:
        if not self._state.can_transfer():
            return None
        await self._say("transfer")
        try:
            await self._state.transfer(self._state.config.transfer_number)
        except Exception as error:  # the caller is still on the line: go on to the callback
            logger.warning("transfer after the speech outage failed", extra={"error": type(error).__name__})
            return None
        return "transferred"

    async def _callback(self) -> str:
        number = self._state.caller_id
        if number is not None and await self._request_callback(number):
            await self._say("callback")
            return "callback"
        await self._say("call_again")
        return "call_again"

    async def _request_callback(self, number: str) -> bool:
        try:
            await self._state.hospital.add_callback_request(
                self._state.actor,
                caller_name=CALLBACK_CALLER_NAME,
                callback_phone=number,
                message=CALLBACK_MESSAGE,
                patient_id=self._state.patient_id,
            )
        except Exception as error:  # without the database, the caller is asked to call again instead
            logger.warning("callback request after the speech outage failed", extra={"error": type(error).__name__})
            return False
        return True

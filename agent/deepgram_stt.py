"""Deepgram's streaming speech to text, failed when Deepgram stops answering, so the call moves to its fallback.

LiveKit's STT FallbackAdapter gives a stream its attempt timeout as `conn_options.timeout`, and the Deepgram
plugin (livekit-plugins-deepgram 1.8.9, livekit/plugins/deepgram/stt.py) bounds only the WebSocket's opening with
it. A Deepgram that accepted the socket and then goes silent (it takes the audio, answers the heartbeat pings,
never sends a result) fails nothing: the caller is never heard again, on Deepgram or the fallback, for the rest of
the call; and a recovery probe of it hangs the same way, so no later probe is made. Deepgram answers streamed
audio with interim `Results` about every second of it, empty ones in silence included
(https://developers.deepgram.com/docs/using-interim-results), so here a stream fails with `APITimeoutError` once
Deepgram has left more than the attempt timeout's worth of the call's audio unanswered for longer than the attempt
timeout, or once its input ended and Deepgram said nothing more for the attempt timeout (it owes the last results
and its `Metadata` then): the adapter then moves the call to the fallback and probes Deepgram as for any other
failure.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from livekit import rtc
from livekit.agents import APIConnectOptions, APITimeoutError
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.utils import aio
from livekit.plugins import deepgram
from livekit.plugins.deepgram.stt import SpeechStream


class WatchedDeepgramSTT(deepgram.STT):
    def stream(
        self, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> WatchedSpeechStream:
        # The plugin's own `stream`, with our stream class.
        stream = WatchedSpeechStream(
            stt=self,
            conn_options=conn_options,
            opts=self._sanitize_options(language=language),
            api_key=self._api_key,
            http_session=self._ensure_session(),
            base_url=self._opts.endpoint_url,
        )
        self._streams.add(stream)
        return stream


class WatchedSpeechStream(SpeechStream):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connected_at: float | None = None
        self._unanswered_since: float | None = None
        self._unanswered_audio = 0.0
        self._answer_owed = False

    def push_frame(self, frame: rtc.AudioFrame) -> None:
        super().push_frame(frame)
        if self._unanswered_since is None:
            self._unanswered_since = time.monotonic()
        self._unanswered_audio += frame.duration

    def end_input(self) -> None:
        super().end_input()
        self._answer_owed = True
        if self._unanswered_since is None:
            self._unanswered_since = time.monotonic()

    async def _connect_ws(self) -> Any:
        socket = await super()._connect_ws()
        self._connected_at = time.monotonic()  # the opening has its own bound: audio waits from here
        return socket

    def _process_stream_event(self, data: dict) -> None:
        self._unanswered_since = None
        self._unanswered_audio = 0.0
        self._answer_owed = False
        super()._process_stream_event(data)

    def _silent_for(self) -> float:
        """Seconds Deepgram has left audio it was sent unanswered, once that is more than the attempt timeout's
        worth of audio or the input ended (0 otherwise)."""
        if self._connected_at is None or self._unanswered_since is None:
            return 0.0
        if self._unanswered_audio <= self._conn_options.timeout and not self._answer_owed:
            return 0.0
        return time.monotonic() - max(self._unanswered_since, self._connected_at)

    async def _watch(self) -> None:
        while True:  # a poll: silence is the absence of an event
            if self._silent_for() > self._conn_options.timeout:
                break
            await asyncio.sleep(self._conn_options.timeout / 10)
        raise APITimeoutError(f"deepgram left {self._unanswered_audio:.1f} s of audio unanswered")

    async def _run(self) -> None:
        transcribing = asyncio.create_task(super()._run())
        watching = asyncio.create_task(self._watch())
        try:
            done, _ = await asyncio.wait({transcribing, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await aio.cancel_and_wait(transcribing, watching)
        for task in done:
            task.result()

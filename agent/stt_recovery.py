"""Speech to text that goes back to its primary within the call, as the model and text to speech do.

A call's audio runs through one long-lived speech-to-text stream. LiveKit's STT FallbackAdapter (livekit-agents
1.8.9, livekit/agents/stt/fallback_adapter.py) moves that stream to the fallback when the primary fails and
probes the primary once, but the stream stays on the fallback until it ends, and a probe that failed is not
made again: a Deepgram outage of a minute would leave the rest of the call on the fallback. So while the
stream is served by a fallback, each utterance boundary (end of speech) opens a fresh stream for the next
utterance: it starts on the primary once a probe brought it back, or else on the fallback with a new probe of
the primary. The stream that heard the utterance still finishes transcribing it, and the probes it started are
told that their audio ended: the library leaves them waiting for words that no longer come, and while one waits
no other probe is made. While the primary is healthy nothing changes: one stream for the whole call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import stt
from livekit.agents.stt.fallback_adapter import DEFAULT_FALLBACK_API_CONNECT_OPTIONS
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import aio


class ReturningSTTFallback(stt.FallbackAdapter):
    """LiveKit's STT FallbackAdapter whose streams go back to the primary (the first instance) once it recovers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.primary_down = False
        self.primary_failures = 0
        self.on("stt_availability_changed", self._primary_changed)

    def _primary_changed(self, event: stt.AvailabilityChangedEvent) -> None:
        if event.stt is not self._stt_instances[0]:
            return
        self.primary_down = not event.available
        if not event.available:
            self.primary_failures += 1

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_FALLBACK_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return ReturningRecognizeStream(adapter=self, language=language, conn_options=conn_options)

    def fallback_stream(self, *, language: NotGivenOr[str], conn_options: APIConnectOptions) -> stt.RecognizeStream:
        """The library's stream: the first available instance, then the next one on failure."""
        return super().stream(language=language, conn_options=conn_options)


class ReturningRecognizeStream(stt.RecognizeStream):
    def __init__(
        self, *, adapter: ReturningSTTFallback, language: NotGivenOr[str], conn_options: APIConnectOptions
    ) -> None:
        super().__init__(stt=adapter, conn_options=conn_options, sample_rate=NOT_GIVEN)
        self._adapter = adapter
        self._language = language

    async def _metrics_monitor_task(self, event_aiter: AsyncIterable[stt.SpeechEvent]) -> None:
        async for _ in event_aiter:  # the inner streams' providers report their own metrics
            pass

    def _open(self) -> _Leg:
        stream = self._adapter.fallback_stream(language=self._language, conn_options=self._conn_options)
        stream.start_time_offset = self.start_time_offset + (time.time() - self._start_time)
        return _Leg(stream, opened_down=self._adapter.primary_down, failures=self._adapter.primary_failures)

    async def _run(self) -> None:
        current = self._open()

        async def forward_input() -> None:
            async for data in self._input_ch:
                if isinstance(data, rtc.AudioFrame):
                    current.stream.push_frame(data)
                else:
                    current.stream.flush()
            current.stream.end_input()

        forwarding = asyncio.create_task(forward_input())
        try:
            while True:
                leg = current
                async for event in leg.stream:
                    self._event_ch.send_nowait(event)
                    at_boundary = event.type == stt.SpeechEventType.END_OF_SPEECH and leg is current
                    if at_boundary and leg.on_fallback(self._adapter) and not forwarding.done():
                        current = self._open()  # the next utterance's audio goes there from now on
                        leg.stream.end_input()  # this one transcribes what it heard, then ends
                leg.end_probes()
                await leg.stream.aclose()
                if leg is current:
                    return
        finally:
            await aio.cancel_and_wait(forwarding)
            await current.stream.aclose()


@dataclass(frozen=True)
class _Leg:
    """One of the library's fallback streams, and what was known of the primary when it was opened."""

    stream: stt.RecognizeStream
    opened_down: bool
    failures: int

    def end_probes(self) -> None:
        """The probes of the primary this stream started hear no more of the call: they answer with what they
        heard, or fail, instead of waiting for the rest of the call (LiveKit's FallbackRecognizeStream ends only
        its main stream's input)."""
        for probe in list(self.stream._recovering_streams):
            if not (probe._input_ch.closed or probe._event_ch.closed):
                probe.end_input()

    def on_fallback(self, adapter: ReturningSTTFallback) -> bool:
        """Served by a fallback: opened while the primary was down, or the primary failed since."""
        return self.opened_down or adapter.primary_failures > self.failures

"""Chaos tests: a provider refuses connections, times out or fails mid-stream, and the call goes on through its
fallback; once the provider is back it is used again. Real LiveKit plugins and FallbackAdapters with our options
(agent/providers.py), against loopback stand-ins (devtools/testing/provider_stand_ins.py); every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession, APIConnectionError, APIConnectOptions, llm, stt, tts
from livekit.agents.utils import aio, http_context
from livekit.agents.voice.io import AudioInput
from livekit.plugins import cartesia, deepgram, openai

from agent.providers import (
    FALLBACK_METRIC,
    RECOVERY_METRIC,
    Providers,
    build_providers,
    build_stt,
    connect_options,
    llm_fallback,
    stt_fallback,
    tts_fallback,
)
from agent.settings import load
from agent.stt_recovery import ReturningSTTFallback
from devtools.testing.provider_stand_ins import HANG_SECONDS, ProviderStandIn
from tests.agent.test_worker import SETTINGS

ATTEMPT_TIMEOUT = 0.5
# Every turn and synthesis below must finish within this, failures included.
TURN_BOUND = ATTEMPT_TIMEOUT + 3.0
# A switch to the fallback costs at most one attempt timeout (a retry of the primary would cost another).
SWITCH_BOUND = ATTEMPT_TIMEOUT + 0.4
FAILURES = ["refused", "error", "hang", "drop"]
# Longer than any test here: a provider that hangs this long is ended only by our attempt timeout.
ENDLESS_HANG = 60.0
SETTINGS_FOR_TESTS = load(**SETTINGS, provider_attempt_timeout=ATTEMPT_TIMEOUT)


@pytest.fixture(autouse=True)
async def http_session() -> AsyncIterator[None]:
    """The HTTP session a job process gives the plugins (LiveKit's worker opens it per job)."""
    async with http_context.open():
        yield


@pytest.fixture
async def primary() -> AsyncIterator[ProviderStandIn]:
    stand_in = ProviderStandIn("primary")
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def fallback() -> AsyncIterator[ProviderStandIn]:
    stand_in = ProviderStandIn("fallback")
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


async def fail(stand_in: ProviderStandIn, failure: str) -> None:
    if failure == "refused":
        await stand_in.stop()
    else:
        stand_in.mode = failure  # type: ignore[assignment]


async def come_back(stand_in: ProviderStandIn, failure: str) -> None:
    stand_in.mode = "ok"
    if failure == "refused":
        await stand_in.start()


def availability(adapter: llm.FallbackAdapter | tts.FallbackAdapter, event_name: str) -> list[bool]:
    """What the adapter announced about its first (primary) instance, in order."""
    seen: list[bool] = []
    primary = (adapter._llm_instances if isinstance(adapter, llm.FallbackAdapter) else adapter._tts_instances)[0]

    def changed(event: object) -> None:
        instance = getattr(event, "llm", None) or getattr(event, "tts", None)
        if instance is primary:
            seen.append(event.available)

    adapter.on(event_name, changed)
    return seen


async def until_recovered(request: Callable[[], Awaitable[object]], announced: list[bool], tries: int = 5) -> None:
    """Make requests until the primary is announced available again: each request served while it is down
    starts a probe of it (one at a time), as the calls' next turns would."""
    for _ in range(tries):
        await request()
        with contextlib.suppress(AssertionError):
            await until(lambda: announced[-1:] == [True], seconds=1.0)
            return
    raise AssertionError(f"the primary was not probed back within {tries} requests: {announced}")


async def until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


# -- the model ---------------------------------------------------------------------------------------------------


def models(primary: ProviderStandIn, fallback: ProviderStandIn) -> llm.FallbackAdapter:
    return llm_fallback(
        [
            openai.LLM(model="primary-model", api_key=SETTINGS["openai_api_key"], base_url=f"{primary.url}/v1"),
            openai.LLM(model="fallback-model", api_key=SETTINGS["openai_api_key"], base_url=f"{fallback.url}/v1"),
        ],
        SETTINGS_FOR_TESTS,
    )


async def turn(session: AgentSession, words: str) -> str:
    async with asyncio.timeout(TURN_BOUND):
        result = await session.run(user_input=words)
    return " ".join(
        event.item.text_content or ""
        for event in result.events
        if event.type == "message" and event.item.role == "assistant"
    )


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failing_model_hands_the_turn_to_its_fallback_and_comes_back(
    failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    adapter = models(primary, fallback)
    primary_available = availability(adapter, "llm_availability_changed")
    async with adapter, AgentSession(llm=adapter, conn_options=connect_options(SETTINGS_FOR_TESTS)) as session:
        await session.start(Agent(instructions="You are a hospital receptionist."))
        assert await turn(session, "Hello?") == primary.answer()

        await fail(primary, failure)
        assert await turn(session, "I need an appointment.") == fallback.answer()
        assert await turn(session, "With a cardiologist.") == fallback.answer(), "the call goes on"
        assert primary_available == [False]

        # Each turn served by the fallback probes the primary (one probe at a time); once one succeeds, the
        # next turn is the primary's again.
        await come_back(primary, failure)
        await until_recovered(lambda: turn(session, "Tomorrow, please."), primary_available)
        assert primary_available == [False, True]
        assert await turn(session, "Thank you.") == primary.answer()


async def test_a_model_that_hung_is_used_again_in_the_same_call_once_it_answers(
    primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    """The primary accepts requests and never answers, nor drops them: each attempt on it, the background probes
    included, ends at the attempt timeout (the OpenAI plugin gives every request `conn_options.timeout` as its
    httpx timeout), so a probe made once it answers again brings it back within the same call."""
    adapter = models(primary, fallback)
    primary_available = availability(adapter, "llm_availability_changed")
    primary.hang_seconds = ENDLESS_HANG
    async with adapter, AgentSession(llm=adapter, conn_options=connect_options(SETTINGS_FOR_TESTS)) as session:
        await session.start(Agent(instructions="You are a hospital receptionist."))
        assert await turn(session, "Hello?") == primary.answer()

        primary.mode = "hang"
        assert await turn(session, "I need an appointment.") == fallback.answer()
        assert await turn(session, "With a cardiologist.") == fallback.answer(), "the call goes on"
        assert primary_available == [False]

        primary.mode = "ok"  # the hung requests stay hung: only new ones are answered
        await until_recovered(lambda: turn(session, "Tomorrow, please."), primary_available)
        assert primary_available == [False, True]
        assert await turn(session, "Thank you.") == primary.answer()
        assert primary.requests[-1] == "/v1/chat/completions ok"


async def test_a_model_that_fails_after_its_first_words_ends_that_turn_short_and_the_next_goes_to_the_fallback(
    primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    """No re-ask after words were spoken: they would be said twice, and a tool call could run twice."""
    adapter = models(primary, fallback)
    async with adapter, AgentSession(llm=adapter, conn_options=connect_options(SETTINGS_FOR_TESTS)) as session:
        await session.start(Agent(instructions="You are a hospital receptionist."))
        primary.mode = "drop_after_words"
        with pytest.raises(APIConnectionError):  # a test run surfaces the turn's error; a call logs it
            await turn(session, "Hello?")
        assert not fallback.requests, "the fallback was not asked to say it all again"
        assert await turn(session, "Are you there?") == fallback.answer()


async def test_a_hanging_model_costs_one_attempt_timeout_then_the_call_goes_on_with_the_fallback(
    primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    adapter = models(primary, fallback)
    primary.mode = "hang"
    async with adapter, AgentSession(llm=adapter, conn_options=connect_options(SETTINGS_FOR_TESTS)) as session:
        await session.start(Agent(instructions="You are a hospital receptionist."))
        started = time.monotonic()
        assert await turn(session, "Hello?") == fallback.answer()
        assert ATTEMPT_TIMEOUT <= time.monotonic() - started < ATTEMPT_TIMEOUT + 1.0
        started = time.monotonic()
        assert await turn(session, "Are you there?") == fallback.answer()
        assert time.monotonic() - started < ATTEMPT_TIMEOUT, "the hanging model is not waited for again"


# -- text to speech ----------------------------------------------------------------------------------------------


def voices(primary: ProviderStandIn, fallback: ProviderStandIn) -> tts.FallbackAdapter:
    return tts_fallback(
        [
            cartesia.TTS(api_key=SETTINGS["cartesia_api_key"], base_url=primary.url),
            openai.TTS(api_key=SETTINGS["openai_api_key"], base_url=f"{fallback.url}/v1", response_format="pcm"),
        ]
    )


async def speak(adapter: tts.FallbackAdapter, text: str) -> float:
    """Seconds of audio the session would play for `text` (through the streaming path the session uses)."""
    seconds = 0.0
    async with asyncio.timeout(TURN_BOUND):
        stream = adapter.stream(conn_options=connect_options(SETTINGS_FOR_TESTS).tts_conn_options)
        async with stream:
            stream.push_text(text)
            stream.end_input()
            async for audio in stream:
                seconds += audio.frame.duration
    return seconds


@pytest.mark.parametrize("failure", FAILURES)
async def test_failing_speech_moves_to_the_fallback_voice_and_comes_back(
    failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    adapter = voices(primary, fallback)
    primary_available = availability(adapter, "tts_availability_changed")
    async with adapter:
        assert await speak(adapter, "Hello, how can I help?") > 0.2
        assert primary.requests
        assert not fallback.requests

        await fail(primary, failure)
        started = time.monotonic()
        assert await speak(adapter, "Let me look that up.") > 0.2
        assert time.monotonic() - started < SWITCH_BOUND, "one attempt, no retry, before the fallback"
        assert fallback.requests == ["/v1/audio/speech ok"]
        assert primary_available == [False]
        assert await speak(adapter, "One moment.") > 0.2, "the call goes on"

        await come_back(primary, failure)
        await until_recovered(lambda: speak(adapter, "Still there?"), primary_available)
        assert primary_available == [False, True]
        served_by_fallback = len(fallback.requests)
        assert await speak(adapter, "Here it is.") > 0.2
        assert len(fallback.requests) == served_by_fallback, "the primary speaks again"


# -- speech to text ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["refused", "error", "hang"])
async def test_failing_transcription_moves_to_the_fallback_and_comes_back(
    failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    from livekit.plugins import silero

    adapter = stt_fallback(
        [
            deepgram.STT(api_key=SETTINGS["deepgram_api_key"], base_url=f"{primary.url}/v1/listen"),
            openai.STT(api_key=SETTINGS["openai_api_key"], base_url=f"{fallback.url}/v1", use_realtime=False),
        ],
        SETTINGS_FOR_TESTS,
        vad=silero.VAD.load(),
    )
    primary_available: list[bool] = []
    adapter.on("stt_availability_changed", lambda event: primary_available.append(event.available))
    utterance = rtc.AudioFrame(bytes(3200), sample_rate=16000, num_channels=1, samples_per_channel=1600)
    options = connect_options(SETTINGS_FOR_TESTS).stt_conn_options

    async def heard() -> str:
        async with asyncio.timeout(TURN_BOUND):
            return (await adapter.recognize(utterance, conn_options=options)).alternatives[0].text

    async with adapter:
        assert await heard() == primary.answer()
        await fail(primary, failure)
        started = time.monotonic()
        assert await heard() == fallback.answer()
        # Deepgram's one-shot request bounds only its connection by the attempt timeout (total 30 s in
        # livekit-plugins-deepgram 1.8): a silent server ends this attempt only when it drops the connection.
        bound = HANG_SECONDS + 0.4 if failure == "hang" else SWITCH_BOUND
        assert time.monotonic() - started < bound, "one attempt, no retry, before the fallback"
        assert await heard() == fallback.answer(), "the call goes on"
        await come_back(primary, failure)
        await until_recovered(heard, primary_available)
        assert primary_available == [False, True]
        assert await heard() == primary.answer()


def transcribers(primary: ProviderStandIn, fallback: ProviderStandIn) -> ReturningSTTFallback:
    """Both stages are OpenAI transcription stand-ins (one request per utterance cut by the VAD): what is tested
    here is our stream's return to its primary, whatever the provider (Deepgram's WebSocket as the primary is tested
    below, `deepgram_then_openai`). OpenAI's one-request transcription bounds only its connection by the attempt timeout
    (it reads for 30 s in livekit-plugins-openai 1.8.9): a hang of it ends when the stand-in drops the connection,
    after HANG_SECONDS."""
    from livekit.plugins import silero

    return stt_fallback(
        [
            openai.STT(api_key=SETTINGS["openai_api_key"], base_url=f"{primary.url}/v1", use_realtime=False),
            openai.STT(api_key=SETTINGS["openai_api_key"], base_url=f"{fallback.url}/v1", use_realtime=False),
        ],
        SETTINGS_FOR_TESTS,
        vad=silero.VAD.load(),
    )


class CallAudio:
    """The session's path: one stream carries the whole call's audio; each utterance is one of our own speech
    clips and a second of silence."""

    def __init__(self, adapter: ReturningSTTFallback) -> None:
        self.stream = adapter.stream(conn_options=connect_options(SETTINGS_FOR_TESTS).stt_conn_options)
        self.finals: list[str] = []
        self._collector = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self.stream:
            if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                self.finals.append(event.alternatives[0].text)

    async def say(self) -> None:
        from agent.outage_clips import clip_frames

        async for frame in clip_frames("transfer"):
            self.stream.push_frame(frame)
        silence = rtc.AudioFrame(bytes(640), sample_rate=16000, num_channels=1, samples_per_channel=320)
        for _ in range(50):
            self.stream.push_frame(silence)

    async def heard(self) -> str:
        """Say an utterance; what the stream transcribed of it."""
        before = len(self.finals)
        await self.say()
        await until(lambda: len(self.finals) > before)
        return self.finals[-1]

    async def end(self) -> None:
        self.stream.end_input()
        await self._collector
        await self.stream.aclose()

    async def hang_up(self) -> None:
        """End at once (after `end`, the Deepgram plugin's stream waits up to 5 s for its keepalive to notice the
        socket closed)."""
        await self.stream.aclose()
        await self._collector


@pytest.mark.parametrize("failure", ["refused", "error", "hang"])
async def test_the_calls_transcription_stream_returns_to_its_primary_once_it_is_back(
    failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    adapter = transcribers(primary, fallback)
    primary_available: list[bool] = []
    adapter.on("stt_availability_changed", lambda event: primary_available.append(event.available))
    async with adapter, asyncio.timeout(30):
        call = CallAudio(adapter)
        assert await call.heard() == primary.answer()

        await fail(primary, failure)
        await call.say()  # the primary fails on this utterance, which is lost with it
        await until(lambda: primary_available == [False])
        assert await call.heard() == fallback.answer(), "the call goes on"

        await come_back(primary, failure)
        # Utterances on the fallback probe the primary, one probe at a time; a probe caught in the hang ends with
        # the hung request.
        deadline = time.monotonic() + HANG_SECONDS + 2.0
        while await call.heard() != primary.answer() and time.monotonic() < deadline:
            pass
        assert primary_available == [False, True]
        assert call.finals[-1] == primary.answer(), "the same stream is back on the primary"
        assert await call.heard() == primary.answer()
        await call.end()


# Deepgram's stream is failed by its own watchdog once it leaves this much of the call's audio unanswered this
# long (agent/deepgram_stt.py); the stand-in, like Deepgram, answers about every second of audio.
DEEPGRAM_ATTEMPT_TIMEOUT = 1.0


def deepgram_switch_bound(failure: str) -> float:
    """Seconds from the failure to an utterance transcribed by the fallback (the VAD's and the fallback's work
    included): a failure the plugin sees fails at once; silence costs the attempt timeout first."""
    return DEEPGRAM_ATTEMPT_TIMEOUT + (1.0 if failure == "hang" else 0.0)


def deepgram_then_openai(primary: ProviderStandIn, fallback: ProviderStandIn) -> ReturningSTTFallback:
    """The product's speech to text (agent/providers.py `build_stt`): Deepgram's streaming WebSocket, then OpenAI
    transcription, with both base URLs on the stand-ins."""
    from livekit.plugins import silero

    settings = load(
        **SETTINGS,
        provider_attempt_timeout=DEEPGRAM_ATTEMPT_TIMEOUT,
        deepgram_base_url=primary.url,
        openai_base_url=f"{fallback.url}/v1",
    )
    return build_stt(settings, vad=silero.VAD.load())


def primary_availability(adapter: ReturningSTTFallback) -> list[bool]:
    """What the adapter announced about Deepgram, in order."""
    announced: list[bool] = []

    def changed(event: stt.AvailabilityChangedEvent) -> None:
        if event.stt is adapter._stt_instances[0]:
            announced.append(event.available)

    adapter.on("stt_availability_changed", changed)
    return announced


async def the_fallback_hears_the_call(
    call: CallAudio, failure: str, fallback: ProviderStandIn, announced: list[bool]
) -> None:
    """Deepgram has just failed: the call's next utterance is the fallback's, within the switch bound. The utterance
    Deepgram fails on is lost with it when the failure comes during it (a hang, a drop)."""
    started = time.monotonic()
    heard_before = len(call.finals)
    await call.say()
    await until(lambda: announced == [False], seconds=DEEPGRAM_ATTEMPT_TIMEOUT + 1.0)
    if len(call.finals) == heard_before:
        assert await call.heard() == fallback.answer()
    assert call.finals[heard_before:] == [fallback.answer()]
    assert time.monotonic() - started < deepgram_switch_bound(failure)
    assert await call.heard() == fallback.answer(), "the call goes on"


async def deepgram_hears_the_call_again(call: CallAudio, primary: ProviderStandIn, announced: list[bool]) -> None:
    """Utterances on the fallback probe Deepgram (one probe at a time, each bounded by the attempt timeout) until
    one brings it back; then the same stream hears the caller through it again."""
    deadline = time.monotonic() + 4 * DEEPGRAM_ATTEMPT_TIMEOUT + 3.0
    while await call.heard() != primary.answer() and time.monotonic() < deadline:
        pass
    assert announced == [False, True]
    assert call.finals[-1] == primary.answer(), "the same stream is back on the primary"
    assert await call.heard() == primary.answer()


@pytest.mark.parametrize("failure", ["refused", "error", "hang", "drop"])
async def test_a_call_that_starts_while_deepgram_fails_is_heard_by_the_fallback_then_by_deepgram(
    failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    adapter = deepgram_then_openai(primary, fallback)
    announced = primary_availability(adapter)
    await fail(primary, failure)
    async with adapter, asyncio.timeout(30):
        call = CallAudio(adapter)
        await the_fallback_hears_the_call(call, failure, fallback, announced)
        await come_back(primary, failure)
        await deepgram_hears_the_call_again(call, primary, announced)
        await call.hang_up()


@pytest.mark.parametrize("failure", ["refused", "hang", "drop"])
async def test_deepgram_failing_mid_call_hands_the_call_to_the_fallback_and_gets_it_back(
    failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    """Deepgram has been hearing the call; then its server goes away (the open socket closes, new ones are
    refused), stops answering on the open socket, or closes it once speech arrives. (An HTTP 500 on the upgrade
    touches only new sockets: the test above.)"""
    adapter = deepgram_then_openai(primary, fallback)
    announced = primary_availability(adapter)
    async with adapter, asyncio.timeout(30):
        call = CallAudio(adapter)
        assert await call.heard() == primary.answer()
        assert not fallback.requests
        await fail(primary, failure)
        await the_fallback_hears_the_call(call, failure, fallback, announced)
        await come_back(primary, failure)
        await deepgram_hears_the_call_again(call, primary, announced)
        await call.hang_up()


async def test_a_healthy_deepgram_keeps_the_call_through_its_pauses(
    primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    """A pause in the audio longer than the attempt timeout (a muted caller) is not a silent Deepgram, even after a
    little audio it had no reason to answer yet: here 0.3 s, which the stand-in, answering every 2 s of audio,
    leaves unanswered."""
    primary.interim_seconds = 2.0
    adapter = deepgram_then_openai(primary, fallback)
    announced = primary_availability(adapter)
    async with adapter, asyncio.timeout(30):
        call = CallAudio(adapter)
        silence = rtc.AudioFrame(bytes(640), sample_rate=16000, num_channels=1, samples_per_channel=320)
        for _ in range(3):
            assert await call.heard() == primary.answer()
            for _ in range(15):
                call.stream.push_frame(silence)
            await asyncio.sleep(2 * DEEPGRAM_ATTEMPT_TIMEOUT)
        await call.hang_up()
    assert announced == []
    assert not fallback.requests
    assert primary.requests == ["/v1/listen websocket ok"], "one socket for the whole call"


async def test_a_silent_deepgram_fails_once_the_input_ends_however_little_audio_it_took(
    primary: ProviderStandIn,
) -> None:
    """At its end a stream waits for Deepgram's last results: a Deepgram that stays silent then fails it within the
    attempt timeout, so a probe that heard little of the call ends."""
    from livekit.agents import APITimeoutError

    adapter = deepgram_then_openai(primary, primary)
    deepgram = adapter._stt_instances[0]
    primary.mode = "hang"
    silence = rtc.AudioFrame(bytes(640), sample_rate=16000, num_channels=1, samples_per_channel=320)
    stream = deepgram.stream(conn_options=APIConnectOptions(max_retry=0, timeout=DEEPGRAM_ATTEMPT_TIMEOUT))
    started = time.monotonic()
    async with stream, asyncio.timeout(DEEPGRAM_ATTEMPT_TIMEOUT + 2.0):
        for _ in range(10):  # 0.2 s of audio: less than it must answer while audio flows
            stream.push_frame(silence)
        stream.end_input()
        with pytest.raises(APITimeoutError):
            async for _ in stream:
                pass
    assert DEEPGRAM_ATTEMPT_TIMEOUT <= time.monotonic() - started < DEEPGRAM_ATTEMPT_TIMEOUT + 0.5


async def test_a_probe_that_heard_no_words_does_not_keep_the_call_from_deepgram(
    primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    """Deepgram is back but finds no words in the one utterance its probe hears (noise, a cough): that probe ends
    with its stream, so a later utterance probes Deepgram again and brings it back. (The plugin's stream takes up
    to 5 s to end after the socket closes: it notices at its next keepalive.)"""
    adapter = deepgram_then_openai(primary, fallback)
    announced = primary_availability(adapter)
    primary.mode = "error"
    async with adapter, asyncio.timeout(40):
        call = CallAudio(adapter)
        await the_fallback_hears_the_call(call, "error", fallback, announced)
        primary.mode = "ok"
        primary.hears_words = False
        assert await call.heard() == fallback.answer()  # this utterance's stream starts a probe of Deepgram...
        assert await call.heard() == fallback.answer()  # ...which hears no words in the next one
        primary.hears_words = True
        deadline = time.monotonic() + 12.0
        while await call.heard() != primary.answer() and time.monotonic() < deadline:
            pass
        assert announced == [False, True]
        assert call.finals[-1] == primary.answer()
        await call.hang_up()


class Microphone(AudioInput):
    """The caller's audio as the room would hand it to the session."""

    def __init__(self) -> None:
        super().__init__(label="caller")
        self.frames = aio.Chan[rtc.AudioFrame]()

    async def __anext__(self) -> rtc.AudioFrame:
        return await self.frames.recv()


@pytest.mark.parametrize(("stages", "failure"), [("openai", "error"), ("deepgram", "hang"), ("deepgram", "drop")])
async def test_a_session_hears_its_caller_through_the_fallback_then_the_primary_again(
    stages: str, failure: str, primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    """The same as above through a real AgentSession: what the session took the caller to have said."""
    from livekit.plugins import silero

    from agent.outage_clips import clip_frames

    adapter = (transcribers if stages == "openai" else deepgram_then_openai)(primary, fallback)
    primary_available: list[bool] = []
    adapter.on("stt_availability_changed", lambda event: primary_available.append(event.available))
    microphone = Microphone()
    heard: list[str] = []

    async def say() -> None:
        async for frame in clip_frames("transfer"):
            microphone.frames.send_nowait(frame)
        for _ in range(60):
            microphone.frames.send_nowait(rtc.AudioFrame(bytes(640), 16000, 1, 320))

    async def utterance() -> str:
        before = len(heard)
        await say()
        await until(lambda: len(heard) > before)
        return heard[-1]

    session = AgentSession(stt=adapter, vad=silero.VAD.load(), conn_options=connect_options(SETTINGS_FOR_TESTS))
    async with adapter, session, asyncio.timeout(60):
        session.input.audio = microphone
        session.on("user_input_transcribed", lambda event: event.is_final and heard.append(event.transcript))
        await session.start(Agent(instructions="You are a hospital receptionist."))
        assert await utterance() == primary.answer()
        await fail(primary, failure)
        await say()  # may be lost with the primary
        await until(lambda: primary_available == [False])
        assert await utterance() == fallback.answer()
        await come_back(primary, failure)
        deadline = time.monotonic() + 10.0
        while await utterance() != primary.answer() and time.monotonic() < deadline:
            pass
        assert heard[-1] == primary.answer(), "the same call hears the caller through the primary again"


async def test_a_healthy_primary_keeps_one_transcription_stream_for_the_whole_call(
    primary: ProviderStandIn, fallback: ProviderStandIn
) -> None:
    adapter = transcribers(primary, fallback)
    opened: list[object] = []
    library_stream = adapter.fallback_stream

    def counted(**options: object) -> object:
        opened.append(library_stream(**options))
        return opened[-1]

    adapter.fallback_stream = counted
    async with adapter, asyncio.timeout(30):
        call = CallAudio(adapter)
        for _ in range(3):
            assert await call.heard() == primary.answer()
        await call.end()
    assert len(opened) == 1
    assert not fallback.requests


# -- metrics -----------------------------------------------------------------------------------------------------


async def test_fallbacks_and_recoveries_are_counted(primary: ProviderStandIn, fallback: ProviderStandIn) -> None:
    from livekit.plugins import silero

    settings = load(
        **SETTINGS,
        provider_attempt_timeout=ATTEMPT_TIMEOUT,
        cartesia_base_url=primary.url,
        openai_base_url=f"{fallback.url}/v1",
        deepgram_base_url=primary.url,
    )
    providers: Providers = build_providers(settings, vad=silero.VAD.load())
    recorded: list[str] = []
    providers.watch(lambda name, value: recorded.append(f"{name} {value:g}"))
    announced: list[bool] = []
    providers.tts.on("tts_availability_changed", lambda event: announced.append(event.available))
    async with providers.tts:
        primary.mode = "error"
        assert await speak(providers.tts, "Hello.") > 0.2
        assert recorded == [f"{FALLBACK_METRIC} 1"]
        primary.mode = "ok"
        await until_recovered(lambda: speak(providers.tts, "Still there?"), announced)
        assert recorded == [f"{FALLBACK_METRIC} 1", f"{RECOVERY_METRIC} 1"]

"""Every text-to-speech provider down: the caller hears the pre-rendered apology, then a transfer, a callback or
an invitation to call again, and the call ends. Real Cartesia and OpenAI plugins behind our FallbackAdapter,
both refused on loopback; the session's audio goes to a sink that keeps what it was given."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.agents.utils import http_context
from livekit.agents.voice import io
from livekit.plugins import cartesia, openai

from agent.call import CallConfig, CallState
from agent.outage_clips import CLIP_TEXTS, SAMPLE_RATE, clip_path
from agent.providers import connect_options, tts_fallback
from agent.settings import load
from agent.speech_outage import CALLBACK_CALLER_NAME, OUTAGE_METRIC, SpeechOutage
from devtools.testing.provider_stand_ins import free_port
from tests.agent.conftest import DESK_OPEN
from tests.agent.test_worker import SETTINGS

FRONT_DESK = "+15550100200"
CALLER = "+15550123456"
BOUND = 10.0  # seconds a whole outage may take here (the clips are pushed faster than real time)


class CapturedAudio(io.AudioOutput):
    """An audio sink that plays instantly and keeps the seconds it was given."""

    def __init__(self) -> None:
        super().__init__(label="captured", capabilities=io.AudioOutputCapabilities(pause=False))
        self.seconds = 0.0
        self._segment = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        if self._segment == 0.0:
            self.on_playback_started(created_at=time.time())
        await super().capture_frame(frame)
        self._segment += frame.duration
        self.seconds += frame.duration

    def flush(self) -> None:
        super().flush()
        self.on_playback_finished(playback_position=self._segment, interrupted=False)
        self._segment = 0.0

    def clear_buffer(self) -> None:
        if self._segment:
            self.on_playback_finished(playback_position=self._segment, interrupted=True)
            self._segment = 0.0


@dataclass
class FrontDesk:
    """The hospital's side: callback requests written, transfers asked for."""

    database_up: bool = True
    transfer_works: bool = True
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)

    async def add_callback_request(self, actor: object, **request: Any) -> int:
        if not self.database_up:
            raise ConnectionRefusedError("database down")
        self.callbacks.append(request)
        return len(self.callbacks)

    async def transfer(self, number: str) -> None:
        self.transfers.append(number)
        if not self.transfer_works:
            raise RuntimeError("SIP REFER refused")


def clip_seconds(*names: str) -> float:
    total = 0.0
    for name in names:
        with wave.open(str(clip_path(name)), "rb") as clip:
            total += clip.getnframes() / clip.getframerate()
    return total


@pytest.fixture
async def dead_voices() -> AsyncIterator[Any]:
    async with http_context.open():
        port = free_port()  # nothing listens: both providers refuse
        adapter = tts_fallback(
            [
                cartesia.TTS(api_key=SETTINGS["cartesia_api_key"], base_url=f"http://127.0.0.1:{port}"),
                openai.TTS(
                    api_key=SETTINGS["openai_api_key"], base_url=f"http://127.0.0.1:{port}/v1", response_format="pcm"
                ),
            ]
        )
        async with adapter:
            yield adapter


async def outage(
    dead_voices: Any, desk: FrontDesk, *, can_transfer: bool, number: str | None, at: datetime = DESK_OPEN
) -> tuple[str, Any]:
    config = CallConfig(
        hospital_name="Riverside General Hospital",
        zone=ZoneInfo("America/New_York"),
        emergency_number="911",
        transfer_number=FRONT_DESK if can_transfer else None,
    )
    state = CallState(
        hospital=desk,
        config=config,
        transfer=desk.transfer if can_transfer else None,
        caller_id=number,
        clock=lambda: at,
    )
    audio = CapturedAudio()
    recorded: list[str] = []
    settings = load(**SETTINGS, provider_attempt_timeout=0.5)
    session = AgentSession[CallState](tts=dead_voices, userdata=state, conn_options=connect_options(settings))
    session.output.audio = audio
    closed = asyncio.Event()
    session.on("close", lambda _event: closed.set())
    watcher = SpeechOutage(session, state=state, record=lambda name, _: recorded.append(name))
    watcher.watch()
    failed = asyncio.Event()
    session.on("error", lambda _event: failed.set())  # runs after the watcher's own handler
    async with asyncio.timeout(BOUND):
        await session.start(Agent(instructions="You are a hospital receptionist."))
        session.say("Hello, Riverside General Hospital, how can I help?")
        await failed.wait()
        assert watcher.task is not None
        done = await watcher.task
        await closed.wait()
    assert recorded == [OUTAGE_METRIC]
    return done, (audio, state)


async def test_with_a_front_desk_the_caller_hears_the_apology_and_is_put_through(dead_voices: Any) -> None:
    desk = FrontDesk()
    done, (audio, state) = await outage(dead_voices, desk, can_transfer=True, number=CALLER)
    assert done == "transferred"
    assert desk.transfers == [FRONT_DESK]
    assert not desk.callbacks
    assert audio.seconds == pytest.approx(clip_seconds("transfer"), abs=0.1)
    assert state.outcome == "handed_off"


async def test_a_failed_transfer_becomes_a_callback_to_the_callers_number(dead_voices: Any) -> None:
    desk = FrontDesk(transfer_works=False)
    done, (audio, _state) = await outage(dead_voices, desk, can_transfer=True, number=CALLER)
    assert done == "callback"
    assert desk.transfers == [FRONT_DESK]
    (callback,) = desk.callbacks
    assert callback["callback_phone"] == CALLER
    assert callback["caller_name"] == CALLBACK_CALLER_NAME
    assert audio.seconds == pytest.approx(clip_seconds("transfer", "callback"), abs=0.1)


async def test_without_a_transfer_a_phone_caller_gets_a_callback(dead_voices: Any) -> None:
    desk = FrontDesk()
    done, (audio, state) = await outage(dead_voices, desk, can_transfer=False, number=CALLER)
    assert done == "callback"
    assert [c["callback_phone"] for c in desk.callbacks] == [CALLER]
    assert audio.seconds == pytest.approx(clip_seconds("callback"), abs=0.1)
    assert state.outcome == "handed_off"


async def test_outside_the_front_desks_hours_a_phone_caller_gets_a_callback(dead_voices: Any) -> None:
    saturday = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # 10:00 in New York: nobody at the front desk
    desk = FrontDesk()
    done, (audio, _state) = await outage(dead_voices, desk, can_transfer=True, number=CALLER, at=saturday)
    assert done == "callback"
    assert desk.transfers == []
    assert [c["callback_phone"] for c in desk.callbacks] == [CALLER]
    assert audio.seconds == pytest.approx(clip_seconds("callback"), abs=0.1)


@pytest.mark.parametrize("case", ["web caller", "database down"])
async def test_with_no_way_back_the_caller_is_asked_to_call_again(case: str, dead_voices: Any) -> None:
    desk = FrontDesk(database_up=case != "database down")
    number = None if case == "web caller" else CALLER
    done, (audio, state) = await outage(dead_voices, desk, can_transfer=False, number=number)
    assert done == "call_again"
    assert not desk.callbacks
    assert audio.seconds == pytest.approx(clip_seconds("call_again"), abs=0.1)
    assert state.outcome == "error"


def test_every_clip_is_rendered_from_its_current_text_as_16_bit_mono() -> None:
    for name in CLIP_TEXTS:
        with wave.open(str(clip_path(name)), "rb") as clip:
            assert (clip.getsampwidth(), clip.getnchannels(), clip.getframerate()) == (2, 1, SAMPLE_RATE), name
            assert 2.0 < clip.getnframes() / clip.getframerate() < 15.0, name
    stale = {path.name for path in clip_path("transfer").parent.glob("*.wav")} - {
        clip_path(name).name for name in CLIP_TEXTS
    }
    assert not stale, f"clips no text names (re-render with python -m agent.outage_clips): {stale}"

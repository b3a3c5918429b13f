"""Silero VAD (the model the worker prewarms) on real synthesized speech: it finds the speech, and nothing in
silence. The audio is made by the test with espeak-ng and resampled to 16 kHz with sox."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc
from livekit.agents.vad import VADEventType
from livekit.plugins import silero

from devtools.testing.postgres import require_os_package

SAMPLE_RATE = 16_000
FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms frames, as a room delivers them


@pytest.fixture(scope="module")
def vad():
    return silero.VAD.load()


@pytest.fixture(scope="module")
def speech_samples(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    require_os_package(bool(shutil.which("espeak-ng") and shutil.which("sox")), "Debian packages 'espeak-ng' and 'sox'")
    folder = tmp_path_factory.mktemp("speech")
    raw, resampled = folder / "speech.wav", folder / "speech16k.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(raw), "Hello, I would like to book an appointment with Doctor Patel next Tuesday."],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(resampled)],
        check=True,
        capture_output=True,
    )
    return read_wav(resampled)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)


async def vad_events(vad, samples: np.ndarray) -> list:
    stream = vad.stream()
    for start in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        chunk = samples[start : start + FRAME_SAMPLES]
        stream.push_frame(
            rtc.AudioFrame(
                data=chunk.tobytes(), sample_rate=SAMPLE_RATE, num_channels=1, samples_per_channel=FRAME_SAMPLES
            )
        )
    stream.end_input()
    events = [event async for event in stream if event.type is not VADEventType.INFERENCE_DONE]
    await stream.aclose()
    return events


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(SAMPLE_RATE * seconds), dtype=np.int16)


async def test_finds_the_speech_in_synthesized_audio(vad, speech_samples: np.ndarray) -> None:
    audio = np.concatenate([silence(1.0), speech_samples, silence(1.5)])
    events = await vad_events(vad, audio)
    kinds = [event.type for event in events]
    assert kinds[0] is VADEventType.START_OF_SPEECH
    assert VADEventType.END_OF_SPEECH in kinds
    speech_seconds = len(speech_samples) / SAMPLE_RATE
    # Speech starts after the leading second of silence (samples_index counts at the 16 kHz inference rate).
    assert 0.8 * SAMPLE_RATE <= events[0].samples_index <= (1.0 + speech_seconds) * SAMPLE_RATE
    spoken = sum(event.speech_duration for event in events if event.type is VADEventType.END_OF_SPEECH)
    assert 0.5 * speech_seconds <= spoken <= speech_seconds + 1.0


async def test_nothing_in_silence(vad) -> None:
    events = await vad_events(vad, silence(3.0))
    assert [event.type for event in events] == []


async def test_nothing_in_quiet_noise(vad) -> None:
    noise = np.random.default_rng(7).normal(0, 30, SAMPLE_RATE * 3).astype(np.int16)  # a quiet line hiss
    events = await vad_events(vad, noise)
    assert VADEventType.START_OF_SPEECH not in [event.type for event in events]

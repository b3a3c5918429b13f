"""Silero VAD and end of turn on phone-quality speech. A phone line carries 8 kHz audio, band-limited to
300-3400 Hz and companded with G.711 mu-law; LiveKit's SIP bridge hands the room that audio (resampled for the
room), so the worker's VAD must find narrowband speech as it finds wideband speech, and end the turn after the
caller stops. The audio is made here: espeak-ng, then sox down to the telephone band, 8 kHz, mu-law and back,
with a little line hiss."""

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

PHONE_RATE = 8_000
ROOM_RATE = 16_000
UTTERANCE = "Hi, this is Maria Garcia, I need to move my appointment with Doctor Patel please."


def _phone_line(folder: Path, rate: int) -> np.ndarray:
    """Speech as it arrives from a phone call, delivered at `rate` (8 kHz as on the line, or resampled)."""
    require_os_package(bool(shutil.which("espeak-ng") and shutil.which("sox")), "Debian packages 'espeak-ng' and 'sox'")
    wide, narrow, delivered = folder / "wide.wav", folder / "line.ul", folder / f"delivered{rate}.wav"
    subprocess.run(["espeak-ng", "-w", str(wide), UTTERANCE], check=True, capture_output=True)
    # The telephone band, 8 kHz, G.711 mu-law: what the trunk carries.
    subprocess.run(
        [
            "sox",
            str(wide),
            "-r",
            str(PHONE_RATE),
            "-c",
            "1",
            "-e",
            "mu-law",
            "-t",
            "ul",
            str(narrow),
            "highpass",
            "300",
            "lowpass",
            "3400",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "sox",
            "-t",
            "ul",
            "-r",
            str(PHONE_RATE),
            "-c",
            "1",
            str(narrow),
            "-r",
            str(rate),
            "-e",
            "signed",
            "-b",
            "16",
            str(delivered),
        ],
        check=True,
        capture_output=True,
    )
    with wave.open(str(delivered)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (rate, 1, 2)
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)


def _hiss(rate: int, seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 40, int(rate * seconds)).astype(np.int16)


async def _events(vad: silero.VAD, samples: np.ndarray, rate: int) -> list:
    frame = rate // 50  # 20 ms frames, as telephony packets carry them
    stream = vad.stream()
    for start in range(0, len(samples) - frame + 1, frame):
        chunk = samples[start : start + frame]
        stream.push_frame(
            rtc.AudioFrame(data=chunk.tobytes(), sample_rate=rate, num_channels=1, samples_per_channel=frame)
        )
    stream.end_input()
    events = [event async for event in stream if event.type is not VADEventType.INFERENCE_DONE]
    await stream.aclose()
    return events


@pytest.mark.parametrize(("rate", "inference_rate"), [(PHONE_RATE, 8_000), (ROOM_RATE, 16_000)])
async def test_phone_speech_is_found_and_the_turn_ends_after_it(tmp_path: Path, rate: int, inference_rate: int) -> None:
    vad = silero.VAD.load(sample_rate=inference_rate)
    speech = _phone_line(tmp_path, rate)
    lead, tail = 1.0, 2.0
    line = np.concatenate([_hiss(rate, lead, 1), speech + _hiss(rate, len(speech) / rate, 2), _hiss(rate, tail, 3)])
    events = await _events(vad, line, rate)
    kinds = [event.type for event in events]
    assert kinds.count(VADEventType.START_OF_SPEECH) >= 1, kinds
    assert kinds[-1] is VADEventType.END_OF_SPEECH, "the turn never ended after the caller stopped"
    speech_seconds = len(speech) / rate
    spoken = sum(event.speech_duration for event in events if event.type is VADEventType.END_OF_SPEECH)
    assert 0.5 * speech_seconds <= spoken <= speech_seconds + 1.0
    # The last end of speech comes after the words and within the silence that VAD waits for, not seconds later.
    last_end_seconds = events[-1].samples_index / inference_rate
    assert lead + 0.5 * speech_seconds <= last_end_seconds <= lead + speech_seconds + vad.min_silence_duration + 0.6


async def test_line_hiss_alone_is_not_speech() -> None:
    vad = silero.VAD.load(sample_rate=PHONE_RATE)
    events = await _events(vad, _hiss(PHONE_RATE, 3.0, 4), PHONE_RATE)
    assert VADEventType.START_OF_SPEECH not in [event.type for event in events]

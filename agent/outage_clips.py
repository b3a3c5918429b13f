"""Pre-rendered speech for when every text-to-speech provider is down: the caller still hears us.

The clips are rendered by `python -m agent.outage_clips` (espeak-ng and sox, both offline) into agent/clips/,
committed, and copied into the image with the rest of agent/. Each file name carries a hash of its text, so a
changed text without a re-render fails loudly (tests/agent/test_speech_outage.py) instead of playing old words.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from livekit import rtc

CLIPS_DIR = Path(__file__).with_name("clips")
SAMPLE_RATE = 16_000
FRAME_MS = 20

_SORRY = "I'm sorry, I'm having trouble speaking right now."
_EMERGENCY = "If this is an emergency, hang up and call emergency services."
CLIP_TEXTS: dict[str, str] = {
    "transfer": f"{_SORRY} I'm putting you through to the front desk. Please hold.",
    "callback": f"{_SORRY} The front desk will call you back on this number as soon as they can. {_EMERGENCY} Goodbye.",
    "call_again": f"{_SORRY} Please call us again in a few minutes. {_EMERGENCY} Goodbye.",
}


def clip_path(name: str) -> Path:
    digest = hashlib.sha256(CLIP_TEXTS[name].encode()).hexdigest()[:10]
    return CLIPS_DIR / f"{name}-{digest}.wav"


async def clip_frames(name: str) -> AsyncIterator[rtc.AudioFrame]:
    """The clip as 20 ms frames of 16-bit mono audio, for `session.say(..., audio=...)`."""
    with wave.open(str(clip_path(name)), "rb") as clip:
        rate, width, channels = clip.getframerate(), clip.getsampwidth(), clip.getnchannels()
        if (width, channels) != (2, 1):
            raise ValueError(f"{clip_path(name).name}: expected 16-bit mono audio")
        per_frame = rate * FRAME_MS // 1000
        while data := clip.readframes(per_frame):
            yield rtc.AudioFrame(data, sample_rate=rate, num_channels=1, samples_per_channel=len(data) // 2)


def render(name: str, target: Path) -> None:
    """Speak the clip's text with espeak-ng, then sox makes it 16 kHz 16-bit mono, normalised to -3 dBFS."""
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(raw), CLIP_TEXTS[name]], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(target), "norm", "-3"], check=True
        )


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m agent.outage_clips", description="Render the speech-outage clips into agent/clips/."
    ).parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"needs {' and '.join(missing)} (apt-get install espeak-ng sox)", file=sys.stderr)
        return 2
    for old in CLIPS_DIR.glob("*.wav"):
        old.unlink()
    for name in CLIP_TEXTS:
        render(name, clip_path(name))
        print(clip_path(name).relative_to(CLIPS_DIR.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())

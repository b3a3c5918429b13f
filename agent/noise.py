"""LiveKit's enhanced noise cancellation of the caller's audio, before the VAD, the turn detector and speech to text.

Krisp's models (livekit-plugins-noise-cancellation) run inside the worker, but only for a LiveKit Cloud project:
https://docs.livekit.io/home/cloud/noise-cancellation/. A phone caller gets the telephony model (BVCTelephony,
trained on narrowband SIP audio), anyone else the wideband one (BVC): LiveKit's pattern for SIP and WebRTC
participants in one agent. BVC rather than NC: it also removes voices behind the caller's, which would otherwise
be transcribed as theirs. `NOISE_CANCELLATION` (agent/settings.py) turns it on and off.
"""

from __future__ import annotations

from livekit import rtc
from livekit.agents.voice import room_io
from livekit.agents.voice.room_io.types import NoiseCancellationParams
from livekit.plugins import noise_cancellation

from agent.settings import Settings


def filter_for(params: NoiseCancellationParams) -> rtc.NoiseCancellationOptions:
    if params.participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        return noise_cancellation.BVCTelephony()
    return noise_cancellation.BVC()


def room_options(settings: Settings) -> room_io.RoomOptions:
    """The session's room options: the caller's audio through `filter_for` when noise cancellation is on."""
    if not settings.noise_cancellation_enabled:
        return room_io.RoomOptions()
    # Gain control off, as LiveKit sets it for a filter given directly: the models expect the caller's raw level.
    audio = room_io.AudioInputOptions(noise_cancellation=filter_for, auto_gain_control=False)
    return room_io.RoomOptions(audio_input=audio)

"""Noise cancellation of the caller's audio (agent/noise.py): the telephony model for a phone caller, the wideband
model for anyone else, none when it is off; on by default only against LiveKit Cloud, where it runs.

There is no LiveKit server here: these check what the worker hands LiveKit's room input, not the filtered audio."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from livekit import rtc
from livekit.agents.voice.room_io.types import NoiseCancellationParams
from livekit.plugins import noise_cancellation

from agent.noise import room_options
from agent.settings import Settings, SettingsError, load
from tests.agent.test_worker import SETTINGS

CLOUD = "wss://hospital-a1b2c3.livekit.cloud"
SELF_HOSTED = "wss://livekit.hospital.example"


def settings(**overrides: object) -> Settings:
    return load(**{**SETTINGS, **overrides})


def chosen_for(kind: rtc.ParticipantKind.ValueType, **overrides: object) -> rtc.NoiseCancellationOptions | None:
    """The filter the worker's room input would put on the audio track of a participant of this kind."""
    audio = room_options(settings(**overrides)).audio_input
    if not audio or audio.noise_cancellation is None:
        return None
    participant = SimpleNamespace(kind=kind, identity="caller")
    return audio.noise_cancellation(NoiseCancellationParams(participant=participant, track=None))


def test_a_phone_caller_gets_the_telephony_model_and_a_browser_caller_the_wideband_one() -> None:
    telephony, wideband = noise_cancellation.BVCTelephony(), noise_cancellation.BVC()
    assert telephony != wideband
    assert chosen_for(rtc.ParticipantKind.PARTICIPANT_KIND_SIP, livekit_url=CLOUD) == telephony
    assert chosen_for(rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD, livekit_url=CLOUD) == wideband


def test_noise_cancellation_keeps_the_callers_raw_level_for_its_model() -> None:
    audio = room_options(settings(livekit_url=CLOUD)).audio_input
    assert audio.auto_gain_control is False


@pytest.mark.parametrize(
    ("livekit_url", "setting"), [(SELF_HOSTED, "auto"), ("ws://127.0.0.1:7880", "auto"), (CLOUD, "off")]
)
def test_no_filter_where_it_does_not_run_or_is_turned_off(livekit_url: str, setting: str) -> None:
    for kind in (rtc.ParticipantKind.PARTICIPANT_KIND_SIP, rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD):
        assert chosen_for(kind, livekit_url=livekit_url, noise_cancellation=setting) is None


def test_on_by_default_against_livekit_cloud() -> None:
    assert settings(livekit_url=CLOUD).noise_cancellation_enabled is True
    assert settings(livekit_url=SELF_HOSTED).noise_cancellation_enabled is False
    assert settings(livekit_url=SELF_HOSTED, noise_cancellation="off").noise_cancellation_enabled is False


def test_turned_on_against_a_server_that_is_not_livekit_cloud_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError) as refused:
        settings(livekit_url=SELF_HOSTED, noise_cancellation="on")
    assert "NOISE_CANCELLATION: runs only on LiveKit Cloud" in str(refused.value)
    assert settings(livekit_url=CLOUD, noise_cancellation="on").noise_cancellation_enabled is True

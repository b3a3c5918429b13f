"""The call's speech and model providers, each behind a fallback, so one vendor's bad hour doesn't silence the line.

- speech to text: Deepgram (streaming), then OpenAI transcription (`STT_FALLBACK_MODEL`, one request per
  utterance, cut by the VAD);
- the model: `LLM_MODEL`, then `LLM_FALLBACK_MODEL` (both OpenAI Chat Completions);
- text to speech: Cartesia, then OpenAI speech (`TTS_FALLBACK_MODEL`, `TTS_FALLBACK_VOICE`).

LiveKit's FallbackAdapter (livekit-agents 1.8: livekit/agents/{stt,llm,tts}/fallback_adapter.py) sends each
request to the first available provider; one that refuses, errs or is silent for `PROVIDER_ATTEMPT_TIMEOUT`
seconds is marked unavailable and the same request goes to the next one. A background probe re-tries the
failed provider, and once it answers it is first again (for speech to text, whose stream lasts the whole call,
from the next utterance on: agent/stt_recovery.py; Deepgram's stream also fails once Deepgram stops answering:
agent/deepgram_stt.py). No provider retries itself before falling back: a
retry costs the caller another attempt timeout of silence. A model reply that fails after words were already
spoken is not re-asked from the fallback (it would repeat them, and could run a tool call twice): that turn
ends short and the next one goes to the fallback (docs/latency.md, "When a provider fails").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livekit.agents import APIConnectOptions, llm, stt, tts
from livekit.agents.voice.agent_session import SessionConnectOptions
from livekit.plugins import cartesia, openai

from agent.deepgram_stt import WatchedDeepgramSTT
from agent.settings import Settings
from agent.stt_recovery import ReturningSTTFallback

logger = logging.getLogger("agent.providers")

# The metric each availability change counts (agent/metrics.py; alarmed in infra/monitoring.py).
FALLBACK_METRIC = "ProviderFallbacks"
RECOVERY_METRIC = "ProviderRecoveries"


def stt_fallback(instances: list[stt.STT], settings: Settings, *, vad: Any) -> ReturningSTTFallback:
    """Our fallback options over speech-to-text providers, first is preferred (the VAD cuts the utterances of
    the ones that only transcribe whole recordings); the call's stream returns to the first once it recovers."""
    return ReturningSTTFallback(
        instances, vad=vad, attempt_timeout=settings.provider_attempt_timeout, max_retry_per_stt=0
    )


def llm_fallback(instances: list[llm.LLM], settings: Settings) -> llm.FallbackAdapter:
    return llm.FallbackAdapter(
        instances, attempt_timeout=settings.provider_attempt_timeout, max_retry_per_llm=0, retry_on_chunk_sent=False
    )


def tts_fallback(instances: list[tts.TTS]) -> tts.FallbackAdapter:
    """Each attempt is bounded by the session's TTS request timeout (`connect_options`): this adapter has none."""
    return tts.FallbackAdapter(instances, max_retry_per_tts=0)


def build_stt(settings: Settings, *, vad: Any) -> ReturningSTTFallback:
    deepgram_stt = WatchedDeepgramSTT(  # a Deepgram that stops answering fails like one that refuses
        model=settings.stt_model,
        language=settings.stt_language,
        api_key=settings.deepgram_api_key.get_secret_value(),
        base_url=settings.deepgram_base_url.rstrip("/") + "/v1/listen",
    )
    openai_stt = openai.STT(
        model=settings.stt_fallback_model,
        # OpenAI takes the bare ISO 639-1 code ("en"), Deepgram a locale ("en-US").
        language=settings.stt_language.split("-")[0],
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        use_realtime=False,
    )
    return stt_fallback([deepgram_stt, openai_stt], settings, vad=vad)


def build_llm(settings: Settings) -> llm.FallbackAdapter:
    def model(name: str) -> openai.LLM:
        return openai.LLM(
            model=name, api_key=settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url
        )

    return llm_fallback([model(settings.llm_model), model(settings.llm_fallback_model)], settings)


def build_tts(settings: Settings) -> tts.FallbackAdapter:
    cartesia_tts = cartesia.TTS(
        model=settings.tts_model,
        voice=settings.tts_voice,
        api_key=settings.cartesia_api_key.get_secret_value(),
        base_url=settings.cartesia_base_url,
    )
    openai_tts = openai.TTS(
        model=settings.tts_fallback_model,
        voice=settings.tts_fallback_voice,
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        response_format="pcm",  # raw 24 kHz samples: no decoding before the first one plays
    )
    return tts_fallback([cartesia_tts, openai_tts])


def connect_options(settings: Settings) -> SessionConnectOptions:
    """The session's per-request options. Text to speech has no attempt timeout of its own in its
    FallbackAdapter: each attempt is bounded by the request timeout given here."""
    attempt = APIConnectOptions(max_retry=0, timeout=settings.provider_attempt_timeout)
    return SessionConnectOptions(stt_conn_options=attempt, llm_conn_options=attempt, tts_conn_options=attempt)


@dataclass(frozen=True)
class Providers:
    stt: stt.FallbackAdapter
    llm: llm.FallbackAdapter
    tts: tts.FallbackAdapter

    def watch(self, record: Callable[[str, float], None]) -> None:
        """Log every provider that goes down or comes back, and count it as a metric."""

        def changed(kind: str, instance: Any, available: bool) -> None:
            record(RECOVERY_METRIC if available else FALLBACK_METRIC, 1)
            logger.log(
                logging.INFO if available else logging.WARNING,
                "%s provider %s %s",
                kind,
                instance.label,
                "recovered" if available else "failed; using its fallback",
                extra={"event": "provider_recovered" if available else "provider_failed", "provider": instance.label},
            )

        self.stt.on("stt_availability_changed", lambda event: changed("stt", event.stt, event.available))
        self.llm.on("llm_availability_changed", lambda event: changed("llm", event.llm, event.available))
        self.tts.on("tts_availability_changed", lambda event: changed("tts", event.tts, event.available))


def build_providers(settings: Settings, *, vad: Any) -> Providers:
    return Providers(stt=build_stt(settings, vad=vad), llm=build_llm(settings), tts=build_tts(settings))

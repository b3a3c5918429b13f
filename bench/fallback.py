"""What a provider failure adds to a turn: time to the first token (model) or first audio (speech) through our
FallbackAdapters (agent/providers.py) when the primary fails fast (HTTP 500, refused connection) or by timeout
(it never answers), beside the same request with a healthy primary, measured in the same run.

Real LiveKit plugins against loopback stand-ins (devtools/testing/provider_stand_ins.py); each trial builds a fresh
adapter, so every trial meets a primary still believed available, as the first failing turn of a call does.
The attempt timeout is shortened to BENCH_ATTEMPT_TIMEOUT so the run stays short; the figures are given as a
ratio to it, which is what carries over to the configured PROVIDER_ATTEMPT_TIMEOUT.

Goals: failing fast adds at most 0.1 of the attempt timeout; failing by timeout adds at most 1.2 of it (the
timeout itself, plus the fallback's own request). `python -m bench.fallback` runs it alone.
"""

# ruff: noqa: PLC0415 - livekit and the plugins are imported inside the functions that measure them

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

BENCH_ATTEMPT_TIMEOUT = 0.5
TRIALS = 8
GOAL_FAST_RATIO = 0.1
GOAL_TIMEOUT_RATIO = 1.2
FAILURES = ("healthy", "error", "refused", "hang")


# Made-up settings: the bench talks to loopback stand-ins only.
SETTINGS = {
    "database_url": "postgresql://app@127.0.0.1:9/hospital",
    "livekit_url": "ws://127.0.0.1:9",
    "livekit_api_key": "lk-bench-key",  # pragma: allowlist secret
    "livekit_api_secret": "lk-bench-secret",  # pragma: allowlist secret
    "deepgram_api_key": "dg-bench",  # pragma: allowlist secret
    "openai_api_key": "sk-bench",  # pragma: allowlist secret
    "cartesia_api_key": "ca-bench",  # pragma: allowlist secret
}


def _settings() -> Any:
    from agent.settings import load

    return load(**SETTINGS, provider_attempt_timeout=BENCH_ATTEMPT_TIMEOUT)


async def _first_token(primary: Any, fallback: Any) -> float:
    from livekit.agents import llm
    from livekit.plugins import openai

    from agent.providers import llm_fallback

    settings = _settings()
    key = settings.openai_api_key.get_secret_value()
    adapter = llm_fallback(
        [
            openai.LLM(model="primary-model", api_key=key, base_url=f"{primary.url}/v1"),
            openai.LLM(model="fallback-model", api_key=key, base_url=f"{fallback.url}/v1"),
        ],
        settings,
    )
    chat = llm.ChatContext.empty()
    chat.add_message(role="user", content="Hello?")
    async with adapter:
        started = time.perf_counter()
        async with adapter.chat(chat_ctx=chat) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    return time.perf_counter() - started
    raise RuntimeError("no token")


async def _first_audio(primary: Any, fallback: Any) -> float:
    from livekit.plugins import cartesia, openai

    from agent.providers import connect_options, tts_fallback

    settings = _settings()
    adapter = tts_fallback(
        [
            cartesia.TTS(api_key=settings.cartesia_api_key.get_secret_value(), base_url=primary.url),
            openai.TTS(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=f"{fallback.url}/v1",
                response_format="pcm",
            ),
        ]
    )
    async with adapter:
        started = time.perf_counter()
        stream = adapter.stream(conn_options=connect_options(settings).tts_conn_options)
        async with stream:
            stream.push_text("Hello, how can I help?")
            stream.end_input()
            async for _audio in stream:
                return time.perf_counter() - started
    raise RuntimeError("no audio")


async def _measure(first: Callable[[Any, Any], Awaitable[float]]) -> dict[str, list[float]]:
    from livekit.agents.utils import http_context

    from devtools.testing.provider_stand_ins import ProviderStandIn

    times: dict[str, list[float]] = {failure: [] for failure in FAILURES}
    async with http_context.open():
        for _ in range(TRIALS):
            for failure in FAILURES:
                primary, fallback = ProviderStandIn("primary"), ProviderStandIn("fallback")
                await fallback.start()
                if failure != "refused":
                    await primary.start()
                    primary.mode = "ok" if failure == "healthy" else failure  # type: ignore[assignment]
                try:
                    times[failure].append(await first(primary, fallback))
                finally:
                    await primary.stop()
                    await fallback.stop()
    return times


def _report(stage: str, times: dict[str, list[float]]) -> bool:
    healthy = statistics.median(times["healthy"])
    print(f"{stage}: healthy primary, first output p50 {1000 * healthy:.1f} ms (n={TRIALS})")
    met = True
    for failure in ("error", "refused", "hang"):
        added = statistics.median(times[failure]) - healthy
        ratio = added / BENCH_ATTEMPT_TIMEOUT
        goal = GOAL_TIMEOUT_RATIO if failure == "hang" else GOAL_FAST_RATIO
        met &= ratio <= goal
        kind = "by timeout" if failure == "hang" else f"fast ({failure})"
        print(
            f"  primary failing {kind:16s} adds p50 {1000 * added:7.1f} ms = {ratio:4.2f} x attempt timeout "
            f"(goal <= {goal}): {'met' if ratio <= goal else 'NOT MET'}"
        )
    return met


def main() -> int:
    # Every failure here is deliberate: the plugins' warnings and tracebacks about it would bury the figures.
    for noisy in ("livekit", "asyncio", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    print(f"== provider fallback switch (attempt timeout {BENCH_ATTEMPT_TIMEOUT} s here) ==")
    met = _report("model (first token)", asyncio.run(_measure(_first_token)))
    met &= _report("speech (first audio)", asyncio.run(_measure(_first_audio)))
    print(f"goals: {'met' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

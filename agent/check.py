"""Start-up checks: is every service the receptionist needs reachable, and does it accept our keys?

`python -m agent check [--env NAME] [--env-file PATH]` prints one line per service and exits non-zero on any
failure; the worker runs the same checks (`preflight`) before it registers with LiveKit. All checks run at
once, each bounded by CHECK_TIMEOUT_SECONDS, and each uses the cheapest authenticated request of its service,
so a wrong key fails here rather than in a patient's first call.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from livekit import api

from agent.settings import Environment, Settings, SettingsError, load

CHECK_TIMEOUT_SECONDS = 3.0
# The API version livekit-plugins-cartesia 1.8.9 speaks (livekit/plugins/cartesia/constants.py).
CARTESIA_API_VERSION = "2025-04-16"

# The settings that name an OpenAI model: the chat model and the fallbacks of all three stages (agent/providers.py).
OPENAI_MODEL_SETTINGS = ("llm_model", "llm_fallback_model", "stt_fallback_model", "tts_fallback_model")

logger = logging.getLogger("agent.check")


class CheckFailed(Exception):
    """A service answered, but not as it should (wrong key, old schema...). The message is safe to print."""


@dataclass(frozen=True)
class CheckResult:
    service: str
    ok: bool
    duration_ms: float
    detail: str = ""

    def line(self) -> str:
        outcome = f"ok ({self.duration_ms:.0f} ms)" if self.ok else f"failed: {self.detail}"
        return f"{self.service:<9} {outcome}"


async def check_database(settings: Settings) -> None:
    from agent.db.migrations import all_migrations  # noqa: PLC0415 - yoyo is only needed here
    from agent.hospital.pool import create_pool  # noqa: PLC0415

    expected = [migration.id for migration in all_migrations()]
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        has_table = await pool.fetchval("SELECT to_regclass('public._yoyo_migration') IS NOT NULL")
        applied = set()
        if has_table:
            applied = {row["migration_id"] for row in await pool.fetch("SELECT migration_id FROM _yoyo_migration")}
    finally:
        await pool.close()
    pending = [migration for migration in expected if migration not in applied]
    if pending:
        raise CheckFailed(f"schema is not at the expected version: {len(pending)} pending ({', '.join(pending)})")


async def check_livekit(settings: Settings) -> None:
    # The server API speaks HTTP on the same host as the worker's WebSocket.
    url = settings.livekit_url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    async with api.LiveKitAPI(
        url,
        settings.livekit_api_key.get_secret_value(),
        settings.livekit_api_secret.get_secret_value(),
        timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_SECONDS),
        failover=False,  # a start-up check asks the configured region only
    ) as livekit:
        try:
            await livekit.room.list_rooms(api.ListRoomsRequest())
        except api.TwirpError as error:
            raise CheckFailed(f"LiveKit refused the request ({error.status} {error.code})") from None


async def _get(url: str, headers: dict[str, str]) -> Any:
    """The JSON answer of an authenticated GET (None when the body is not JSON)."""
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, headers=headers) as response:
        if response.status in (401, 403):
            raise CheckFailed(f"key rejected (HTTP {response.status})")
        if response.status >= 400:
            raise CheckFailed(f"HTTP {response.status}")
        if response.content_type != "application/json":
            return None
        return await response.json()


async def check_deepgram(settings: Settings) -> None:
    key = settings.deepgram_api_key.get_secret_value()
    await _get(f"{settings.deepgram_base_url.rstrip('/')}/v1/projects", {"Authorization": f"Token {key}"})


async def check_openai(settings: Settings) -> None:
    """The key is accepted, and it may use the chat model and every fallback that runs on OpenAI: a misspelt
    fallback would otherwise surface only during another provider's outage."""
    key = settings.openai_api_key.get_secret_value()
    listing = await _get(f"{settings.openai_base_url.rstrip('/')}/models", {"Authorization": f"Bearer {key}"})
    offered = {model.get("id") for model in (listing or {}).get("data", [])}
    missing = [
        f"{name.upper()}={getattr(settings, name)}"
        for name in OPENAI_MODEL_SETTINGS
        if getattr(settings, name) not in offered
    ]
    if missing:
        raise CheckFailed(f"model(s) this key cannot use: {', '.join(missing)}")


async def check_cartesia(settings: Settings) -> None:
    key = settings.cartesia_api_key.get_secret_value()
    headers = {"X-API-Key": key, "Cartesia-Version": CARTESIA_API_VERSION}
    await _get(f"{settings.cartesia_base_url.rstrip('/')}/voices", headers)


CHECKS: dict[str, Callable[[Settings], Awaitable[None]]] = {
    "database": check_database,
    "livekit": check_livekit,
    "deepgram": check_deepgram,
    "openai": check_openai,
    "cartesia": check_cartesia,
}


def _reason(error: BaseException) -> str:
    """Why a check failed, in words that carry no secret (never the raw request or URL with credentials)."""
    if isinstance(error, CheckFailed):
        return str(error)
    if isinstance(error, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    if isinstance(error, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return f"cannot connect ({error.strerror or type(error).__name__})"
    if isinstance(error, OSError) and error.strerror:
        return f"cannot connect ({error.strerror})"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _run_one(service: str, check: Callable[[Settings], Awaitable[None]], settings: Settings) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check(settings)
    except Exception as error:  # every failure becomes one line, none stops the other checks
        from agent.logs import redact  # noqa: PLC0415 - avoid an import cycle at module load

        return CheckResult(service, False, (time.perf_counter() - started) * 1000, redact(_reason(error)))
    return CheckResult(service, True, (time.perf_counter() - started) * 1000)


async def run_checks(settings: Settings) -> list[CheckResult]:
    return list(await asyncio.gather(*(_run_one(name, check, settings) for name, check in CHECKS.items())))


def preflight(settings: Settings) -> bool:
    """The worker's start-up check (call it before the event loop starts): logs one line per service and
    returns False if any failed. Inside a running loop, await `run_checks` instead."""
    results = asyncio.run(run_checks(settings))
    for result in results:
        logger.log(
            logging.INFO if result.ok else logging.ERROR,
            "start-up check %s: %s",
            result.service,
            "ok" if result.ok else result.detail,
            extra={"event": "startup_check", "service": result.service, "duration_ms": round(result.duration_ms, 1)},
        )
    return all(result.ok for result in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent check",
        description="Validate the configuration, then check the database, LiveKit, Deepgram, OpenAI and Cartesia.",
    )
    parser.add_argument(
        "--env",
        choices=[environment.value for environment in Environment],
        help="validate for this environment (overrides APP_ENV)",
    )
    parser.add_argument("--env-file", default=".env", help="file of variables to read besides the environment")
    args = parser.parse_args(argv)

    overrides: dict[str, object] = {"_env_file": args.env_file}
    if args.env:
        overrides["app_env"] = args.env
    try:
        settings = load(Settings, **overrides)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    results = asyncio.run(run_checks(settings))
    for result in results:
        print(result.line())
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())

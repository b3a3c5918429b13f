"""What one worker process tells operators: interaction logs and per-turn metrics, never what was said.

Wiring: the worker process calls `start_worker_telemetry(settings, health_url=...)` once, before LiveKit's
CLI takes over: its heartbeat, sent each minute while the worker's own health endpoint answers OK, is the
uptime signal, and it counts the worker's errors. Each job process (one per call) holds one
`Telemetry(settings)` and calls `observe(session, room=..., job_id=...)` once the AgentSession exists,
`tool_finished(...)` from every tool, `watch_pool(pool)` for the data layer's pool, and passes
`instrument_connection` as the pool's `init` to time queries; `aclose()` at shutdown sends what is buffered.

Agent processing latency (docs/latency.md) is what is ours on a turn's critical path: the time in our
`on_user_turn_completed` hook (LiveKit measures it) plus the time of our tools that finished between the end
of the user's turn and the first audio of the reply. Provider stages (end-of-turn detection, STT, LLM, TTS)
are published beside it, never inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import CloseEvent, ConversationItemAddedEvent, ErrorEvent

from agent.logs import bind_call, log_event
from agent.metrics import HEARTBEAT_SECONDS, MetricsPublisher
from agent.settings import Settings

POOL_SAMPLE_SECONDS = 15.0

# Stage metrics read off LiveKit's per-message MetricsReport (seconds there, milliseconds here).
_USER_STAGES = {"end_of_turn_delay": "EndOfTurnDelay", "transcription_delay": "TranscriptionDelay"}
_ASSISTANT_STAGES = {
    "e2e_latency": "TurnE2ELatency",
    "llm_node_ttft": "LLMTimeToFirstToken",
    "tts_node_ttfb": "TTSTimeToFirstByte",
}


@dataclass
class _Turn:
    """What is ours in the current user turn, until the reply's first audio."""

    hook_ms: float = 0.0
    tools: list[tuple[float, float]] = field(default_factory=list)  # (finished at, wall clock; duration ms)
    reported: bool = True  # nothing to report before the first user turn


class _ErrorCounter(logging.Handler):
    """Counts every ERROR record this process logs, whoever logged it (ours, LiveKit's, a plugin's).

    The worker process also prints the records of its job processes (LiveKit forwards them); those were
    counted in the job process already, so records created by another process are skipped.
    """

    def __init__(self, publisher: MetricsPublisher) -> None:
        super().__init__(logging.ERROR)
        self.publisher = publisher

    def emit(self, record: logging.LogRecord) -> None:
        if record.process == os.getpid():
            self.publisher.record("Errors", 1)


class Telemetry:
    def __init__(self, settings: Settings, *, publisher: MetricsPublisher | None = None):
        self.settings = settings
        self.publisher = publisher or MetricsPublisher(settings)
        self._error_counter = _ErrorCounter(self.publisher)
        self._turn = _Turn()
        self._call_started: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.publisher.start()
        root = logging.getLogger()
        if self._error_counter not in root.handlers:
            root.addHandler(self._error_counter)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        logging.getLogger().removeHandler(self._error_counter)
        await asyncio.to_thread(self.publisher.close)

    # -- calls and turns -------------------------------------------------------------------------------------

    def observe(self, session: AgentSession, *, room: str, job_id: str) -> None:
        """Log and measure this call: start and end, every user and agent turn, session errors."""
        bind_call(room=room, job_id=job_id, settings=self.settings)
        self._call_started = time.monotonic()
        self.publisher.record("Calls", 1)
        log_event("call_start")
        session.on("conversation_item_added", self._on_item)
        session.on("error", self._on_error)
        session.on("close", self._on_close)

    def _on_item(self, event: ConversationItemAddedEvent) -> None:
        item = event.item
        if not isinstance(item, ChatMessage):
            return
        if item.role == "user":
            self._user_turn(item)
        elif item.role == "assistant":
            self._agent_turn(item)

    def _user_turn(self, message: ChatMessage) -> None:
        metrics = message.metrics
        stages = self._record_stages(metrics, _USER_STAGES)
        self._turn = _Turn(hook_ms=1000 * metrics.get("on_user_turn_completed_delay", 0.0), reported=False)
        log_event("user_turn", **stages)

    def _agent_turn(self, message: ChatMessage) -> None:
        metrics = message.metrics
        stages = self._record_stages(metrics, _ASSISTANT_STAGES)
        self.publisher.record("Turns", 1)
        if "e2e_latency" in metrics and not self._turn.reported:
            first_audio = metrics.get("started_speaking_at", time.time())
            ours = self._turn.hook_ms + sum(ms for finished, ms in self._turn.tools if finished <= first_audio)
            self._turn.reported = True
            self.publisher.record("AgentProcessingLatency", ours)
            stages["agent_processing_ms"] = round(ours, 1)
        log_event("agent_turn", interrupted=message.interrupted, **stages)

    def _record_stages(self, metrics: Any, names: dict[str, str]) -> dict[str, float]:
        stages = {}
        for key, metric in names.items():
            seconds = metrics.get(key)
            if seconds is not None:
                self.publisher.record(metric, 1000 * seconds)
                stages[f"{key}_ms"] = round(1000 * seconds, 1)
        return stages

    def tool_finished(self, *, name: str, outcome: str, duration_ms: float) -> None:
        """Every tool reports here: its name, an outcome word (ok, not_found, slot_taken, error...) and time."""
        self.publisher.record("ToolLatency", duration_ms)
        if not self._turn.reported:
            self._turn.tools.append((time.time(), duration_ms))
        level = logging.ERROR if outcome == "error" else logging.INFO
        log_event("tool_call", level=level, duration_ms=duration_ms, tool=name, outcome=outcome)

    def _on_error(self, event: ErrorEvent) -> None:
        error = event.error
        recoverable = bool(getattr(error, "recoverable", False))
        inner = getattr(error, "error", error)
        log_event(
            "session_error",
            level=logging.WARNING if recoverable else logging.ERROR,
            error=None if recoverable or not isinstance(inner, BaseException) else inner,
            error_type=type(inner).__name__,
            source=type(event.source).__name__,
            recoverable=recoverable,
        )

    def _on_close(self, event: CloseEvent) -> None:
        duration_ms = None if self._call_started is None else 1000 * (time.monotonic() - self._call_started)
        fields: dict[str, Any] = {"reason": str(event.reason.value)}
        if event.error is not None:
            fields["error_type"] = type(getattr(event.error, "error", event.error)).__name__
        log_event("call_end", level=logging.ERROR if event.error else logging.INFO, duration_ms=duration_ms, **fields)

    # -- database ------------------------------------------------------------------------------------------

    def watch_pool(self, pool: asyncpg.Pool) -> None:
        """Sample the pool's in-use gauge every POOL_SAMPLE_SECONDS (call from the job's event loop)."""
        task = asyncio.get_running_loop().create_task(self._sample_pool(pool), name="telemetry-pool-gauge")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sample_pool(self, pool: asyncpg.Pool) -> None:
        while True:
            self.sample_pool(pool)
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    def sample_pool(self, pool: asyncpg.Pool) -> None:
        with contextlib.suppress(Exception):  # a closing pool has nothing to report
            in_use = pool.get_size() - pool.get_idle_size()
            self.publisher.record("PoolConnectionsInUse", in_use)
            self.publisher.record("PoolUsePercent", 100.0 * in_use / pool.get_max_size())

    async def instrument_connection(self, connection: asyncpg.Connection) -> None:
        """For `create_pool(settings, init=telemetry.instrument_connection)`: time every query on it."""
        connection.add_query_logger(self.query_finished)

    def query_finished(self, query: Any) -> None:
        """An asyncpg query logger: `connection.add_query_logger(telemetry.query_finished)` (e.g. in the
        pool's `init`) times every round trip as DatabaseLatency; the SQL text and arguments are not kept."""
        self.publisher.record("DatabaseLatency", 1000 * query.elapsed)


def _health_probe(url: str) -> Callable[[], bool]:
    def healthy() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a fixed loopback URL
                return response.status == 200
        except OSError:
            return False

    return healthy


def start_worker_telemetry(
    settings: Settings, *, health_url: str | None = None, heartbeat_seconds: float = HEARTBEAT_SECONDS
) -> MetricsPublisher:
    """The worker process's heartbeat and error counter, on a daemon thread that needs no event loop.

    With `health_url` (the worker's own `http://127.0.0.1:8081/`), a minute without an OK there sends no
    heartbeat, so the uptime alarm sees a worker that lost LiveKit as down.
    """
    publisher = MetricsPublisher(
        settings,
        heartbeat_seconds=heartbeat_seconds,
        healthy=_health_probe(health_url) if health_url else None,
    )
    logging.getLogger().addHandler(_ErrorCounter(publisher))
    publisher.start()
    return publisher

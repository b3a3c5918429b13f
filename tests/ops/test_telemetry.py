"""Telemetry: a call's events become log lines without words and metrics in CloudWatch (moto stand-in)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import asyncpg
import pytest
from aiohttp import web
from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import CloseEvent, CloseReason, ConversationItemAddedEvent, ErrorEvent

from agent import logs
from agent.telemetry import Telemetry, start_worker_telemetry
from tests.ops.standins import serve_in_thread
from tests.ops.test_metrics import metrics_settings, statistics

SAID = "my name is Jane Example, born 1961-04-12, phone 555 0100"


def _agent_lines(out: str) -> list[dict]:
    return [line for line in map(json.loads, out.splitlines()) if line["logger"] == "agent"]


def _message(role: str, **metrics: float) -> ConversationItemAddedEvent:
    return ConversationItemAddedEvent(item=ChatMessage(role=role, content=[SAID], metrics=metrics))


async def test_a_call_is_logged_and_measured_without_its_words(clean_env, moto_url, logging_restored, capsys):
    settings = metrics_settings(clean_env, moto_url)
    logs.configure_logging(settings)
    telemetry = Telemetry(settings)
    await telemetry.start()
    session = AgentSession()
    telemetry.observe(session, room="room-5", job_id="AJ_5")

    session.emit(
        "conversation_item_added",
        _message(
            "user",
            end_of_turn_delay=0.41,
            transcription_delay=0.22,
            on_user_turn_completed_delay=0.003,
        ),
    )
    telemetry.tool_finished(name="find_slots", outcome="ok", duration_ms=40.0)
    telemetry.tool_finished(name="book", outcome="error", duration_ms=7.0)
    first_audio = time.time() + 5  # both tools finished before the reply was heard
    session.emit(
        "conversation_item_added",
        _message(
            "assistant",
            e2e_latency=1.2,
            llm_node_ttft=0.35,
            tts_node_ttfb=0.12,
            started_speaking_at=first_audio,
        ),
    )
    # A second reply in the same turn: a turn, but not a second processing-latency sample.
    session.emit("conversation_item_added", _message("assistant", e2e_latency=2.0, started_speaking_at=first_audio))
    session.emit("close", CloseEvent(reason=CloseReason.PARTICIPANT_DISCONNECTED))
    await telemetry.aclose()

    out = capsys.readouterr().out
    lines = _agent_lines(out)
    events = [line["event"] for line in lines]
    assert events == ["call_start", "user_turn", "tool_call", "tool_call", "agent_turn", "agent_turn", "call_end"]
    assert all((line["room"], line["job_id"]) == ("room-5", "AJ_5") for line in lines)
    user_turn, agent_turn, call_end = lines[1], lines[4], lines[6]
    assert (user_turn["end_of_turn_delay_ms"], user_turn["transcription_delay_ms"]) == (410.0, 220.0)
    assert agent_turn["agent_processing_ms"] == 50.0
    assert agent_turn["e2e_latency_ms"] == 1200.0
    assert lines[3]["level"] == "ERROR"
    assert (lines[3]["tool"], lines[3]["outcome"], lines[3]["duration_ms"]) == ("book", "error", 7.0)
    assert call_end["reason"] == "participant_disconnected"
    assert call_end["duration_ms"] >= 0
    # Whole phrases: a bare "555" or "1961" can turn up in a timestamp's microseconds.
    for word in ("Jane", "Example", "1961-04-12", "555 0100"):
        assert word not in out

    namespace = settings.metrics_namespace
    expected = {
        "Calls": (1, 1),
        "Turns": (2, 2),
        "AgentProcessingLatency": (50.0, 1),
        "ToolLatency": (47.0, 2),
        "TurnE2ELatency": (3200.0, 2),
        "LLMTimeToFirstToken": (350.0, 1),
        "TTSTimeToFirstByte": (120.0, 1),
        "EndOfTurnDelay": (410.0, 1),
        "TranscriptionDelay": (220.0, 1),
        "Errors": (1, 1),
    }
    for name, (total, count) in expected.items():
        stats = statistics(moto_url, namespace, name)
        assert (stats["Sum"], stats["SampleCount"]) == (pytest.approx(total), count), name
    assert statistics(moto_url, namespace, "Heartbeat") == {}  # a job process sends no heartbeat


async def test_tools_after_the_first_audio_are_not_on_the_critical_path(clean_env, moto_url, logging_restored):
    settings = metrics_settings(clean_env, moto_url)
    telemetry = Telemetry(settings)
    session = AgentSession()
    telemetry.observe(session, room="r", job_id="j")
    session.emit("conversation_item_added", _message("user", on_user_turn_completed_delay=0.002))
    telemetry.tool_finished(name="find_doctor", outcome="ok", duration_ms=30.0)
    session.emit(
        "conversation_item_added", _message("assistant", e2e_latency=0.9, started_speaking_at=time.time() - 60)
    )
    await telemetry.aclose()
    stats = statistics(moto_url, settings.metrics_namespace, "AgentProcessingLatency")
    assert stats["Sum"] == pytest.approx(2.0)


async def test_session_errors_are_logged_by_kind_and_counted(clean_env, moto_url, logging_restored, capsys):
    settings = metrics_settings(clean_env, moto_url)
    logs.configure_logging(settings)
    telemetry = Telemetry(settings)
    await telemetry.start()
    session = AgentSession()
    telemetry.observe(session, room="r", job_id="j")
    try:
        raise TimeoutError("provider did not answer")  # raised, so it carries a stack trace like a real one
    except TimeoutError as error:
        session.emit("error", ErrorEvent(error=error, source=object()))
    await telemetry.aclose()
    (_, line) = _agent_lines(capsys.readouterr().out)
    assert (line["event"], line["error_type"], line["level"]) == ("session_error", "TimeoutError", "ERROR")
    assert "Traceback" in line["error_trace"]
    assert "TimeoutError: provider did not answer" in line["error_trace"]
    assert statistics(moto_url, settings.metrics_namespace, "Errors")["Sum"] == 1


async def test_pool_gauge_and_query_timing(clean_env, moto_url, empty_database):
    settings = metrics_settings(clean_env, moto_url)
    telemetry = Telemetry(settings)
    pool = await asyncpg.create_pool(empty_database, min_size=1, max_size=4, init=telemetry.instrument_connection)
    try:
        async with pool.acquire() as first, pool.acquire() as second, pool.acquire():
            await first.fetchval("SELECT 1")
            await second.fetchval("SELECT pg_sleep(0.02)")
            telemetry.sample_pool(pool)
        telemetry.watch_pool(pool)  # the background sampler takes its first sample at once: nothing in use
        await asyncio.sleep(0.05)
    finally:
        await pool.close()
    await telemetry.aclose()
    namespace = settings.metrics_namespace
    in_use = statistics(moto_url, namespace, "PoolConnectionsInUse", "Count")
    assert (in_use["Maximum"], in_use["Sum"], in_use["SampleCount"]) == (3, 3, 2)
    assert statistics(moto_url, namespace, "PoolUsePercent", "Percent")["Maximum"] == 75.0
    database = statistics(moto_url, namespace, "DatabaseLatency", "Milliseconds")
    assert database["SampleCount"] >= 2
    assert database["Maximum"] >= 20.0


def test_worker_heartbeat_follows_its_health_endpoint(clean_env, moto_url, logging_restored):
    """No OK from the worker's health endpoint, no heartbeat: uptime counts a worker cut off from LiveKit."""
    state = {"status": 200}

    async def health(_: web.Request) -> web.Response:
        return web.Response(status=state["status"], text="OK" if state["status"] == 200 else "down")

    healthy_settings, sick_settings = metrics_settings(clean_env, moto_url), metrics_settings(clean_env, moto_url)
    with serve_in_thread([web.get("/", health)]) as url:
        # The real interval is a minute; what is under test is the thread's loop and the probe.
        publisher = start_worker_telemetry(healthy_settings, health_url=url, heartbeat_seconds=0.1)
        time.sleep(0.55)
        publisher.close()
        state["status"] = 503
        publisher = start_worker_telemetry(sick_settings, health_url=url, heartbeat_seconds=0.1)
        time.sleep(0.55)
        publisher.close()
    assert 4 <= statistics(moto_url, healthy_settings.metrics_namespace, "Heartbeat", "Count")["SampleCount"] <= 7
    assert statistics(moto_url, sick_settings.metrics_namespace, "Heartbeat") == {}


async def test_errors_forwarded_from_a_job_process_are_not_counted_twice(clean_env, moto_url, logging_restored):
    settings = metrics_settings(clean_env, moto_url)
    telemetry = Telemetry(settings)
    await telemetry.start()
    log = logging.getLogger("livekit.agents")
    log.error("counted here")
    forwarded = log.makeRecord("livekit.agents", logging.ERROR, __file__, 1, "counted in its job process", (), None)
    forwarded.process = os.getpid() + 1
    log.handle(forwarded)
    await telemetry.aclose()
    assert statistics(moto_url, settings.metrics_namespace, "Errors")["Sum"] == 1

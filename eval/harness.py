"""Runs a scenario: the real Receptionist in a text-mode AgentSession on a real, seeded PostgreSQL, with whatever
model it is given; each reply with an intent judged by LiveKit's `judge()`, each check read from the database.

`judge()` (livekit-agents, voice/run_result.py `ChatMessageAssert.judge`) asks the judge model to call
`check_intent(success, reason)` and raises on a failed verdict; it returns the reason only inside that error, but
records verdict, reason and token use on its `judge_evaluation` span, which `JudgeSpans` keeps in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import asyncpg
from livekit.agents import AgentSession, APIError, ChatMessageEvent, RunResult, llm
from livekit.agents.metrics import LLMModelUsage
from livekit.agents.telemetry import set_tracer_provider, trace_types
from livekit.agents.voice.run_result import ChatMessageAssert
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from agent.call import CallConfig, CallState
from agent.hospital import PostgresHospital
from agent.hospital.pool import create_pool
from agent.receptionist import Receptionist
from agent.settings import DatabaseSettings, Settings
from eval.report import Finding, ScenarioReport
from eval.scenarios import Check, Scenario

TURN_TIMEOUT_SECONDS = 90.0


def _default(name: str) -> object:
    return Settings.model_fields[name].default


# The agent as `make dev` runs it with default settings (the seed is made for the same time zone).
CONFIG = CallConfig(
    hospital_name=str(_default("hospital_name")),
    zone=ZoneInfo(str(_default("hospital_timezone"))),
    emergency_number=str(_default("emergency_number")),
)
SLOT_MINUTES = int(_default("slot_minutes"))


class JudgeSpans(SpanProcessor):
    """Keeps the spans `judge()` ends, in memory only (nothing is exported)."""

    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if span.name == "judge_evaluation":
            self.ended.append(span)


@contextmanager
def judge_spans() -> Iterator[JudgeSpans]:
    """LiveKit's tracer records into `JudgeSpans` for the block, then goes back to the process's provider."""
    spans = JudgeSpans()
    provider = TracerProvider()
    provider.add_span_processor(spans)
    # The reason is a `lk.pii.*` attribute: kept here, as this provider exports nowhere.
    set_tracer_provider(provider, allow_pii=True)
    try:
        yield spans
    finally:
        set_tracer_provider(trace.get_tracer_provider())
        provider.shutdown()


def _reply_text(result: RunResult) -> str:
    """Everything the agent said in one caller turn."""
    return " ".join(
        (event.item.text_content or "").strip()
        for event in result.events
        if event.type == "message" and event.item.role == "assistant"
    ).strip()


async def _judge(result: RunResult, *, turn: int, intent: str, judge_llm: llm.LLM, spans: JudgeSpans) -> Finding:
    text = _reply_text(result)
    if not text:
        return Finding(turn, "judge", passed=False, reason="the agent said nothing")
    # The turn's replies as one message: a turn may be split around tool calls, and the judge reads the whole.
    reply = ChatMessageAssert(
        ChatMessageEvent(item=llm.ChatMessage(role="assistant", content=[text])), result.expect, len(result.events)
    )
    seen = len(spans.ended)
    try:
        await reply.judge(judge_llm, intent=intent)
        passed, failure = True, ""
    except AssertionError as error:
        passed, failure = False, str(error).splitlines()[0]
    attributes = spans.ended[seen].attributes if len(spans.ended) > seen else {}
    reason = str(attributes.get(trace_types.ATTR_FUNCTION_TOOL_OUTPUT) or failure)
    return Finding(turn, "judge", passed=passed, reason=" ".join(reason.split()))  # one line in the report


async def _check(pool: asyncpg.Pool, check: Check, turn: int) -> Finding:
    found = await pool.fetchval(check.query)
    reason = f"expected {check.expected}, found {found}"
    return Finding(turn, f"check '{check.what}'", passed=found == check.expected, reason=reason)


async def run_scenario(
    scenario: Scenario, *, database_url: str, agent_llm: llm.LLM, judge_llm: llm.LLM, spans: JudgeSpans
) -> ScenarioReport:
    """One call through the scenario's turns on `database_url` (a fresh seeded database)."""
    report = ScenarioReport(scenario.name)
    judged_before = len(spans.ended)
    pool = await create_pool(DatabaseSettings(database_url=database_url))
    try:
        state = CallState(
            hospital=PostgresHospital(pool, slot_minutes=SLOT_MINUTES, timezone=CONFIG.zone), config=CONFIG
        )
        await state.begin(room=f"eval-{scenario.name}", job_id=None)
        async with AgentSession[CallState](llm=agent_llm, userdata=state) as session:
            await session.start(Receptionist(CONFIG))
            for number, turn in enumerate(scenario.turns, start=1):
                try:
                    async with asyncio.timeout(TURN_TIMEOUT_SECONDS):
                        result = await session.run(user_input=turn.caller)
                    await state.flush()
                    if turn.intent is not None:
                        report.findings.append(
                            await _judge(result, turn=number, intent=turn.intent, judge_llm=judge_llm, spans=spans)
                        )
                except (APIError, TimeoutError) as error:  # the agent's model or the judge's
                    report.error = f"turn {number}: {type(error).__name__}: {error}".splitlines()[0]
                    break
                report.findings.extend([await _check(pool, check, number) for check in turn.checks])
            for usage in session.usage.model_usage:
                if isinstance(usage, LLMModelUsage):
                    report.agent_tokens.add(usage.input_tokens, usage.output_tokens)
        for span in spans.ended[judged_before:]:
            report.judge_tokens.add(
                int(span.attributes.get(trace_types.ATTR_GEN_AI_USAGE_INPUT_TOKENS, 0)),
                int(span.attributes.get(trace_types.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, 0)),
            )
        await state.finish()
    finally:
        await pool.close()
    return report

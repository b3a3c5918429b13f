"""Conversation-test kit: a scripted stand-in for the OpenAI model, a migrated and seeded database per test,
and a text-mode AgentSession running the real Receptionist against the real PostgreSQL data layer.

The scripted LLM emits what a real model would at each step (a reply, or tool calls whose arguments it
reads from earlier tool outputs); it proves our side only, never the model's judgement.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from livekit.agents import AgentSession, llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, APIConnectOptions, NotGivenOr

from agent.call import CallConfig, CallState
from agent.receptionist import Receptionist
from agent.settings import DatabaseSettings

ZONE = ZoneInfo("America/New_York")
CONFIG = CallConfig(hospital_name="Riverside General Hospital", zone=ZONE, emergency_number="911")


@dataclass(frozen=True)
class Call:
    """One tool call the model makes."""

    name: str
    arguments: dict[str, Any]


# A step is a reply, one or more tool calls, or a function of the conversation so far returning one of those.
Step = str | Call | list[Call] | Callable[[llm.ChatContext], "str | Call | list[Call]"]


class ScriptedLLM(llm.LLM):
    """Stand-in for the OpenAI chat model: each request consumes the next scripted step."""

    def __init__(self, *steps: Step) -> None:
        super().__init__()
        self.steps: list[Step] = list(steps)
        self.requests: list[llm.ChatContext] = []

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    @property
    def model(self) -> str:
        return "scripted-stand-in"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        self.requests.append(chat_ctx.copy())
        if not self.steps:
            raise AssertionError("the scripted LLM was asked for more steps than the test scripted")
        step = self.steps.pop(0)
        if callable(step) and not isinstance(step, Call):
            step = step(chat_ctx)
        return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options, step=step)


class _ScriptedStream(llm.LLMStream):
    _ids = itertools.count()

    def __init__(self, owner: ScriptedLLM, *, step: str | Call | list[Call], **kwargs: Any) -> None:
        super().__init__(owner, **kwargs)
        self._step = step

    async def _run(self) -> None:
        request_id = f"scripted-{next(self._ids)}"
        if isinstance(self._step, str):
            for word in re.findall(r"\S+\s*", self._step):
                self._event_ch.send_nowait(
                    llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=word))
                )
            return
        calls = self._step if isinstance(self._step, list) else [self._step]
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                delta=llm.ChoiceDelta(
                    role="assistant",
                    tool_calls=[
                        llm.FunctionToolCall(
                            name=call.name, arguments=json.dumps(call.arguments), call_id=f"call_{uuid.uuid4().hex[:8]}"
                        )
                        for call in calls
                    ],
                ),
            )
        )


def last_tool_output(chat_ctx: llm.ChatContext) -> str:
    """What the model reads before its next step: the latest tool output."""
    for item in reversed(chat_ctx.items):
        if item.type == "function_call_output":
            return item.output
    raise AssertionError("no tool output in the conversation")


def offered_slot(chat_ctx: llm.ChatContext, option: int = 1) -> tuple[int, str]:
    """(doctor_id, starts_at) of an option find_free_slots (or a taken booking) offered."""
    found = re.findall(r"doctor_id (\d+)\), [^[]*\[starts_at ([0-9T:-]+)\]", last_tool_output(chat_ctx))
    assert len(found) >= option, f"expected at least {option} offered slots"
    doctor_id, starts_at = found[option - 1]
    return int(doctor_id), starts_at


def mentioned_id(chat_ctx: llm.ChatContext, label: str) -> int:
    match = re.search(rf"{label} (\d+)", last_tool_output(chat_ctx))
    assert match, f"no {label} in the last tool output"
    return int(match[1])


# -- database -------------------------------------------------------------------------------------------------


@pytest.fixture
def hospital_url(hospital_database: str) -> str:
    """A fresh migrated and seeded database (tests/conftest.py documents its fixed patients and doctors)."""
    return hospital_database


@pytest.fixture
def sql(hospital_url: str) -> Callable[..., list[tuple]]:
    """Run a query on the test's database (for arranging and asserting), returning all rows."""

    def run(query: str, *params: object) -> list[tuple]:
        with psycopg.connect(hospital_url, autocommit=True) as conn:
            cursor = conn.execute(query, params or None)
            return cursor.fetchall() if cursor.description else []

    return run


@pytest.fixture
async def hospital(hospital_url: str) -> AsyncIterator[Any]:
    from agent.db.pool import create_pool
    from agent.hospital import PostgresHospital

    pool = await create_pool(DatabaseSettings(database_url=hospital_url, database_timeout_seconds=2))
    yield PostgresHospital(pool, slot_minutes=30, timezone=ZONE, retry_delays=(0.05, 0.1), acquire_timeout=1.0)
    await pool.close()


# -- the receptionist in a text-mode session -------------------------------------------------------------------


@dataclass
class Conversation:
    session: AgentSession[CallState]
    model: ScriptedLLM
    state: CallState

    async def say(self, text: str, *steps: Step):
        """One caller turn with the model's scripted steps for it; returns the RunResult."""
        self.model.add(*steps)
        result = await self.session.run(user_input=text)
        await self.state.flush()
        assert not self.model.steps, f"unused scripted steps: {self.model.steps}"
        return result


@pytest.fixture
async def conversation(hospital: Any) -> AsyncIterator[Conversation]:
    model = ScriptedLLM()
    state = CallState(hospital=hospital, config=CONFIG)
    await state.begin(room="test-room", job_id="test-job")
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(CONFIG))
        yield Conversation(session=session, model=model, state=state)
    await state.finish()


def reply_text(result: Any) -> str:
    """Everything the agent said in one run."""
    return " ".join(
        event.item.text_content or ""
        for event in result.events
        if event.type == "message" and event.item.role == "assistant"
    )


def tool_outputs(result: Any) -> list[tuple[str, str, bool]]:
    """(tool name, output, is_error) of every tool call in one run."""
    return [
        (event.item.name, event.item.output, event.item.is_error)
        for event in result.events
        if event.type == "function_call_output"
    ]

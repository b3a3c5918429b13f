"""Conversation-test kit: a scripted stand-in for the OpenAI model, a migrated and seeded database per test,
and a text-mode AgentSession running the real Receptionist against the real PostgreSQL data layer.

The scripted LLM (devtools/testing/scripted.py) emits what a real model would at each step.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from livekit.agents import AgentSession, llm

from agent.call import CallConfig, CallState
from agent.receptionist import Receptionist
from agent.settings import DatabaseSettings
from devtools.testing.scripted import ScriptedLLM, Step

ZONE = ZoneInfo("America/New_York")
CONFIG = CallConfig(hospital_name="Riverside General Hospital", zone=ZONE, emergency_number="911")
# A Tuesday, 10:00 in New York: the front desk is open (MON-FRI 8-18, the settings' defaults). Calls that put the
# caller through run at this moment, so they do not depend on the hour the tests run at.
DESK_OPEN = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


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
    from agent.hospital import PostgresHospital
    from agent.hospital.pool import create_pool

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


@contextlib.asynccontextmanager
async def receptionist_call(hospital: Any, *, caller_id: str | None = None) -> AsyncIterator[Conversation]:
    """A call with the receptionist; `caller_id` is the number a phone line reported (None: a web call)."""
    model = ScriptedLLM()
    state = CallState(hospital=hospital, config=CONFIG, caller_id=caller_id)
    await state.begin(room="test-room", job_id="test-job")
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(CONFIG))
        yield Conversation(session=session, model=model, state=state)
    await state.finish()


@pytest.fixture
async def conversation(hospital: Any) -> AsyncIterator[Conversation]:
    async with receptionist_call(hospital) as call:
        yield call


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

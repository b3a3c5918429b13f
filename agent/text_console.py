"""`python -m agent console --text`: talk to the receptionist on the keyboard, in this terminal.

Only the language model and the database take part: no LiveKit server, no audio device (so no PortAudio), no
speech providers. It needs OPENAI_API_KEY and DATABASE_URL (`make db-url` prints the local one). The real
Receptionist, tools and data layer answer, in a text-only AgentSession (LiveKit runs it without a room).
An empty line, `quit` or end of input (Ctrl-D) ends the conversation.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from typing import TextIO

import asyncpg
from livekit.agents import AgentSession, ConversationItemAddedEvent, llm
from livekit.agents.testing import fake_job_context
from livekit.plugins import openai

from agent.call import CallState
from agent.db.connect import one_line
from agent.hospital import PostgresHospital
from agent.hospital.pool import create_pool
from agent.receptionist import Receptionist
from agent.settings import Settings
from agent.worker import call_config

# The text console uses neither LiveKit nor speech: these stand-ins let the worker's settings load without keys
# that are never used. Real values in the environment win.
UNUSED_IN_TEXT = {
    "LIVEKIT_URL": "ws://localhost:7880",
    "LIVEKIT_API_KEY": "text-console-unused",
    "LIVEKIT_API_SECRET": "text-console-unused",
    "DEEPGRAM_API_KEY": "text-console-unused",
    "CARTESIA_API_KEY": "text-console-unused",
}
GOODBYE = {"", "quit", "exit", "bye"}


class DatabaseUnreachable(Exception):
    """The database in DATABASE_URL did not answer; the message says how to get the local one (safe to print)."""


def use_placeholders() -> None:
    for name, value in UNUSED_IN_TEXT.items():
        os.environ.setdefault(name, value)


def _lines(source: TextIO, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    """The caller's lines, read by a daemon thread (a blocked read must not keep the process alive at exit)."""
    queue: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in iter(source.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, "")

    threading.Thread(target=read, name="text-console-input", daemon=True).start()
    return queue


async def _next_line(lines: asyncio.Queue[str], closed: asyncio.Event) -> str | None:
    """The caller's next line, or None once the session closed (end_call) while waiting for it."""
    line, close = asyncio.ensure_future(lines.get()), asyncio.ensure_future(closed.wait())
    done, pending = await asyncio.wait({line, close}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return line.result() if line in done else None


async def converse(
    settings: Settings, source: TextIO = sys.stdin, out: TextIO = sys.stdout, *, model: llm.LLM | None = None
) -> None:
    """One conversation: the agent's lines are printed as `agent> ...` the moment it says them. `model` replaces
    OpenAI's (tests script it)."""
    prompt = "you> " if source.isatty() else ""
    config = call_config(settings)
    try:
        pool = await create_pool(settings)
    except (OSError, asyncpg.PostgresError) as error:
        raise DatabaseUnreachable(
            f"cannot reach the database in DATABASE_URL ({one_line(error)}); for the local one: make db-start, "
            'then export DATABASE_URL="$(make -s db-url)"'
        ) from None
    hospital = PostgresHospital(pool, slot_minutes=settings.slot_minutes, timezone=config.zone)
    state = CallState(hospital=hospital, config=config)
    await state.begin(room="text-console", job_id=f"text-console-{os.getpid()}")
    model = model or openai.LLM(
        model=settings.llm_model,
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
    )
    closed = asyncio.Event()

    def show(event: ConversationItemAddedEvent) -> None:
        if event.item.type == "message" and event.item.role == "assistant" and event.item.text_content:
            print(f"agent> {event.item.text_content}", file=out, flush=True)

    try:
        # A job context without a worker or room (LiveKit's in-process one): end_call shuts the "job" down.
        with fake_job_context(job_id="text-console"):
            async with model, AgentSession[CallState](llm=model, userdata=state) as session:
                session.on("conversation_item_added", show)
                session.on("close", lambda _event: closed.set())
                await session.start(Receptionist(config))
                lines = _lines(source, asyncio.get_running_loop())
                while not closed.is_set():
                    print(prompt, end="", file=out, flush=True)
                    line = await _next_line(lines, closed)
                    if line is None or line.strip().lower() in GOODBYE:
                        break
                    await session.run(user_input=line.strip())
    finally:
        await state.finish()
        await pool.close()

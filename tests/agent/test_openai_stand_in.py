"""One full tool-call turn through the REAL livekit-plugins-openai LLM, against a loopback stand-in for OpenAI
that speaks the Chat Completions streaming format (SSE `data:` chunks with tool_calls deltas).

The stand-in proves our side of the contract (the tool schema we send, the tool output we return, the reply
we relay); it is not OpenAI.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from livekit.agents import AgentSession
from livekit.plugins import openai

from agent.call import CallState
from agent.receptionist import Receptionist
from tests.agent.conftest import CONFIG, reply_text


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-stand-in",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class OpenAIStandIn:
    """Answers POST /v1/chat/completions: first with a streamed find_doctors tool call, then with text that
    quotes the doctor the tool output named."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization", ""))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_messages:
            arguments = json.dumps({"specialty": "Cardiology", "language": "Hindi"})
            await response.write(
                _chunk(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_stand_in_1",
                                "type": "function",
                                "function": {"name": "find_doctors", "arguments": ""},
                            }
                        ],
                    }
                )
            )
            for start in range(0, len(arguments), 7):  # arguments arrive in pieces, as OpenAI sends them
                piece = arguments[start : start + 7]
                await response.write(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            await response.write(_chunk({}, finish_reason="tool_calls"))
        else:
            doctor = tool_messages[-1]["content"].split(",")[0]
            for word in ["Yes, ", f"{doctor} ", "is a cardiologist ", "who speaks Hindi."]:
                await response.write(_chunk({"role": "assistant", "content": word}))
            await response.write(_chunk({}, finish_reason="stop"))
        await response.write(b"data: [DONE]\n\n")
        return response


@pytest.fixture
async def stand_in(unused_tcp_port: int) -> AsyncIterator[tuple[OpenAIStandIn, str]]:
    server = OpenAIStandIn()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    yield server, f"http://127.0.0.1:{unused_tcp_port}/v1"
    await runner.cleanup()


async def test_a_tool_call_turn_through_the_real_openai_plugin(stand_in, hospital: Any) -> None:
    server, base_url = stand_in
    model = openai.LLM(model="gpt-4o-mini", api_key="sk-test-stand-in", base_url=base_url)
    state = CallState(hospital=hospital, config=CONFIG)
    async with model, AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(CONFIG))
        result = await session.run(user_input="Do you have a heart doctor who speaks Hindi?")

    result.expect.next_event().is_function_call(
        name="find_doctors", arguments={"specialty": "Cardiology", "language": "Hindi"}
    )
    output = result.expect.next_event().is_function_call_output(is_error=False).event().item.output
    assert "Aisha Patel" in output  # from the seeded database, found by language code "hi"
    result.expect.next_event().is_message(role="assistant")
    assert "Aisha Patel is a cardiologist" in reply_text(result)

    first, second = server.requests
    assert server.authorizations[0] == "Bearer sk-test-stand-in"
    assert first["model"] == "gpt-4o-mini"
    assert first["stream"] is True
    tools = {tool["function"]["name"] for tool in first["tools"]}
    assert {"verify_identity", "find_free_slots", "book_appointment", "request_callback", "end_call"} <= tools
    assert "Riverside General Hospital" in first["messages"][0]["content"]
    assert any("Right now it is" in str(m.get("content")) for m in first["messages"])
    tool_reply = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_reply["tool_call_id"] == "call_stand_in_1"
    assert "Aisha Patel" in tool_reply["content"]

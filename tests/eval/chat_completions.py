"""A loopback stand-in for OpenAI's Chat Completions streaming endpoint (POST /v1/chat/completions, SSE
`data:` chunks, tool calls as `tool_calls` deltas, a final `usage` chunk when `stream_options.include_usage`
asks for it: https://platform.openai.com/docs/api-reference/chat-streaming), scripted per request.

It proves our side of the contract, for the agent's model and for the judge's; it is not OpenAI.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Usage reported for every request, so token accounting can be checked exactly.
PROMPT_TOKENS = 100
COMPLETION_TOKENS = 10


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


Reply = str | ToolCall
Responder = Callable[[dict[str, Any]], Reply]


def _chunk(delta: dict[str, Any] | None, finish_reason: str | None = None, usage: dict | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-stand-in",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "gpt-4o-mini",
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


class ChatCompletionsStandIn:
    """Streams what `respond(request body)` returns: text word by word, or one tool call in pieces."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[dict[str, Any]] = []
        self.api_key = f"sk-stand-in-{uuid.uuid4().hex}"
        """The only key it accepts (`Authorization: Bearer ...`); anything else gets OpenAI's 401."""
        self.base_url = ""
        """Set once it listens: what OPENAI_BASE_URL would be."""

    async def completions(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            error = {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}
            return web.json_response({"error": error}, status=401)
        body = await request.json()
        self.requests.append(body)
        reply = self.respond(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if isinstance(reply, ToolCall):
            call = {"index": 0, "id": f"call_{len(self.requests)}", "type": "function"}
            call["function"] = {"name": reply.name, "arguments": ""}
            await response.write(_chunk({"role": "assistant", "tool_calls": [call]}))
            arguments = json.dumps(reply.arguments)
            for start in range(0, len(arguments), 9):
                piece = arguments[start : start + 9]
                await response.write(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            await response.write(_chunk({}, finish_reason="tool_calls"))
        else:
            for word in reply.split(" "):
                await response.write(_chunk({"role": "assistant", "content": word + " "}))
            await response.write(_chunk({}, finish_reason="stop"))
        if body.get("stream_options", {}).get("include_usage"):
            usage = {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            }
            await response.write(_chunk(None, usage=usage))
        await response.write(b"data: [DONE]\n\n")
        return response

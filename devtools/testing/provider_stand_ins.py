"""A loopback stand-in for the speech and model providers, whose failures a test switches on and off.

It speaks just enough of each provider's wire format for the real LiveKit plugins to talk to it: OpenAI's
Chat Completions stream (SSE `data:` chunks, https://platform.openai.com/docs/api-reference/chat-streaming),
speech (`POST /audio/speech`, raw PCM) and transcription (`POST /audio/transcriptions`, JSON `text`);
Cartesia's `POST /tts/bytes` (raw PCM, https://docs.cartesia.ai/api-reference/tts/bytes) and its WebSocket
(`/tts/websocket`: transcripts in, base64 `data` chunks and `done` out, per `context_id`,
https://docs.cartesia.ai/api-reference/tts/websocket); Deepgram's
pre-recorded `POST /v1/listen` (https://developers.deepgram.com/reference/speech-to-text-api/listen). It is
not any of those services.

Modes: "ok"; "error" (HTTP 500 at once); "hang" (accepts the request and stays silent for `hang_seconds`, then
drops the connection); "drop" (answers
200, then the connection drops before any content); "drop_after_words" (Chat Completions only: drops after the
first words). A stand-in that is stopped refuses connections on its port; started again, it is back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

# How long a hanging stand-in stays silent before it drops the connection, as a load balancer would.
HANG_SECONDS = 2.0
Mode = Literal["ok", "error", "hang", "drop", "drop_after_words"]
PCM_RATE = 24_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tone(seconds: float, rate: int = PCM_RATE) -> bytes:
    """16-bit mono PCM of a quiet 440 Hz tone: audio that is plainly not silence."""
    count = int(seconds * rate)
    return struct.pack(f"<{count}h", *(int(3000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(count)))


def _chunk(model: str, delta: dict[str, object], finish_reason: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-stand-in",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


@dataclass
class ProviderStandIn:
    name: str
    port: int = field(default_factory=free_port)
    mode: Mode = "ok"
    hang_seconds: float = HANG_SECONDS
    requests: list[str] = field(default_factory=list)
    """One entry per request received, "<path> <mode>", in order."""
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self) -> str:
        return f"Answer from {self.name}."

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._pcm)
        app.router.add_post("/tts/bytes", self._pcm)
        app.router.add_get("/tts/websocket", self._cartesia_websocket)
        app.router.add_post("/v1/audio/transcriptions", self._transcription)
        app.router.add_post("/v1/listen", self._deepgram)
        self._release = asyncio.Event()
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """From now on the port refuses connections."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _misbehave(self, request: web.Request) -> web.StreamResponse | None:
        """The response for a failing mode, or None to answer normally."""
        self.requests.append(f"{request.path} {self.mode}")
        if self.mode == "error":
            return web.json_response({"error": {"message": "stand-in failure", "type": "server_error"}}, status=500)
        if self.mode == "hang":
            # Silent until a load balancer in front would give up on the request and cut the connection.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), self.hang_seconds)
            if request.transport is not None:  # None once the client gave up first
                request.transport.close()
            return web.Response(status=503)
        if self.mode == "drop":
            response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
            await response.prepare(request)
            await response.write(b"")
            request.transport.close()
            return response
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        failed = await self._misbehave(request)
        if failed is not None:
            return failed
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = self.answer().split(" ")
        await response.write(_chunk(body["model"], {"role": "assistant", "content": ""}))
        for number, word in enumerate(words):
            await response.write(_chunk(body["model"], {"content": word + (" " if number < len(words) - 1 else "")}))
            if self.mode == "drop_after_words":
                request.transport.close()
                return response
        await response.write(_chunk(body["model"], {}, finish_reason="stop"))
        await response.write(b"data: [DONE]\n\n")
        return response

    async def _pcm(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        failed = await self._misbehave(request)
        if failed is not None:
            return failed
        return web.Response(body=tone(0.3), content_type="audio/pcm")

    async def _transcription(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        failed = await self._misbehave(request)
        return failed or web.json_response({"text": self.answer()})

    async def _deepgram(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        failed = await self._misbehave(request)
        alternative = {"transcript": self.answer(), "confidence": 0.98, "words": []}
        return failed or web.json_response(
            {"metadata": {"request_id": "stand-in"}, "results": {"channels": [{"alternatives": [alternative]}]}}
        )

    async def _cartesia_websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket_ = web.WebSocketResponse()
        await socket_.prepare(request)
        async for message in socket_:
            packet = json.loads(message.data)
            if packet.get("continue", True):
                continue  # Cartesia answers once the context's input ends
            self.requests.append(f"{request.path} {self.mode}")
            context = packet["context_id"]
            if self.mode == "hang":
                continue
            if self.mode in ("drop", "drop_after_words"):
                await socket_.close()
                break
            if self.mode == "error":
                await socket_.send_json({"type": "error", "context_id": context, "error": "stand-in failure"})
                continue
            await socket_.send_json(
                {"context_id": context, "data": base64.b64encode(tone(0.3)).decode(), "done": False}
            )
            await socket_.send_json({"context_id": context, "done": True})
        return socket_

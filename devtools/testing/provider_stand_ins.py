"""A loopback stand-in for the speech and model providers, whose failures a test switches on and off.

It speaks just enough of each provider's wire format for the real LiveKit plugins to talk to it: OpenAI's
Chat Completions stream (SSE `data:` chunks, https://platform.openai.com/docs/api-reference/chat-streaming),
speech (`POST /audio/speech`, raw PCM) and transcription (`POST /audio/transcriptions`, JSON `text`);
Cartesia's `POST /tts/bytes` (raw PCM, https://docs.cartesia.ai/api-reference/tts/bytes) and its WebSocket
(`/tts/websocket`: transcripts in, base64 `data` chunks and `done` out, per `context_id`,
https://docs.cartesia.ai/api-reference/tts/websocket); Deepgram's
pre-recorded `POST /v1/listen` (https://developers.deepgram.com/reference/speech-to-text-api/listen) and its
streaming WebSocket `GET /v1/listen` (`DeepgramStream` below). It is not any of those services: it proves only our
side of each contract.

Modes: "ok"; "error" (HTTP 500 at once); "hang" (accepts the request and stays silent for `hang_seconds`, then
drops the connection); "drop" (answers
200, then the connection drops before any content); "drop_after_words" (Chat Completions only: drops after the
first words). A stand-in that is stopped refuses connections on its port; started again, it is back. Deepgram's
WebSocket reads them its own way: "error" is HTTP 500 on the upgrade, "hang" a socket that takes audio and never
answers, "drop" a socket closed mid-stream once speech arrives.
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
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

# How long a hanging stand-in stays silent before it drops the connection, as a load balancer would.
HANG_SECONDS = 2.0
Mode = Literal["ok", "error", "hang", "drop", "drop_after_words"]
PCM_RATE = 24_000
# Audio louder than this RMS (16-bit samples) is speech to the stand-in; the real service uses its speech model.
SPEECH_RMS = 300
# Silence that ends an utterance here (the real service takes the `endpointing` query value and its own model).
ENDPOINT_SECONDS = 0.4
# Deepgram answers streamed audio with interim Results about every second of it, empty ones in silence included.
INTERIM_SECONDS = 1.0


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
    interim_seconds: float = INTERIM_SECONDS
    """Seconds of audio the Deepgram WebSocket answers with an interim `Results` at the latest."""
    hears_words: bool = True
    """False: the Deepgram WebSocket finds no words in what it hears (noise), and says so with empty transcripts."""
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
        app.router.add_get("/v1/listen", self._deepgram_stream)
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

    async def _deepgram_stream(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.path} websocket {self.mode}")
        if self.mode == "error":
            return web.json_response({"err_code": "INTERNAL", "err_msg": "stand-in failure"}, status=500)
        stream = DeepgramStream(
            request,
            transcript=lambda: self.answer() if self.hears_words else "",
            mode=lambda: self.mode,
            interim_seconds=self.interim_seconds,
        )
        return await stream.serve(self._release)


class DeepgramStream:
    """One connection to a stand-in of Deepgram's live transcription WebSocket (`GET /v1/listen`), as the
    livekit-plugins-deepgram 1.8.9 `SpeechStream` (livekit/plugins/deepgram/stt.py) uses it: query parameters
    `encoding=linear16`, `sample_rate`, `channels`, `interim_results`, `vad_events`, `endpointing`, ...;
    `Authorization: Token <key>`; binary frames of 16-bit PCM; JSON text messages `KeepAlive`, `Finalize` (return
    what is buffered now) and `CloseStream` (answer what is left, send `Metadata`, close). Out: `SpeechStarted`
    when speech begins, interim `Results` (`is_final: false`) about every second of audio, and at the end of each
    utterance a `Results` with `is_final` and `speech_final` true whose `channel.alternatives[0].transcript` is
    `transcript()`, fixed: it transcribes nothing. Message shapes from Deepgram's streaming reference
    (https://developers.deepgram.com/reference/speech-to-text/listen-streaming) and its guides on interim results
    and endpointing (https://developers.deepgram.com/docs/using-interim-results,
    https://developers.deepgram.com/docs/understand-endpointing-interim-results).

    `mode` is read at each message, so a connection already open follows a switch: "hang" takes audio and says
    nothing more; "drop" closes the socket as soon as speech arrives, mid-utterance (a connection that answered
    earlier utterances included).
    """

    def __init__(
        self,
        request: web.Request,
        *,
        transcript: Callable[[], str],
        mode: Callable[[], Mode],
        interim_seconds: float,
    ) -> None:
        self._request = request
        self._transcript = transcript
        self._mode = mode
        self._rate = int(request.query.get("sample_rate", "16000"))
        self._socket = web.WebSocketResponse()
        self._audio_seconds = 0.0  # of the whole stream, Deepgram's `start`/`duration` clock
        self._speech_since: float | None = None
        self._silence = 0.0
        self._since_interim = 0.0
        self._interim_seconds = interim_seconds

    async def serve(self, released: asyncio.Event) -> web.WebSocketResponse:
        if not self._request.headers.get("Authorization", "").startswith("Token "):
            raise web.HTTPUnauthorized(text="stand-in: no `Authorization: Token <key>` header")
        if self._request.query.get("encoding") != "linear16":
            raise web.HTTPBadRequest(text="stand-in: only encoding=linear16 is spoken here")
        await self._socket.prepare(self._request)
        reading = asyncio.ensure_future(self._read())
        stopped = asyncio.ensure_future(released.wait())
        await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        reading.cancel()
        await self._socket.close()
        return self._socket

    async def _read(self) -> None:
        async for message in self._socket:  # also answers the client's heartbeat pings
            if self._mode() == "hang":
                continue
            if message.type == web.WSMsgType.BINARY:
                if not await self._audio(message.data):
                    return
            elif message.type == web.WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                if kind == "Finalize":
                    await self._end_utterance(from_finalize=True)
                elif kind == "CloseStream":
                    await self._end_utterance(from_finalize=False)
                    await self._socket.send_json({"type": "Metadata", "request_id": "stand-in"})
                    return

    async def _audio(self, data: bytes) -> bool:
        """Take one chunk of audio; False once the socket was dropped."""
        samples = array("h", data)
        seconds = len(samples) / self._rate
        loud = bool(samples) and math.sqrt(sum(s * s for s in samples) / len(samples)) > SPEECH_RMS
        if loud and self._mode() == "drop":
            await self._socket.close()
            return False
        if loud and self._speech_since is None:
            self._speech_since = self._audio_seconds
            await self._socket.send_json({"type": "SpeechStarted", "channel": [0], "timestamp": self._audio_seconds})
        self._audio_seconds += seconds
        self._since_interim += seconds
        self._silence = 0.0 if loud else self._silence + seconds
        if self._speech_since is not None and self._silence >= ENDPOINT_SECONDS:
            await self._end_utterance(from_finalize=False)
        elif self._since_interim >= self._interim_seconds:
            await self._results("", is_final=False, speech_final=False)
        return True

    async def _end_utterance(self, *, from_finalize: bool) -> None:
        if self._speech_since is None:
            return
        self._speech_since = None
        await self._results(
            self._transcript(), is_final=True, speech_final=not from_finalize, from_finalize=from_finalize
        )

    async def _results(
        self, transcript: str, *, is_final: bool, speech_final: bool, from_finalize: bool = False
    ) -> None:
        self._since_interim = 0.0
        words = [
            {"word": word.strip(".,").lower(), "punctuated_word": word, "start": 0.0, "end": 0.0, "confidence": 0.98}
            for word in transcript.split()
        ]
        await self._socket.send_json(
            {
                "type": "Results",
                "channel_index": [0, 1],
                "duration": self._audio_seconds,
                "start": 0.0,
                "is_final": is_final,
                "speech_final": speech_final,
                "from_finalize": from_finalize,
                "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.98, "words": words}]},
                "metadata": {"request_id": "stand-in", "model_info": {"name": "stand-in"}},
            }
        )

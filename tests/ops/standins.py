"""Loopback stand-ins for LiveKit, Deepgram, OpenAI and Cartesia.

A stand-in proves only our side of each contract (the path, the auth header and how we read the answer);
it is not the real service. Each runs on 127.0.0.1 in a thread of its own, so synchronous code under test
(`agent.check.main`, which calls asyncio.run) can talk to it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import jwt
from aiohttp import WSMsgType, web
from livekit.protocol import agent as agent_proto
from livekit.protocol import room as room_proto

from agent.check import OPENAI_MODEL_SETTINGS
from agent.settings import Settings
from tests.ops.conftest import FAKE_SECRETS


@dataclass
class StandIns:
    """mode: "ok" answers, "slow" never answers in time; keys are what each stand-in accepts."""

    mode: str = "ok"
    delay_seconds: float = 10.0
    keys: dict[str, str] = field(default_factory=lambda: dict(FAKE_SECRETS))
    urls: dict[str, str] = field(default_factory=dict)
    registered_agents: list[str] = field(default_factory=list)

    def environment(self, database_url: str) -> dict[str, str]:
        """The variables that point the agent at these stand-ins and that database."""
        return {
            **self.keys,
            "LIVEKIT_URL": self.urls["livekit"],
            "DEEPGRAM_BASE_URL": self.urls["deepgram"],
            "OPENAI_BASE_URL": self.urls["openai"],
            "CARTESIA_BASE_URL": self.urls["cartesia"],
            "DATABASE_URL": database_url,
        }

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="stand-ins", daemon=True)

    def __enter__(self) -> StandIns:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _serve(self, name: str, routes: list[web.RouteDef], scheme: str = "http") -> None:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        self.urls[name] = f"{scheme}://127.0.0.1:{port}"

    async def _start(self) -> None:
        await self._serve("deepgram", [web.get("/v1/projects", self._deepgram)])
        await self._serve("openai", [web.get("/v1/models", self._openai)])
        await self._serve("cartesia", [web.get("/voices", self._cartesia)])
        await self._serve(
            "livekit",
            [web.post("/twirp/livekit.RoomService/ListRooms", self._list_rooms), web.get("/agent", self._agent)],
            scheme="ws",
        )
        self.urls["openai"] += "/v1"

    async def _stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    async def _answer(self, accepted: bool, body: dict) -> web.Response:
        if self.mode == "slow":
            await asyncio.sleep(self.delay_seconds)
        if not accepted:
            return web.json_response({"error": "invalid credentials"}, status=401)
        return web.json_response(body)

    async def _deepgram(self, request: web.Request) -> web.Response:
        accepted = request.headers.get("Authorization") == f"Token {self.keys['DEEPGRAM_API_KEY']}"
        return await self._answer(accepted, {"projects": []})

    async def _openai(self, request: web.Request) -> web.Response:
        accepted = request.headers.get("Authorization") == f"Bearer {self.keys['OPENAI_API_KEY']}"
        models = [{"id": Settings.model_fields[name].default, "object": "model"} for name in OPENAI_MODEL_SETTINGS]
        return await self._answer(accepted, {"object": "list", "data": models})

    async def _cartesia(self, request: web.Request) -> web.Response:
        accepted = (
            request.headers.get("X-API-Key") == self.keys["CARTESIA_API_KEY"]
            and request.headers.get("Cartesia-Version") == "2025-04-16"
        )
        return await self._answer(accepted, {"data": []})

    def _claims(self, request: web.Request) -> dict | None:
        """The LiveKit JWT's claims if it is signed with our secret and issued for our key."""
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer "),
                self.keys["LIVEKIT_API_SECRET"],
                algorithms=["HS256"],
                options={"require": ["exp", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        return claims if claims["iss"] == self.keys["LIVEKIT_API_KEY"] else None

    async def _list_rooms(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        if self.mode == "slow":
            await asyncio.sleep(self.delay_seconds)
        if claims is None or not claims.get("video", {}).get("roomList"):
            return web.json_response({"code": "unauthenticated", "msg": "invalid token"}, status=401)
        assert request.content_type == "application/protobuf"
        room_proto.ListRoomsRequest.FromString(await request.read())
        body = room_proto.ListRoomsResponse().SerializeToString()
        return web.Response(body=body, content_type="application/protobuf")

    async def _agent(self, request: web.Request) -> web.StreamResponse:
        """The worker registration socket: accept a worker holding the agent grant, keep it registered."""
        claims = self._claims(request)
        if claims is None or not claims.get("video", {}).get("agent"):
            return web.json_response({"code": "unauthenticated"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type != WSMsgType.BINARY:
                continue
            worker_message = agent_proto.WorkerMessage.FromString(message.data)
            if worker_message.HasField("register"):
                self.registered_agents.append(worker_message.register.agent_name)
                reply = agent_proto.ServerMessage()
                reply.register.worker_id = "AW_standin"
                await ws.send_bytes(reply.SerializeToString())
        return ws


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentListener:
    """Accepts TCP connections and never says a word: a server that hangs."""

    def __enter__(self) -> SilentListener:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@contextmanager
def serve_in_thread(routes: list[web.RouteDef]) -> Iterator[str]:
    """A small aiohttp app on 127.0.0.1 in its own thread; yields its base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="stand-in", daemon=True)
    thread.start()
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, handle_signals=False)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}/"

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()

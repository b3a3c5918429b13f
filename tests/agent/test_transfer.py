"""A live transfer to the front desk, and what happens when it fails.

The SIP transfer (LiveKit turns it into a SIP REFER to the caller's trunk) is sent to a loopback stand-in of
LiveKit's SIP service: Twirp over HTTP at `/twirp/livekit.SIP/TransferSIPParticipant`, a protobuf
`TransferSIPParticipantRequest` in, a Twirp JSON error out (livekit/protocol protobufs/livekit_sip.proto; the
error shape from livekit-api's twirp_client.py). It proves what we send and how we read a refusal, not that
LiveKit or a trunk behaves this way."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiohttp import web
from livekit import api, rtc
from livekit.agents import AgentSession
from livekit.protocol import sip as sip_proto

from agent.call import CallConfig, CallState, TransferFailed
from agent.receptionist import Receptionist
from agent.worker import _sip_transfer
from devtools.testing.scripted import Call, ScriptedLLM
from tests.agent.conftest import DESK_OPEN, ZONE, tool_outputs

FRONT_DESK = "+15550100100"
TRANSFER_PATH = "/twirp/livekit.SIP/TransferSIPParticipant"


class SipStandIn:
    """Records each transfer request; answers with `refusal` (a Twirp error body and HTTP status) if set."""

    def __init__(self) -> None:
        self.requests: list[tuple[sip_proto.TransferSIPParticipantRequest, str]] = []
        self.refusal: tuple[dict, int] | None = None

    async def transfer(self, request: web.Request) -> web.Response:
        body = sip_proto.TransferSIPParticipantRequest.FromString(await request.read())
        self.requests.append((body, request.headers.get("Authorization", "")))
        if self.refusal is not None:
            error, status = self.refusal
            return web.json_response(error, status=status)
        return web.Response(body=b"", content_type="application/protobuf")


@pytest.fixture
async def sip_stand_in(unused_tcp_port: int):
    stand_in = SipStandIn()
    app = web.Application()
    app.router.add_post(TRANSFER_PATH, stand_in.transfer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    livekit = api.LiveKitAPI(
        f"http://127.0.0.1:{unused_tcp_port}", "APIstandin", "stand-in-secret-not-real-0123456789abcdef"
    )
    yield stand_in, livekit
    await livekit.aclose()
    await runner.cleanup()


CALLER = SimpleNamespace(identity="sip_+15555550123", kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP)


def _phone_call(livekit: api.LiveKitAPI) -> SimpleNamespace:
    room = SimpleNamespace(name="call-_+15555550123_abc", remote_participants={CALLER.identity: CALLER})
    return SimpleNamespace(room=room, api=livekit)


async def test_the_transfer_names_the_room_the_caller_and_the_front_desk(sip_stand_in) -> None:
    stand_in, livekit = sip_stand_in
    transfer = _sip_transfer(_phone_call(livekit), CALLER)
    await transfer(FRONT_DESK)
    ((request, authorization),) = stand_in.requests
    assert (request.room_name, request.participant_identity, request.transfer_to) == (
        "call-_+15555550123_abc",
        "sip_+15555550123",
        f"tel:{FRONT_DESK}",
    )
    assert authorization.startswith("Bearer ")


async def test_a_refused_transfer_is_one_transfer_failed_with_the_sip_reason(sip_stand_in) -> None:
    stand_in, livekit = sip_stand_in
    stand_in.refusal = (
        {
            "code": "unavailable",
            "msg": "transfer failed",
            "meta": {"sip_status_code": "486", "sip_status": "Busy Here"},
        },
        503,
    )
    with pytest.raises(TransferFailed) as failed:
        await _sip_transfer(_phone_call(livekit), CALLER)(FRONT_DESK)
    assert "486 Busy Here" in failed.value.reason


async def test_an_unreachable_livekit_is_a_transfer_failed(unused_tcp_port: int) -> None:
    livekit = api.LiveKitAPI(
        f"http://127.0.0.1:{unused_tcp_port}", "APIstandin", "stand-in-secret-not-real-0123456789abcdef"
    )
    try:
        with pytest.raises(TransferFailed, match="LiveKit unreachable"):
            await _sip_transfer(_phone_call(livekit), CALLER)(FRONT_DESK)
    finally:
        await livekit.aclose()


async def test_a_failed_transfer_keeps_the_caller_and_leads_to_a_message(hospital, sql) -> None:
    async def busy_front_desk(number: str) -> None:
        raise TransferFailed("SIP transfer failed: 486 Busy Here (unavailable)")

    config = CallConfig(hospital_name="Riverside", zone=ZONE, emergency_number="911", transfer_number=FRONT_DESK)
    state = CallState(hospital=hospital, config=config, transfer=busy_front_desk, clock=lambda: DESK_OPEN)
    await state.begin(room="busy-room", job_id="job")
    model = ScriptedLLM(
        Call("transfer_to_human", {}),
        "I'm sorry, the front desk couldn't be reached. Can I take a message?",
        Call(
            "request_callback",
            {"caller_name": "Maria Garcia", "callback_phone": "+15555550123", "message": "Please call me back."},
        ),
        "Done, they will call you back.",
    )
    async with AgentSession[CallState](llm=model, userdata=state) as session:
        await session.start(Receptionist(config))
        failed = await session.run(user_input="Put me through to a person.")
        _, output, is_error = tool_outputs(failed)[0]
        assert is_error
        assert "still on the line" in output
        assert "request_callback" in output
        assert state.outcome != "handed_off", "a failed transfer is not a hand-off"
        taken = await session.run(user_input="Yes, Maria Garcia, +15555550123, please call me back.")
    await state.finish()
    assert tool_outputs(taken)[0][2] is False
    assert sql("SELECT outcome, detail->>'kind' FROM call_events WHERE kind = 'handoff' ORDER BY id") == [
        ("failed", "transfer"),
        (None, "callback"),
    ]
    assert sql("SELECT outcome FROM call_sessions") == [("handed_off",)]

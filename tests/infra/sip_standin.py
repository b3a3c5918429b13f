"""A loopback STAND-IN for LiveKit's SIP service, not LiveKit: just enough of its wire format to run the
infra.sip_provider resources against, with every request recorded.

Wire format, from github.com/livekit/protocol at commit d74e7cdb9835928ffa9c6bc6b3e4c7f07de61c43
(protobufs/livekit_sip.proto, `service SIP`) and livekit-api 1.2.2 (livekit/api/twirp_client.py,
sip_service.py): Twirp, an HTTP POST to `/twirp/livekit.SIP/<Method>` with a protobuf body
(`application/protobuf`, what the Python client sends) or a JSON one (`application/json`), answered in the same
encoding; errors are JSON `{"code", "msg"}` with the Twirp code's HTTP status. Every call carries
`Authorization: Bearer <JWT>` signed with the project's API secret; SIP management needs the `sip.admin` grant
(sip_service.py `_admin_headers`).

The phone-number service, from the same commit's protobufs/livekit_phone_number.proto (`service
PhoneNumberService`), at `/twirp/livekit.PhoneNumberService/<Method>`: JSON only (livekit-api 1.2.2 has no client
for it), with proto field names as Twirp's Go server writes them by default; `GetPhoneNumber` and
`UpdatePhoneNumber` (by id or by number) on numbers the project has bought (`buy`).

What is modelled: inbound trunks and dispatch rules (create, list by id, update by replace or by field, delete),
ids in LiveKit's `ST_`/`SDR_`/`PN_` form, `not_found` for an unknown id. What is not: purchase and release,
matching calls to rules, outbound trunks, SIP itself. Objects can be deleted out of band (`forget`) to model a
hand deletion.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit import api
from livekit.protocol import sip

PREFIX = "/twirp/livekit.SIP/"
NUMBERS_PREFIX = "/twirp/livekit.PhoneNumberService/"


@dataclass
class Recorded:
    method: str
    content_type: str
    authorization: str
    sip_admin: bool
    body: dict[str, Any]


@dataclass
class SipStandIn:
    api_key: str
    api_secret: str
    trunks: dict[str, sip.SIPInboundTrunkInfo] = field(default_factory=dict)
    rules: dict[str, sip.SIPDispatchRuleInfo] = field(default_factory=dict)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def forget(self, object_id: str) -> None:
        """Delete an object behind the provider's back (the dashboard, `lk sip ... delete`)."""
        self.trunks.pop(object_id, None)
        self.rules.pop(object_id, None)

    def buy(self, e164: str) -> str:
        """A number the project bought (dashboard, `lk number purchase`), assigned to no rule."""
        number_id = self._next("PN_")
        self.numbers[number_id] = {
            "id": number_id,
            "e164_format": e164,
            "country_code": "US",
            "status": "PHONE_NUMBER_STATUS_ACTIVE",
            "sip_dispatch_rule_ids": [],
        }
        return number_id

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def _next(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}"

    # Each handler: (request class, function of the request -> response message).
    def handlers(self) -> dict[str, tuple[type[Message], Any]]:
        return {
            "CreateSIPInboundTrunk": (sip.CreateSIPInboundTrunkRequest, self._create_trunk),
            "ListSIPInboundTrunk": (sip.ListSIPInboundTrunkRequest, self._list_trunks),
            "UpdateSIPInboundTrunk": (sip.UpdateSIPInboundTrunkRequest, self._update_trunk),
            "DeleteSIPTrunk": (sip.DeleteSIPTrunkRequest, self._delete_trunk),
            "CreateSIPDispatchRule": (sip.CreateSIPDispatchRuleRequest, self._create_rule),
            "ListSIPDispatchRule": (sip.ListSIPDispatchRuleRequest, self._list_rules),
            "UpdateSIPDispatchRule": (sip.UpdateSIPDispatchRuleRequest, self._update_rule),
            "DeleteSIPDispatchRule": (sip.DeleteSIPDispatchRuleRequest, self._delete_rule),
        }

    def _create_trunk(self, request: sip.CreateSIPInboundTrunkRequest) -> sip.SIPInboundTrunkInfo:
        trunk = sip.SIPInboundTrunkInfo()
        trunk.CopyFrom(request.trunk)
        trunk.sip_trunk_id = self._next("ST_")
        self.trunks[trunk.sip_trunk_id] = trunk
        return trunk

    def _list_trunks(self, request: sip.ListSIPInboundTrunkRequest) -> sip.ListSIPInboundTrunkResponse:
        wanted = set(request.trunk_ids)
        items = [t for tid, t in self.trunks.items() if not wanted or tid in wanted]
        return sip.ListSIPInboundTrunkResponse(items=items)

    def _update_trunk(self, request: sip.UpdateSIPInboundTrunkRequest) -> sip.SIPInboundTrunkInfo:
        trunk = self._existing(self.trunks, request.sip_trunk_id)
        if request.HasField("replace"):
            trunk.CopyFrom(request.replace)
            trunk.sip_trunk_id = request.sip_trunk_id
        else:
            update = request.update
            for name in ("numbers", "allowed_addresses", "allowed_numbers"):
                if update.HasField(name):
                    _apply_list_update(getattr(trunk, name), getattr(update, name))
            for name in ("auth_username", "auth_password", "name", "metadata"):
                if update.HasField(name):
                    setattr(trunk, name, getattr(update, name))
        return trunk

    def _delete_trunk(self, request: sip.DeleteSIPTrunkRequest) -> sip.SIPTrunkInfo:
        self._existing(self.trunks, request.sip_trunk_id)
        del self.trunks[request.sip_trunk_id]
        return sip.SIPTrunkInfo(sip_trunk_id=request.sip_trunk_id)

    def _create_rule(self, request: sip.CreateSIPDispatchRuleRequest) -> sip.SIPDispatchRuleInfo:
        rule = sip.SIPDispatchRuleInfo()
        if request.HasField("dispatch_rule"):
            rule.CopyFrom(request.dispatch_rule)
        else:  # the deprecated flat fields
            rule.rule.CopyFrom(request.rule)
            rule.trunk_ids.extend(request.trunk_ids)
            rule.name = request.name
            rule.room_config.CopyFrom(request.room_config)
        rule.sip_dispatch_rule_id = self._next("SDR_")
        self.rules[rule.sip_dispatch_rule_id] = rule
        return rule

    def _list_rules(self, request: sip.ListSIPDispatchRuleRequest) -> sip.ListSIPDispatchRuleResponse:
        wanted = set(request.dispatch_rule_ids)
        items = [r for rid, r in self.rules.items() if not wanted or rid in wanted]
        return sip.ListSIPDispatchRuleResponse(items=items)

    def _update_rule(self, request: sip.UpdateSIPDispatchRuleRequest) -> sip.SIPDispatchRuleInfo:
        rule = self._existing(self.rules, request.sip_dispatch_rule_id)
        if request.HasField("replace"):
            rule.CopyFrom(request.replace)
            rule.sip_dispatch_rule_id = request.sip_dispatch_rule_id
        else:
            update = request.update
            if update.HasField("trunk_ids"):
                _apply_list_update(rule.trunk_ids, update.trunk_ids)
            if update.HasField("rule"):
                rule.rule.CopyFrom(update.rule)
            if update.HasField("name"):
                rule.name = update.name
        return rule

    def _delete_rule(self, request: sip.DeleteSIPDispatchRuleRequest) -> sip.SIPDispatchRuleInfo:
        rule = self._existing(self.rules, request.sip_dispatch_rule_id)
        del self.rules[request.sip_dispatch_rule_id]
        return rule

    def number_call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        found = [
            n
            for n in self.numbers.values()
            if n["id"] == body.get("id") or n["e164_format"] == body.get("phone_number")
        ]
        if method not in {"GetPhoneNumber", "UpdatePhoneNumber"}:
            raise _TwirpFailure(HTTPStatus.NOT_FOUND, "bad_route", f"no handler for {method}")
        if not found:
            raise _TwirpFailure(HTTPStatus.NOT_FOUND, "not_found", "phone number not found")
        number = found[0]
        if method == "UpdatePhoneNumber" and "sip_dispatch_rule_id" in body:
            rule = body["sip_dispatch_rule_id"]
            number["sip_dispatch_rule_ids"] = [rule] if rule else []
        return {"phone_number": number}

    @staticmethod
    def _existing(objects: dict[str, Any], object_id: str) -> Any:
        if object_id not in objects:
            raise _TwirpFailure(HTTPStatus.NOT_FOUND, "not_found", f"{object_id} does not exist")
        return objects[object_id]

    def serve(self) -> ThreadingHTTPServer:
        """Listen on 127.0.0.1 (a free port) in a daemon thread; `server.shutdown()` stops it."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=server.serve_forever, name="sip-stand-in", daemon=True).start()
        return server


class _TwirpFailure(Exception):
    def __init__(self, status: HTTPStatus, code: str, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _apply_list_update(target: Any, update: Any) -> None:
    if update.set:
        del target[:]
        target.extend(update.set)
    target.extend(value for value in update.add if value not in target)
    for value in update.remove:
        if value in target:
            target.remove(value)


def _handler_for(standin: SipStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            content_type = self.headers.get("Content-Type", "")
            as_json = content_type.startswith("application/json")
            try:
                response = self._handle(content_type, as_json)
            except _TwirpFailure as failure:
                self._send(failure.status, "application/json", json.dumps({"code": failure.code, "msg": failure.msg}))
                return
            if isinstance(response, dict):
                self._send(HTTPStatus.OK, "application/json", json.dumps(response))
            elif as_json:
                self._send(HTTPStatus.OK, "application/json", json_format.MessageToJson(response))
            else:
                self._send(HTTPStatus.OK, "application/protobuf", response.SerializeToString())

        def _handle(self, content_type: str, as_json: bool) -> Message | dict[str, Any]:
            if self.path.startswith(NUMBERS_PREFIX):
                return self._handle_numbers(content_type)
            method = self.path.removeprefix(PREFIX) if self.path.startswith(PREFIX) else ""
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            authorization = self.headers.get("Authorization", "")
            sip_admin = self._sip_admin(authorization)
            if method not in standin.handlers():
                raise _TwirpFailure(HTTPStatus.NOT_FOUND, "bad_route", f"no handler for {self.path}")
            request_class, handle = standin.handlers()[method]
            try:
                request = json_format.Parse(body, request_class()) if as_json else request_class.FromString(body)
            except (DecodeError, json_format.ParseError) as error:
                raise _TwirpFailure(HTTPStatus.BAD_REQUEST, "malformed", str(error)) from error
            with standin._lock:
                standin.requests.append(
                    Recorded(method, content_type, authorization, sip_admin, json_format.MessageToDict(request))
                )
                if not sip_admin:
                    raise _TwirpFailure(HTTPStatus.UNAUTHORIZED, "unauthenticated", "needs a token with sip.admin")
                return handle(request)

        def _handle_numbers(self, content_type: str) -> dict[str, Any]:
            method = self.path.removeprefix(NUMBERS_PREFIX)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            authorization = self.headers.get("Authorization", "")
            sip_admin = self._sip_admin(authorization)
            with standin._lock:
                standin.requests.append(Recorded(method, content_type, authorization, sip_admin, body))
                if not sip_admin:
                    raise _TwirpFailure(HTTPStatus.UNAUTHORIZED, "unauthenticated", "needs a token with sip.admin")
                return standin.number_call(method, body)

        @staticmethod
        def _sip_admin(authorization: str) -> bool:
            token = authorization.removeprefix("Bearer ")
            if not token or token == authorization:
                return False
            try:
                claims = api.TokenVerifier(standin.api_key, standin.api_secret).verify(token)
            except jwt.PyJWTError:
                return False
            return bool(claims.sip and claims.sip.admin)

        def _send(self, status: HTTPStatus, content_type: str, body: str | bytes) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler

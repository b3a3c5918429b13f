"""LiveKit SIP inbound trunks, dispatch rules and phone numbers as Pulumi resources: dynamic providers over
livekit-api's SIP service (Twirp at `/twirp/livekit.SIP/<Method>`, protobufs/livekit_sip.proto in
github.com/livekit/protocol) and LiveKit's phone-number service (`/twirp/livekit.PhoneNumberService/<Method>`,
protobufs/livekit_phone_number.proto; livekit-api 1.2.2 has no client for it, so it is called with Twirp's JSON
encoding and the same SIP-admin token).

Secrets never reach Pulumi's state. A dynamic resource's inputs, outputs and pickled provider are all stored in
the state, so none of them holds a secret:
- the LiveKit API key and secret are read from the environment (`LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`) each time
  the provider runs, never captured by the provider object;
- a trunk's digest-auth password is named by its Secrets Manager id and version id; the provider reads the value
  while it creates or updates the trunk and returns only the id and version (a new version is a diff, so rotating
  the password updates the trunk). LiveKit's answers are copied field by field; the password it may echo is not.

`read` lists by id: an object deleted out of band reads as gone, so the next `pulumi up` creates it again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import boto3
import pulumi
from livekit import api
from livekit.api.sip_service import SipService
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

CREDENTIAL_VARIABLES = ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
# Inputs whose change needs a new object: another LiveKit project is another server.
REPLACING_INPUTS = ("livekit_url",)
TRUNK_INPUTS = (
    "livekit_url",
    "name",
    "numbers",
    "allowed_addresses",
    "auth_username",
    "auth_password_secret_id",
    "auth_password_version",
)
RULE_INPUTS = ("livekit_url", "name", "trunk_ids", "numbers", "room_prefix", "agent_name")
NUMBER_INPUTS = ("livekit_url", "phone_number", "dispatch_rule_id")
# A number is one object in LiveKit: another number is another resource.
NUMBER_REPLACING_INPUTS = ("livekit_url", "phone_number")
PHONE_NUMBER_SERVICE = "twirp/livekit.PhoneNumberService"
RELEASED = "PHONE_NUMBER_STATUS_RELEASED"

T = TypeVar("T")
SecretReader = Callable[[str, str], str]


class SipCredentialsMissing(Exception):
    """LIVEKIT_API_KEY or LIVEKIT_API_SECRET is not set where Pulumi runs."""


class SipTrunkPasswordMissing(Exception):
    """The trunk's digest-auth password has no value in Secrets Manager yet."""


def read_secrets_manager(secret_id: str, version_id: str) -> str:
    """One version of a Secrets Manager entry; the region is the one in the entry's ARN."""
    region = secret_id.split(":")[3] if secret_id.startswith("arn:") else None
    client = boto3.client("secretsmanager", region_name=region)
    return client.get_secret_value(SecretId=secret_id, VersionId=version_id)["SecretString"]


def _credentials() -> tuple[str, str]:
    missing = [name for name in CREDENTIAL_VARIABLES if not os.environ.get(name)]
    if missing:
        raise SipCredentialsMissing(
            f"{' and '.join(missing)} not set: export the stack's LiveKit API key and secret before `pulumi up` "
            "(docs/telephony.md); the SIP trunk and dispatch rule are managed with them"
        )
    return os.environ["LIVEKIT_API_KEY"], os.environ["LIVEKIT_API_SECRET"]


def _call(url: str, request: Callable[[SipService], Awaitable[T]]) -> T:
    async def run() -> T:
        key, secret = _credentials()
        async with api.LiveKitAPI(url, key, secret) as client:
            return await request(client.sip)

    return _run(run())


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on a loop of its own without making it the thread's current loop (`asyncio.run` leaves the thread
    with none, which breaks Pulumi's runtime when both share a thread)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def _is_not_found(error: api.TwirpError) -> bool:
    return error.code == "not_found"


def _diff(
    olds: dict[str, Any],
    news: dict[str, Any],
    inputs: tuple[str, ...],
    replacing: tuple[str, ...] = REPLACING_INPUTS,
) -> DiffResult:
    changed = [key for key in inputs if _normal(olds.get(key)) != _normal(news.get(key))]
    replaces = [key for key in changed if key in replacing]
    # A number belongs to one trunk or rule at a time: the old object goes before its replacement comes.
    return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces))


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else (value or None)


class SipInboundTrunkProvider(ResourceProvider):
    """An inbound trunk that accepts calls to `numbers` from `allowed_addresses` and/or with digest auth."""

    serialize_as_secret_always = False  # it holds nothing secret (module docstring)

    def __init__(self, read_secret: SecretReader = read_secrets_manager) -> None:
        super().__init__()
        self.read_secret = read_secret

    def _trunk(self, props: dict[str, Any]) -> api.SIPInboundTrunkInfo:
        password = ""
        if props.get("auth_password_secret_id"):
            if not props.get("auth_password_version"):
                raise SipTrunkPasswordMissing(
                    f"the SIP trunk's password is not in Secrets Manager yet: put it with `aws secretsmanager "
                    f"put-secret-value --secret-id {props['auth_password_secret_id']} --secret-string "
                    "file:///dev/stdin` and run `pulumi up` again (docs/telephony.md)"
                )
            password = self.read_secret(props["auth_password_secret_id"], props["auth_password_version"])
        return api.SIPInboundTrunkInfo(
            name=props["name"],
            numbers=props["numbers"],
            allowed_addresses=props.get("allowed_addresses") or [],
            auth_username=props.get("auth_username") or "",
            auth_password=password,
        )

    @staticmethod
    def _outputs(props: dict[str, Any], trunk: api.SIPInboundTrunkInfo) -> dict[str, Any]:
        return {
            "livekit_url": props["livekit_url"],
            "sip_trunk_id": trunk.sip_trunk_id,
            "name": trunk.name,
            "numbers": list(trunk.numbers),
            "allowed_addresses": list(trunk.allowed_addresses),
            "auth_username": trunk.auth_username,
            "auth_password_secret_id": props.get("auth_password_secret_id") or "",
            "auth_password_version": props.get("auth_password_version") or "",
        }

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, TRUNK_INPUTS)

    def create(self, props: dict[str, Any]) -> CreateResult:
        request = api.CreateSIPInboundTrunkRequest(trunk=self._trunk(props))
        trunk = _call(props["livekit_url"], lambda sip: sip.create_inbound_trunk(request))
        return CreateResult(trunk.sip_trunk_id, self._outputs(props, trunk))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        request = api.ListSIPInboundTrunkRequest(trunk_ids=[id_])
        found = _call(props["livekit_url"], lambda sip: sip.list_inbound_trunk(request)).items
        if not found:
            return ReadResult(None, {})
        return ReadResult(id_, self._outputs(props, found[0]))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        trunk = self._trunk(news)
        updated = _call(news["livekit_url"], lambda sip: sip.update_inbound_trunk(id_, trunk))
        return UpdateResult(self._outputs(news, updated))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            _call(props["livekit_url"], lambda sip: sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=id_)))
        except api.TwirpError as error:
            if not _is_not_found(error):
                raise


class SipDispatchRuleProvider(ResourceProvider):
    """A rule that puts each caller in a room of their own (`<room_prefix><random>`) and dispatches the named
    agent there through the room's configuration."""

    serialize_as_secret_always = False  # it holds nothing secret

    @staticmethod
    def _rule(props: dict[str, Any]) -> api.SIPDispatchRuleInfo:
        return api.SIPDispatchRuleInfo(
            name=props["name"],
            trunk_ids=props.get("trunk_ids") or [],
            numbers=props.get("numbers") or [],
            rule=api.SIPDispatchRule(
                dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix=props["room_prefix"])
            ),
            room_config=api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=props["agent_name"])]),
        )

    @staticmethod
    def _outputs(props: dict[str, Any], rule: api.SIPDispatchRuleInfo) -> dict[str, Any]:
        agents = [dispatch.agent_name for dispatch in rule.room_config.agents]
        return {
            "livekit_url": props["livekit_url"],
            "sip_dispatch_rule_id": rule.sip_dispatch_rule_id,
            "name": rule.name,
            "trunk_ids": list(rule.trunk_ids),
            "numbers": list(rule.numbers),
            "room_prefix": rule.rule.dispatch_rule_individual.room_prefix,
            "agent_name": agents[0] if len(agents) == 1 else ",".join(agents),
        }

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, RULE_INPUTS)

    def create(self, props: dict[str, Any]) -> CreateResult:
        rule = self._rule(props)
        request = api.CreateSIPDispatchRuleRequest(dispatch_rule=rule)
        created = _call(props["livekit_url"], lambda sip: sip.create_dispatch_rule(request))
        return CreateResult(created.sip_dispatch_rule_id, self._outputs(props, created))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        request = api.ListSIPDispatchRuleRequest(dispatch_rule_ids=[id_])
        found = _call(props["livekit_url"], lambda sip: sip.list_dispatch_rule(request)).items
        if not found:
            return ReadResult(None, {})
        return ReadResult(id_, self._outputs(props, found[0]))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        rule = self._rule(news)
        updated = _call(news["livekit_url"], lambda sip: sip.update_dispatch_rule(id_, rule))
        return UpdateResult(self._outputs(news, updated))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        request = api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=id_)
        try:
            _call(props["livekit_url"], lambda sip: sip.delete_dispatch_rule(request))
        except api.TwirpError as error:
            if not _is_not_found(error):
                raise


class PhoneNumberNotInProject(Exception):
    """The number is not one the LiveKit project bought (or it was released)."""


def _phone_numbers(url: str, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """One call to LiveKit's phone-number service; None when LiveKit answers not_found."""

    async def run() -> dict[str, Any] | None:
        key, secret = _credentials()
        token = api.AccessToken(key, secret).with_sip_grants(api.SIPGrants(admin=True)).to_jwt()
        base = url.replace("wss://", "https://", 1).replace("ws://", "http://", 1).rstrip("/")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.post(f"{base}/{PHONE_NUMBER_SERVICE}/{method}", json=body, headers=headers) as response,
        ):
            answer = await response.json(content_type=None)
            if response.status == HTTPStatus.OK:
                return answer
            if answer.get("code") == "not_found":
                return None
            raise api.TwirpError(answer.get("code", "unknown"), answer.get("msg", ""), status=response.status)

    return _run(run())


class LiveKitPhoneNumberProvider(ResourceProvider):
    """A number bought from LiveKit (dashboard or `lk number purchase`), pointed at our dispatch rule. Buying and
    releasing stay manual, deliberate steps (they are billing events): create assigns the rule, delete unassigns
    it, read reports the rule the number is assigned to now (a hand change is drift)."""

    serialize_as_secret_always = False  # it holds nothing secret

    @staticmethod
    def _outputs(props: dict[str, Any], number: dict[str, Any]) -> dict[str, Any]:
        rules = number.get("sip_dispatch_rule_ids") or [number.get("sip_dispatch_rule_id") or ""]
        return {
            "livekit_url": props["livekit_url"],
            "phone_number": number["e164_format"],
            "number_id": number["id"],
            "dispatch_rule_id": props["dispatch_rule_id"] if props["dispatch_rule_id"] in rules else rules[0],
        }

    def _assign(self, props: dict[str, Any], rule_id: str) -> dict[str, Any]:
        body = {"phone_number": props["phone_number"], "sip_dispatch_rule_id": rule_id}
        answer = _phone_numbers(props["livekit_url"], "UpdatePhoneNumber", body)
        if answer is None:
            raise PhoneNumberNotInProject(
                f"{props['phone_number']} is not a number of this LiveKit project: buy it first "
                "(`lk number purchase`, docs/telephony.md) or correct phoneNumbers"
            )
        return answer["phone_number"]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return _diff(olds, news, NUMBER_INPUTS, NUMBER_REPLACING_INPUTS)

    def create(self, props: dict[str, Any]) -> CreateResult:
        number = self._assign(props, props["dispatch_rule_id"])
        return CreateResult(number["id"], self._outputs(props, number))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        answer = _phone_numbers(props["livekit_url"], "GetPhoneNumber", {"id": id_})
        if answer is None or answer["phone_number"].get("status") == RELEASED:
            return ReadResult(None, {})
        return ReadResult(id_, self._outputs(props, answer["phone_number"]))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news, self._assign(news, news["dispatch_rule_id"])))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Unassigned, the number stays bought (and billed) until someone releases it on purpose.
        _phone_numbers(props["livekit_url"], "UpdatePhoneNumber", {"id": id_, "sip_dispatch_rule_id": ""})


class SipInboundTrunk(Resource, module="livekit", name="SipInboundTrunk"):
    """Type `pulumi-python:dynamic/livekit:SipInboundTrunk`."""

    sip_trunk_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        # Nothing secret is returned (module docstring); should LiveKit's echoed password ever be, it stays secret.
        secret = pulumi.ResourceOptions(additional_secret_outputs=["auth_password"])
        super().__init__(
            SipInboundTrunkProvider(), name, {**props, "sip_trunk_id": None}, pulumi.ResourceOptions.merge(opts, secret)
        )


class SipDispatchRule(Resource, module="livekit", name="SipDispatchRule"):
    """Type `pulumi-python:dynamic/livekit:SipDispatchRule`."""

    sip_dispatch_rule_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SipDispatchRuleProvider(), name, {**props, "sip_dispatch_rule_id": None}, opts)


class LiveKitPhoneNumber(Resource, module="livekit", name="PhoneNumber"):
    """Type `pulumi-python:dynamic/livekit:PhoneNumber`."""

    number_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LiveKitPhoneNumberProvider(), name, {**props, "number_id": None}, opts)

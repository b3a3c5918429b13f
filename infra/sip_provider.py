"""LiveKit SIP inbound trunks and dispatch rules as Pulumi resources: dynamic providers over livekit-api's SIP
service (Twirp at `/twirp/livekit.SIP/<Method>`, protobufs/livekit_sip.proto in github.com/livekit/protocol).

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
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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

    return asyncio.run(run())


def _is_not_found(error: api.TwirpError) -> bool:
    return error.code == "not_found"


def _diff(olds: dict[str, Any], news: dict[str, Any], inputs: tuple[str, ...]) -> DiffResult:
    changed = [key for key in inputs if _normal(olds.get(key)) != _normal(news.get(key))]
    replaces = [key for key in changed if key in REPLACING_INPUTS]
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

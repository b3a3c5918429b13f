"""The SIP trunk and dispatch rule providers against a loopback stand-in of LiveKit's SIP Twirp API
(tests/infra/sip_standin.py): the lifecycle Pulumi drives, diffs, drift, re-runs, auth and secrets."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from livekit import api
from pulumi.dynamic.dynamic import serialize_provider

from agent.settings import TokenSettings
from infra.sip_provider import (
    LiveKitPhoneNumberProvider,
    PhoneNumberNotInProject,
    SipCredentialsMissing,
    SipDispatchRuleProvider,
    SipInboundTrunkProvider,
    SipTrunkPasswordMissing,
)
from tests.infra.sip_standin import SipStandIn

API_KEY = "APIstandinkey01"  # pragma: allowlist secret
# Made up per run, so no value that looks like a credential sits in the repository.
API_SECRET = secrets.token_urlsafe(32)
DIGEST_PASSWORD = secrets.token_urlsafe(16)
ROTATED_PASSWORD = secrets.token_urlsafe(16)
SECRET_ID = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hospital-receptionist-staging/SIP_TRUNK_PASSWORD"
# The name the worker registers under (agent/settings.py); the rule dispatches exactly this agent.
AGENT_NAME = TokenSettings.model_fields["agent_name"].default
PASSWORDS = {"v1": DIGEST_PASSWORD, "v2": ROTATED_PASSWORD}
WRITES = {"CreateSIPInboundTrunk", "UpdateSIPInboundTrunk", "DeleteSIPTrunk"} | {
    "CreateSIPDispatchRule",
    "UpdateSIPDispatchRule",
    "DeleteSIPDispatchRule",
}


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SipStandIn, str]]:
    server_state = SipStandIn(API_KEY, API_SECRET)
    server = server_state.serve()
    monkeypatch.setenv("LIVEKIT_API_KEY", API_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)
    yield server_state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def trunk_props(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "livekit_url": url,
        "name": "hospital-receptionist-staging",
        "numbers": ["+15550100001"],
        "allowed_addresses": ["192.0.2.0/28"],
        "auth_username": "hospital-staging",
        "auth_password_secret_id": SECRET_ID,
        "auth_password_version": "v1",  # pragma: allowlist secret
        **changes,
    }


def rule_props(url: str, **changes: Any) -> dict[str, Any]:
    return {
        "livekit_url": url,
        "name": "hospital-receptionist-staging",
        "trunk_ids": [],
        "numbers": ["+15550100001"],
        "room_prefix": "call-",
        "agent_name": AGENT_NAME,
        **changes,
    }


def trunk_provider() -> SipInboundTrunkProvider:
    return SipInboundTrunkProvider(read_secret=lambda secret_id, version: PASSWORDS[version])


def test_trunk_create_read_update_delete(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    provider = trunk_provider()
    created = provider.create(trunk_props(url))
    stored = server.trunks[created.id]
    assert (list(stored.numbers), list(stored.allowed_addresses)) == (["+15550100001"], ["192.0.2.0/28"])
    assert (stored.auth_username, stored.auth_password) == ("hospital-staging", DIGEST_PASSWORD)
    assert created.outs["sip_trunk_id"] == created.id

    read = provider.read(created.id, created.outs)
    assert read.id == created.id
    assert read.outs == created.outs

    news = trunk_props(url, allowed_addresses=["192.0.2.0/28", "198.51.100.7"], auth_password_version="v2")
    updated = provider.update(created.id, created.outs, news)
    assert list(server.trunks[created.id].allowed_addresses) == ["192.0.2.0/28", "198.51.100.7"]
    assert server.trunks[created.id].auth_password == ROTATED_PASSWORD
    assert updated.outs["allowed_addresses"] == news["allowed_addresses"]

    provider.delete(created.id, updated.outs)
    assert created.id not in server.trunks
    assert provider.read(created.id, updated.outs).id is None


def test_rule_puts_each_caller_in_a_room_of_their_own_with_our_agent(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    provider = SipDispatchRuleProvider()
    created = provider.create(rule_props(url))
    stored = server.rules[created.id]
    assert stored.rule.WhichOneof("rule") == "dispatch_rule_individual"
    assert stored.rule.dispatch_rule_individual.room_prefix == "call-"
    assert [d.agent_name for d in stored.room_config.agents] == ["hospital-receptionist"] == [AGENT_NAME]
    assert list(stored.numbers) == ["+15550100001"]

    updated = provider.update(created.id, created.outs, rule_props(url, room_prefix="phone-"))
    assert server.rules[created.id].rule.dispatch_rule_individual.room_prefix == "phone-"
    assert updated.outs["room_prefix"] == "phone-"

    provider.delete(created.id, updated.outs)
    assert server.rules == {}
    provider.delete(created.id, updated.outs)  # already gone (destroy after a hand deletion) is not an error


def test_diff_names_changed_fields_and_replaces_for_another_project() -> None:
    url = "wss://hospital-staging.livekit.cloud"
    trunks, rules = trunk_provider(), SipDispatchRuleProvider()
    assert not trunks.diff("ST_1", trunk_props(url), trunk_props(url)).changes
    assert not rules.diff("SDR_1", rule_props(url), rule_props(url)).changes

    changed = trunks.diff("ST_1", trunk_props(url), trunk_props(url, numbers=["+15550100002"]))
    assert changed.changes is True
    assert not changed.replaces
    rotated = trunks.diff("ST_1", trunk_props(url), trunk_props(url, auth_password_version="v2"))
    assert rotated.changes is True
    assert not rotated.replaces

    moved = rules.diff("SDR_1", rule_props(url), rule_props("wss://hospital-prod.livekit.cloud"))
    assert moved.replaces == ["livekit_url"]
    assert moved.delete_before_replace is True
    agent = rules.diff("SDR_1", rule_props(url), rule_props(url, agent_name="another-agent"))
    assert agent.changes is True
    assert not agent.replaces


def test_a_rule_deleted_by_hand_reads_as_gone_and_is_created_again(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    provider = SipDispatchRuleProvider()
    created = provider.create(rule_props(url))
    server.forget(created.id)

    assert provider.read(created.id, created.outs).id is None  # Pulumi drops it from state on refresh
    recreated = provider.create(rule_props(url))
    assert recreated.id != created.id
    assert set(server.rules) == {recreated.id}


def test_a_rerun_reads_and_changes_nothing(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    trunks, rules = trunk_provider(), SipDispatchRuleProvider()
    trunk = trunks.create(trunk_props(url))
    rule = rules.create(rule_props(url, trunk_ids=[trunk.id], numbers=[]))
    before = len(server.requests)

    trunk_state = trunks.read(trunk.id, trunk.outs).outs
    rule_state = rules.read(rule.id, rule.outs).outs
    assert not trunks.diff(trunk.id, trunk_state, trunk_props(url)).changes
    assert not rules.diff(rule.id, rule_state, rule_props(url, trunk_ids=[trunk.id], numbers=[])).changes
    assert server.methods()[before:] == ["ListSIPInboundTrunk", "ListSIPDispatchRule"]
    assert not WRITES & set(server.methods()[before:])


def test_every_call_carries_a_token_with_the_sip_admin_grant(
    standin: tuple[SipStandIn, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = standin
    rules = SipDispatchRuleProvider()
    rule = rules.create(rule_props(url))
    rules.read(rule.id, rule.outs)
    assert server.requests
    assert all(r.sip_admin for r in server.requests)
    assert all(r.authorization.startswith("Bearer ") for r in server.requests)
    assert {r.content_type for r in server.requests} == {"application/protobuf"}

    monkeypatch.setenv("LIVEKIT_API_SECRET", "made-up-wrong-secret-for-the-stand-in-0001")  # pragma: allowlist secret
    with pytest.raises(api.TwirpError) as refused:
        rules.create(rule_props(url))
    assert refused.value.code == "unauthenticated"


def test_missing_credentials_are_one_readable_line(
    standin: tuple[SipStandIn, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = standin
    monkeypatch.delenv("LIVEKIT_API_SECRET")
    with pytest.raises(SipCredentialsMissing, match="LIVEKIT_API_SECRET not set: export") as missing:
        SipDispatchRuleProvider().create(rule_props(url))
    assert "\n" not in str(missing.value)
    assert server.requests == []


def test_no_secret_reaches_what_pulumi_stores(standin: tuple[SipStandIn, str]) -> None:
    """State holds a dynamic resource's inputs, its outputs and its pickled provider: none may hold a secret."""
    server, url = standin
    trunks = SipInboundTrunkProvider()  # the one the program declares: reads Secrets Manager when it runs
    stand_in_trunks = trunk_provider()
    created = stand_in_trunks.create(trunk_props(url))
    read = stand_in_trunks.read(created.id, created.outs)
    assert server.trunks[created.id].auth_password == DIGEST_PASSWORD  # LiveKit got it, and echoes it back

    stored = [
        repr(trunk_props(url)),
        repr(created.outs),
        repr(read.outs),
        base64.b64decode(serialize_provider(trunks)).decode("latin-1"),
        base64.b64decode(serialize_provider(SipDispatchRuleProvider())).decode("latin-1"),
    ]
    for text in stored:
        for secret in (DIGEST_PASSWORD, API_SECRET, API_KEY):
            assert secret not in text
    assert "auth_password" not in created.outs


def test_the_stand_in_speaks_twirp_json_as_well(standin: tuple[SipStandIn, str]) -> None:
    """LiveKit's docs call the SIP API with curl and JSON bodies; the stand-in answers those in JSON."""
    server, url = standin
    token = api.AccessToken(API_KEY, API_SECRET).with_sip_grants(api.SIPGrants(admin=True)).to_jwt()
    body = json.dumps({"dispatch_rule": {"rule": {"dispatchRuleIndividual": {"roomPrefix": "call-"}}}})
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    connection.request(
        "POST",
        "/twirp/livekit.SIP/CreateSIPDispatchRule",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    assert response.getheader("Content-Type") == "application/json"
    created = json.loads(response.read())
    connection.close()
    assert created["sipDispatchRuleId"].startswith("SDR_")
    assert server.rules[created["sipDispatchRuleId"]].rule.dispatch_rule_individual.room_prefix == "call-"


def test_a_trunk_waits_for_its_password(standin: tuple[SipStandIn, str]) -> None:
    """Before the operator put the password (no current version), creating the trunk stops with what to do."""
    server, url = standin
    with pytest.raises(SipTrunkPasswordMissing, match="put-secret-value --secret-id arn:aws:secretsmanager"):
        trunk_provider().create(trunk_props(url, auth_password_version=""))
    assert server.trunks == {}


def test_a_trunk_without_digest_auth_reads_no_secret(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    provider = SipInboundTrunkProvider(read_secret=lambda *_: pytest.fail("no secret to read"))
    props = trunk_props(url, auth_username="", auth_password_secret_id="", auth_password_version="")
    created = provider.create(props)
    assert server.trunks[created.id].auth_password == ""


def number_props(url: str, **changes: Any) -> dict[str, Any]:
    return {"livekit_url": url, "phone_number": "+15550100001", "dispatch_rule_id": "SDR_000000000001", **changes}


def test_a_bought_number_is_pointed_at_the_rule_and_let_go_on_destroy(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    number_id = server.buy("+15550100001")
    provider = LiveKitPhoneNumberProvider()
    created = provider.create(number_props(url))
    assert created.id == number_id
    assert server.numbers[number_id]["sip_dispatch_rule_ids"] == ["SDR_000000000001"]
    assert provider.read(created.id, created.outs).outs == created.outs

    updated = provider.update(created.id, created.outs, number_props(url, dispatch_rule_id="SDR_000000000002"))
    assert server.numbers[number_id]["sip_dispatch_rule_ids"] == ["SDR_000000000002"]

    provider.delete(created.id, updated.outs)
    assert server.numbers[number_id]["sip_dispatch_rule_ids"] == []  # unassigned, still bought
    assert server.numbers[number_id]["status"] == "PHONE_NUMBER_STATUS_ACTIVE"
    assert all(r.sip_admin for r in server.requests)


def test_a_number_moved_by_hand_is_drift_and_a_released_one_is_gone(standin: tuple[SipStandIn, str]) -> None:
    server, url = standin
    number_id = server.buy("+15550100001")
    provider = LiveKitPhoneNumberProvider()
    created = provider.create(number_props(url))

    server.numbers[number_id]["sip_dispatch_rule_ids"] = []  # unassigned in the dashboard
    state = provider.read(created.id, created.outs).outs
    assert state["dispatch_rule_id"] == ""
    assert provider.diff(created.id, state, number_props(url)).changes is True

    server.numbers[number_id]["status"] = "PHONE_NUMBER_STATUS_RELEASED"
    assert provider.read(created.id, created.outs).id is None

    other = provider.diff(created.id, created.outs, number_props(url, phone_number="+15550100009"))
    assert other.replaces == ["phone_number"]


def test_a_number_the_project_did_not_buy_is_one_readable_line(standin: tuple[SipStandIn, str]) -> None:
    _, url = standin
    with pytest.raises(PhoneNumberNotInProject, match=r"^\+15550100001 is not a number of this LiveKit project"):
        LiveKitPhoneNumberProvider().create(number_props(url))


def test_a_provider_call_leaves_the_threads_event_loop_alone(standin: tuple[SipStandIn, str]) -> None:
    """Pulumi's runtime keeps using its thread's event loop after a provider call (under mocks, the same thread)."""
    _, url = standin
    kept: list[bool] = []

    def in_a_thread_with_a_loop() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            SipDispatchRuleProvider().create(rule_props(url))
            kept.append(asyncio.get_event_loop() is loop)
        except RuntimeError:  # no current event loop any more
            kept.append(False)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    thread = threading.Thread(target=in_a_thread_with_a_loop)
    thread.start()
    thread.join(timeout=30)
    assert kept == [True]

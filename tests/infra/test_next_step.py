"""The `nextStep` output follows LiveKit's order for a private link: the agent exists first (LiveKit's AWS guide
lists "a deployed agent" as a prerequisite, https://docs.livekit.io/deploy/agents/private-links/aws/), then
`lk agent private-link create`, then the endpoint connection is accepted, then the stack learns the link's host."""

from __future__ import annotations

import json

import pytest

from infra.config import SettingsError, parse
from tests.infra.harness import OPERATOR_VALUES, Run, run_program, stack_values

SERVICE = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_before_the_link_exists_the_agent_comes_first(stack_runs: dict[str, Run], stack: str) -> None:
    step = stack_runs[stack].exports["nextStep"]
    order = [
        "lk agent create --region us-east",
        f"lk agent private-link create --name hospital-receptionist-{stack} --region us-east --port 5432 "
        f"--endpoint {SERVICE}",
        "aws ec2 accept-vpc-endpoint-connections --region us-east-1 --service-id",
        f"pulumi config set -s {stack} hospital-receptionist:privateLinkHost",
        f"pulumi up -s {stack}",
    ]
    positions = [step.find(part) for part in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), "LiveKit's order: agent, private link, acceptance, then the stack"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_once_the_link_host_is_set_nothing_is_left(linked_runs: dict[str, Run], stack: str) -> None:
    assert linked_runs[stack].exports["nextStep"] is None
    assert linked_runs[stack].exports["agentDeployed"] is True


def test_no_private_link_no_next_step(stack_runs: dict[str, Run]) -> None:
    assert stack_runs["dev"].exports["nextStep"] is None


def test_a_stack_that_deploys_no_agent_has_no_next_step() -> None:
    assert run_program("staging", {"deployAgent": False}).exports["nextStep"] is None


@pytest.mark.parametrize("host", ["hospital-db-0123.link", "hospital-receptionist-staging-p_abc123.plg.svc"])
def test_both_gateway_dns_forms_are_accepted(host: str) -> None:
    """LiveKit's docs show `*.link`; the lk CLI prints `<name>-<project id>.plg.svc` (privateLinkServiceDNS)."""
    raw = {**stack_values("staging"), **OPERATOR_VALUES, "privateLinkHost": host}
    raw = {k: json.dumps(v) if isinstance(v, list) else v for k, v in raw.items()}
    assert parse(raw).private_link_host == host


@pytest.mark.parametrize("host", ["hospital-db.example.com", "https://x.link", "x.link/path"])
def test_other_hosts_are_refused(host: str) -> None:
    raw = {**stack_values("staging"), **OPERATOR_VALUES, "privateLinkHost": host}
    raw = {k: json.dumps(v) if isinstance(v, list) else v for k, v in raw.items()}
    with pytest.raises(SettingsError, match="privateLinkHost"):
        parse(raw)

"""Subnets land in the zones the stack names by zone ID; an unknown or malformed zone ID fails clearly.

PrivateLink serves a consumer only in the zones both accounts have, identified by zone ID, since a zone name maps
to a different zone in each account (AWS PrivateLink Guide, "Create a service powered by AWS PrivateLink",
https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html). The mocked account maps names
to IDs out of order (tests/infra/harness.py ZONE_IDS), so choosing by position cannot pass.
"""

from __future__ import annotations

import json

import pytest

from infra.config import SettingsError, parse
from infra.network import zone_names
from tests.infra.harness import OPERATOR_VALUES, REGION, ZONE_IDS, Run, program_raises, run_program, stack_values

SUBNET = "aws:ec2/subnet:Subnet"
NAME_OF = {zone_id: f"{REGION}{letter}" for letter, zone_id in ZONE_IDS.items()}


def _subnet_zones(run: Run, tier: str) -> list[str]:
    subnets = sorted((r for r in run.of_type(SUBNET) if r.inputs["tags"]["tier"] == tier), key=lambda r: r.name)
    return [r.inputs["availabilityZone"] for r in subnets]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_private_subnets_are_in_the_configured_zone_ids(stack_runs: dict[str, Run], stack: str) -> None:
    zone_ids = stack_values(stack)["privateLinkZoneIds"]
    run = stack_runs[stack]
    assert _subnet_zones(run, "private") == [NAME_OF[zone_id] for zone_id in zone_ids]
    assert _subnet_zones(run, "public") == [NAME_OF[zone_id] for zone_id in zone_ids[:2]]
    nlb = run.named(f"{stack}-nlb").inputs
    assert len(nlb["subnets"]) == len(zone_ids), "the NLB (the endpoint service) spans every configured zone"


def test_another_choice_of_zone_ids_moves_the_subnets() -> None:
    run = run_program("staging", {"privateLinkZoneIds": ["use1-az2", "use1-az5"]})
    assert _subnet_zones(run, "private") == [f"{REGION}d", f"{REGION}f"]


def test_dev_without_zone_ids_takes_the_first_two_zones(stack_runs: dict[str, Run]) -> None:
    assert "privateLinkZoneIds" not in stack_values("dev")
    assert _subnet_zones(stack_runs["dev"], "public") == [f"{REGION}a", f"{REGION}b"]


def test_unknown_zone_id_fails_with_a_clear_message() -> None:
    with program_raises(SettingsError) as caught:
        run_program("staging", {"privateLinkZoneIds": ["use1-az1", "use1-az9"]})
    message = str(caught.value)
    assert "hospital-receptionist:privateLinkZoneIds: use1-az9 is not an available zone in us-east-1" in message
    assert "use1-az1, use1-az2, use1-az3, use1-az4, use1-az5, use1-az6" in message


def test_zone_names_map_by_id_not_position() -> None:
    names, ids = ["x-1a", "x-1b", "x-1c"], ["x1-az3", "x1-az1", "x1-az2"]
    assert zone_names(names, ids, ["x1-az1", "x1-az2"], "x-1") == ["x-1b", "x-1c"]


def _raw(stack: str, **changes: object) -> dict[str, object]:
    values = {**stack_values(stack), **OPERATOR_VALUES, **changes}
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in values.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"privateLinkZoneIds": None}, "privateLinkZoneIds must list at least two AWS zone IDs in private-link mode"),
        ({"privateLinkZoneIds": ["use1-az1"]}, "privateLinkZoneIds must list at least two"),
        ({"privateLinkZoneIds": ["us-east-1a", "use1-az2"]}, "not AWS zone IDs (like use1-az1): us-east-1a"),
        ({"privateLinkZoneIds": ["use1-az1", "use1-az1"]}, "lists a zone ID twice"),
        (
            {
                "existingVpcId": "vpc-0abc",
                "existingPrivateSubnetIds": ["subnet-1", "subnet-2"],
                "existingPublicSubnetIds": ["subnet-3"],
            },
            "privateLinkZoneIds places the subnets this program creates; with existingVpcId remove it",
        ),
    ],
)
def test_bad_zone_settings_fail_clearly(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(_raw("staging", **changes))
    assert message in str(caught.value)

"""The deploy and preview roles' policies are generated from what the program declares, and committed."""

from __future__ import annotations

import json

import pytest

from infra.iam_policies import (
    COMMAND_ACTIONS,
    OUTPUT,
    READ_PREFIXES,
    UnmappedTypeError,
    check_covered,
    declared_invokes,
    policies,
    render,
    size,
)
from tests.infra.harness import ROOT, Run

INLINE_POLICY_LIMIT = 10_240  # IAM: characters of all inline policies of one role, whitespace excluded


@pytest.fixture(scope="module")
def declared(stack_runs: dict[str, Run], linked_runs: dict[str, Run]) -> set[str]:
    return {r.type for run in [*stack_runs.values(), *linked_runs.values()] for r in run.resources}


def _actions(document: dict) -> dict[str, object]:
    """action -> its statement's Resource."""
    found = {}
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            found[action] = statement["Resource"]
    return found


def test_the_committed_policies_are_what_the_generator_writes(declared: set[str]) -> None:
    for role, document in policies(declared).items():
        path = OUTPUT / f"{role}-policy.json"
        assert path.read_text() == render(document), (
            f"{path.relative_to(ROOT)} is stale: run `.venv/bin/python -m infra.iam_policies`"
        )


def test_every_declared_type_has_its_permissions_decided(declared: set[str]) -> None:
    check_covered(declared)
    assert "aws:rds/proxy:Proxy" in declared
    with pytest.raises(UnmappedTypeError, match=r"aws:s3/bucket:Bucket.*infra/iam_policies.py"):
        policies(declared | {"aws:s3/bucket:Bucket"})


def test_every_invoke_the_program_calls_has_its_permissions_decided() -> None:
    invokes = declared_invokes()
    assert {
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        "aws:secretsmanager/getSecretVersions:getSecretVersions",
        "aws:ec2/getVpc:getVpc",
    } <= invokes
    check_covered((), invokes)
    with pytest.raises(UnmappedTypeError, match="aws:rds/getEngineVersion:getEngineVersion"):
        check_covered((), invokes | {"aws:rds/getEngineVersion:getEngineVersion"})


def test_preview_only_reads_and_never_reads_a_secret_value(declared: set[str]) -> None:
    actions = _actions(policies(declared)["preview"])
    writes = [a for a in actions if not a.split(":")[1].startswith(READ_PREFIXES)]
    assert writes == [], f"the preview role may change something: {writes}"
    assert "secretsmanager:GetSecretValue" not in actions, "a pull request must not read a secret"
    assert "ec2:DescribeAvailabilityZones" in actions, "the program's invokes run in preview too"


def test_deploy_may_run_what_the_commands_run_on_our_names_only(declared: set[str]) -> None:
    actions = _actions(policies(declared)["deploy"])
    for needed in (a for group in COMMAND_ACTIONS.values() for a in group):
        assert needed in actions
    assert actions["secretsmanager:GetSecretValue"] == [
        "arn:aws:secretsmanager:*:*:secret:hospital-receptionist-*",
        "arn:aws:secretsmanager:*:*:secret:rds!*",
    ]
    assert all(r != "*" for a, r in actions.items() if a.startswith("iam:")), "IAM actions are scoped"
    assert not [a for a in actions if a.endswith(":*") or a == "*"], "no service-wide wildcard"
    deploy = policies(declared)["deploy"]
    (pass_role,) = [s for s in deploy["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"]


def test_deploy_may_pass_each_role_to_the_service_that_assumes_it(
    declared: set[str], linked_runs: dict[str, Run]
) -> None:
    deploy = policies(declared)["deploy"]
    (pass_role,) = [s for s in deploy["Statement"] if s["Action"] == "iam:PassRole"]
    allowed = set(pass_role["Condition"]["StringEquals"]["iam:PassedToService"])
    trusted = {
        statement["Principal"]["Service"]
        for run in linked_runs.values()
        for role in run.of_type("aws:iam/role:Role")
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    }
    assert "scheduler.amazonaws.com" in trusted
    assert trusted - allowed == set()


def test_what_the_program_names_falls_inside_the_scopes(linked_runs: dict[str, Run]) -> None:
    """IAM roles, users and instance profiles are auto-named from their resource name, or named explicitly."""
    for run in linked_runs.values():
        for resource in run.resources:
            if resource.type.startswith("aws:iam/") and resource.type.split(":")[-1] in {
                "Role",
                "User",
                "InstanceProfile",
            }:
                name = resource.inputs.get("name") or resource.inputs.get("namePrefix") or resource.name
                assert name.startswith("hospital-receptionist-"), f"{resource.type} {name} is outside the IAM scope"
        for secret in run.of_type("aws:secretsmanager/secret:Secret"):
            assert secret.inputs["name"].startswith("hospital-receptionist-")


def test_the_policies_fit_a_role_and_the_guide_installs_them(declared: set[str]) -> None:
    documents = policies(declared)
    assert size(documents["deploy"]) <= INLINE_POLICY_LIMIT
    assert size(documents["preview"]) <= INLINE_POLICY_LIMIT
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for role in documents:
        assert f"file://infra/iam-policies/{role}-policy.json" in guide
    assert json.loads((OUTPUT / "deploy-policy.json").read_text()) == documents["deploy"]

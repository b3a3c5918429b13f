"""Every resource's physical name, as AWS will see it, fits its service's limits in every stack (infra.naming)."""

from __future__ import annotations

import pytest

from infra import naming
from tests.infra.harness import Run

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
RDS = "aws:rds/instance:Instance"


def _all_runs(stack_runs: dict[str, Run], linked_runs: dict[str, Run]) -> dict[str, Run]:
    return {**stack_runs, **{f"{stack}+link": run for stack, run in linked_runs.items()}}


def test_every_declared_type_has_a_naming_rule(stack_runs: dict[str, Run], linked_runs: dict[str, Run]) -> None:
    """A new resource type fails here until infra/naming.py says where its name is and what AWS allows."""
    missing = set()
    for run in _all_runs(stack_runs, linked_runs).values():
        for resource in run.resources:
            try:
                naming.rule_for(resource.type)
            except naming.UnknownType:
                missing.add(resource.type)
    assert missing == set()


def test_physical_names_fit_aws_limits(stack_runs: dict[str, Run], linked_runs: dict[str, Run]) -> None:
    problems = [
        f"{label} {resource.name}: {problem}"
        for label, run in _all_runs(stack_runs, linked_runs).items()
        for resource in run.resources
        for problem in naming.violations(resource.type, resource.name, resource.inputs)
    ]
    assert problems == []


def test_no_resource_relies_on_auto_naming(stack_runs: dict[str, Run], linked_runs: dict[str, Run]) -> None:
    """Every resource with a name of its own gets it (or its prefix) from the program, in every stack: an auto-name
    grows with the logical name and breaks limits a stack at a time."""
    autonamed = sorted(
        f"{label} {resource.type} {resource.name}"
        for label, run in _all_runs(stack_runs, linked_runs).items()
        for resource in run.resources
        if naming.autonamed(resource.type, resource.name, resource.inputs)
    )
    assert autonamed == []


def test_chosen_names_and_prefixes_differ_between_stacks(stack_runs: dict[str, Run]) -> None:
    """dev, staging and prod share one account: a name (or prefix) set in code must not repeat across stacks."""
    seen: dict[tuple[str, str], str] = {}
    for stack, run in stack_runs.items():
        for resource in run.resources:
            rule = naming.rule_for(resource.type)
            if rule is None or not rule.account_wide:
                continue
            for prop in (rule.prop, rule.prefix_prop):
                value = resource.inputs.get(prop) if prop else None
                if isinstance(value, str):
                    assert (resource.type, value) not in seen, f"{value!r} in {stack} and {seen[resource.type, value]}"
                    seen[resource.type, value] = stack


def test_load_balancer_names_fit_in_32_characters(stack_runs: dict[str, Run]) -> None:
    for stack in ("staging", "prod"):
        for resource_type in (LOAD_BALANCER, TARGET_GROUP):
            for resource in stack_runs[stack].of_type(resource_type):
                name, _ = naming.physical_name(resource_type, resource.name, resource.inputs)
                assert len(name) <= 32, (stack, name)


@pytest.mark.parametrize(
    ("resource_type", "props", "logical", "expected"),
    [
        (LOAD_BALANCER, {"name": "given-name"}, "x", ("given-name", "given")),
        (LOAD_BALANCER, {"namePrefix": "stg-"}, "x", ("stg-" + "0" * 26, "namePrefix + 26 generated characters")),
        (TARGET_GROUP, {}, "db-targets", ("db-targets-abcdef0", "auto-name: logical name + '-' + 7 random characters")),
        (RDS, {"identifierPrefix": "db-"}, "x", ("db-" + "0" * 26, "identifierPrefix + 26 generated characters")),
        ("aws:cloudwatch/dashboard:Dashboard", {}, "board", None),
        ("aws:ec2/vpc:Vpc", {"tags": {"Name": "x" * 300}}, "vpc", None),
        ("hospital:infra:Database", {}, "anything", None),
    ],
)
def test_physical_name(resource_type: str, props: dict, logical: str, expected: tuple[str, str] | None) -> None:
    assert naming.physical_name(resource_type, logical, props) == expected


@pytest.mark.parametrize(
    ("resource_type", "props", "logical", "complaint"),
    [
        (LOAD_BALANCER, {"name": "a" * 33}, "x", "is 33 characters; AWS allows 32"),
        (LOAD_BALANCER, {}, "hospital-receptionist-staging-nlb", "is 41 characters; AWS allows 32"),
        (LOAD_BALANCER, {"name": "-starts-with-hyphen"}, "x", "no leading or trailing hyphen"),
        (LOAD_BALANCER, {"name": "internal-db"}, "x", "not starting with 'internal-'"),
        (LOAD_BALANCER, {"namePrefix": "seven-c"}, "x", "namePrefix 'seven-c' is 7 characters; at most 6"),
        (TARGET_GROUP, {"name": "under_score"}, "x", "alphanumerics and hyphens"),
        ("aws:iam/role:Role", {"name": "r" * 65}, "x", "AWS allows 64"),
        ("aws:iam/role:Role", {"name": "has space"}, "x", r"[\w+=,.@-]"),
        ("aws:lambda/function:Function", {"name": "dots.not.allowed"}, "x", "letters, digits, hyphens"),
        (RDS, {"identifier": "Upper"}, "x", "lower-case"),
        (RDS, {"identifier": "double--hyphen"}, "x", "single hyphens"),
        (RDS, {"identifier": "trailing-"}, "x", "no trailing hyphen"),
        (RDS, {"identifier": "1starts-with-digit"}, "x", "a letter first"),
        (RDS, {"identifier": "d" * 64}, "x", "AWS allows 63"),
        ("aws:rds/proxy:Proxy", {"name": "p" * 64}, "x", "AWS allows 63"),
        ("aws:cloudwatch/eventRule:EventRule", {}, "e" * 57, "AWS allows 64"),
        ("aws:kms/alias:Alias", {"name": "alias/aws/reserved"}, "x", "not 'alias/aws/'"),
        ("aws:ec2/securityGroup:SecurityGroup", {"name": "sg-looks-like-an-id"}, "x", "not starting with 'sg-'"),
    ],
)
def test_violations(resource_type: str, props: dict, logical: str, complaint: str) -> None:
    found = naming.violations(resource_type, logical, props)
    assert any(complaint in problem for problem in found), found


def test_names_at_the_limit_pass() -> None:
    assert naming.violations(LOAD_BALANCER, "x", {"name": "a" * 32}) == []
    assert naming.violations(LOAD_BALANCER, "x", {"namePrefix": "hrstg-"}) == []
    assert naming.violations(RDS, "x", {"identifier": "d" * 63}) == []
    assert naming.violations("aws:iam/role:Role", "x", {"name": "r" * 64}) == []
    assert naming.violations("aws:iam/role:Role", "x", {"namePrefix": "r" * 38}) == []
    assert naming.violations("aws:iam/role:Role", "x", {"namePrefix": "r" * 39})


@pytest.mark.parametrize(
    ("props", "logical", "expected"),
    [
        ({}, "hospital-receptionist-dev-db-sg", True),
        # The engine's view after the provider's Check: the auto-name filled in.
        ({"name": "hospital-receptionist-dev-db-sg-0a1b2c3"}, "hospital-receptionist-dev-db-sg", True),
        ({"name": "hospital-receptionist-dev-db-sg-0A1B2C3"}, "hospital-receptionist-dev-db-sg", False),
        ({"name": "hospital-receptionist-dev-db"}, "hospital-receptionist-dev-db-sg", False),
        ({"namePrefix": "hospital-receptionist-dev-db-"}, "hospital-receptionist-dev-db-sg", False),
    ],
)
def test_autonamed(props: dict, logical: str, expected: bool) -> None:
    assert naming.autonamed(naming.SECURITY_GROUP, logical, props) is expected
    complaint = [p for p in naming.violations(naming.SECURITY_GROUP, logical, props) if "auto-name" in p]
    assert bool(complaint) is expected


def test_types_without_auto_names_or_names_are_not_autonamed() -> None:
    assert not naming.autonamed("aws:cloudwatch/dashboard:Dashboard", "board", {})
    assert not naming.autonamed("aws:ec2/vpc:Vpc", "vpc", {})


def test_prefix_and_name_helpers_check_what_they_build() -> None:
    assert naming.prefix(naming.IAM_ROLE, "hospital-receptionist-staging", "console") == (
        "hospital-receptionist-staging-console-"
    )
    assert naming.name(naming.EVENT_TARGET, "sync-proxy-targets") == "sync-proxy-targets"
    with pytest.raises(naming.InvalidName, match=r"namePrefix .* is 43 characters; at most 38 allowed"):
        naming.prefix(naming.IAM_ROLE, "hospital-receptionist-staging", "console-exec")
    with pytest.raises(naming.InvalidName, match="lower-case"):
        naming.prefix(naming.RDS_SUBNET_GROUP, "Hospital", "db")
    with pytest.raises(naming.InvalidName, match="AWS allows 64"):
        naming.name(naming.LAMBDA_FUNCTION, "hospital-receptionist-staging", "x" * 40)
    with pytest.raises(naming.InvalidName, match="has no name prefix"):
        naming.prefix(naming.EVENT_TARGET, "sync")


@pytest.mark.parametrize(("stack", "prefix"), [("dev", "hrdev-"), ("staging", "hrsta-"), ("prod", "hrpro-")])
def test_elb_name_prefix(stack: str, prefix: str) -> None:
    assert naming.elb_name_prefix(f"hospital-receptionist-{stack}", stack) == prefix
    assert naming.violations(LOAD_BALANCER, "x", {"namePrefix": prefix}) == []


def test_every_rule_cites_the_aws_api_reference() -> None:
    for resource_type, rule in naming.RULES.items():
        if rule is not None:
            assert rule.source.startswith("https://docs.aws.amazon.com/"), resource_type
            assert rule.max_length > 0, resource_type


def test_unknown_type_is_refused() -> None:
    with pytest.raises(naming.UnknownType, match="aws:s3/bucket:Bucket has no naming rule"):
        naming.violations("aws:s3/bucket:Bucket", "bucket", {})

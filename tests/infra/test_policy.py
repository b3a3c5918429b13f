"""Each policy flags a violating resource and passes a compliant one (validate called directly, and the names rule
through the running pack as `pulumi preview --policy-pack` reaches it)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.policy.rules import POLICIES
from tests.infra.harness import ROOT
from tests.infra.language_host import running_policy_pack

POLICY = {p.name: p for p in POLICIES}
RDS = "aws:rds/instance:Instance"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
NAMES_POLICY = "aws-name-limits"
GOOD_DB = {
    "storageEncrypted": True,
    "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    "publiclyAccessible": False,
    "backupRetentionPeriod": 14,
    "backupWindow": "03:00-04:00",
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "tags": {"Environment": "prod", "AccessMode": "private-link"},
}


def _options() -> PolicyResourceOptions:
    timeouts = PolicyCustomTimeouts(0, 0, 0)
    return PolicyResourceOptions(False, [], None, [], timeouts, [])


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:staging::hospital-receptionist::{resource_type}::{name}"


def _violations(policy: str, resource_type: str, props: dict, name: str = "x") -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, _urn(resource_type, name), name, _options(), None)
    POLICY[policy].validate(args, lambda message, urn=None: found.append(message))
    return found


@pytest.mark.parametrize(
    ("policy", "resource_type", "good", "bad"),
    [
        ("rds-storage-encrypted", RDS, GOOD_DB, {**GOOD_DB, "storageEncrypted": False}),
        (
            "rds-not-public",
            RDS,
            {**GOOD_DB, "publiclyAccessible": True, "tags": {"Environment": "dev", "AccessMode": "public"}},
            {**GOOD_DB, "publiclyAccessible": True},
        ),
        ("rds-backups", RDS, GOOD_DB, {**GOOD_DB, "backupRetentionPeriod": 0}),
        (
            "rds-backups",
            RDS,
            {**GOOD_DB, "tags": {"Environment": "dev"}, "backupRetentionPeriod": 1},
            {**GOOD_DB, "backupRetentionPeriod": 3},
        ),
        ("rds-prod-deletion-protection", RDS, GOOD_DB, {**GOOD_DB, "deletionProtection": False}),
        ("rds-prod-deletion-protection", RDS, GOOD_DB, {**GOOD_DB, "skipFinalSnapshot": True}),
        ("rds-proxy-tls", "aws:rds/proxy:Proxy", {"requireTls": True}, {"requireTls": False}),
        (
            "rds-force-ssl",
            "aws:rds/parameterGroup:ParameterGroup",
            {"parameters": [{"name": "rds.force_ssl", "value": "1"}]},
            {"parameters": [{"name": "rds.force_ssl", "value": "0"}]},
        ),
        (NAMES_POLICY, LOAD_BALANCER, {"name": "a" * 32}, {"name": "a" * 33}),
        (NAMES_POLICY, LOAD_BALANCER, {"namePrefix": "hrsta-"}, {"namePrefix": "hrstag-"}),
        (NAMES_POLICY, RDS, {**GOOD_DB, "identifier": "db-1"}, {**GOOD_DB, "identifier": "DB--1"}),
        (
            "postgres-not-open-to-internet",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            {"fromPort": 5432, "toPort": 5432, "ipProtocol": "tcp", "cidrIpv4": "198.51.100.0/24"},
            {"fromPort": 5432, "toPort": 5432, "ipProtocol": "tcp", "cidrIpv4": "0.0.0.0/0"},
        ),
        (
            "postgres-not-open-to-internet",
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"fromPort": 443, "toPort": 443, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}]},
            {"ingress": [{"fromPort": 0, "toPort": 0, "protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}]},
        ),
    ],
)
def test_resource_policy_flags_bad_and_passes_good(policy: str, resource_type: str, good: dict, bad: dict) -> None:
    assert _violations(policy, resource_type, good) == []
    assert _violations(policy, resource_type, bad)


def _resource(resource_type: str, name: str, props: dict) -> PolicyResource:
    return PolicyResource(resource_type, props, f"urn:{name}", name, _options(), None, None, [], {})


def test_alarms_present_stack_policy() -> None:
    names = ["heartbeat-missing", "uptime-24h", "agent-processing-p95", "turn-e2e-p95", "error-rate"]
    alarms = [_resource("aws:cloudwatch/metricAlarm:MetricAlarm", n, {"name": f"stack-{n}"}) for n in names]
    proxy = _resource("aws:rds/proxy:Proxy", "proxy", {"requireTls": True})

    def run(resources: list[PolicyResource]) -> list[str]:
        found: list[str] = []
        POLICY["alarms-present"].validate(StackValidationArgs(resources), lambda m, urn=None: found.append(m))
        return found

    assert run(alarms) == []
    assert run(alarms[1:]) == ["missing alarm *heartbeat-missing"]
    assert run([*alarms, proxy]) == ["missing alarm *proxy-pool-use"]
    pool = _resource("aws:cloudwatch/metricAlarm:MetricAlarm", "pool", {"name": "stack-proxy-pool-use"})
    assert run([*alarms, proxy, pool]) == []


def test_program_resources_pass_every_policy(stack_runs) -> None:
    for stack, run in stack_runs.items():
        for resource in run.resources:
            for policy in POLICIES:
                if hasattr(policy, "validate") and policy.name != "alarms-present":
                    found = _violations(policy.name, resource.type, resource.inputs, resource.name)
                    assert found == [], (stack, resource.name, found)
        assert _stack_violations([_resource(r.type, r.name, r.inputs) for r in run.resources]) == [], stack


def _stack_violations(resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    POLICY["alarms-present"].validate(StackValidationArgs(resources), lambda m, urn=None: found.append(m))
    return found


def test_names_policy_computes_auto_names_and_refuses_unknown_types() -> None:
    """Without `name` (no Check yet, or a prefix) the rule reckons with the auto-name from the logical name."""
    too_long = _violations(NAMES_POLICY, LOAD_BALANCER, {}, name="hospital-receptionist-staging-nlb")
    assert any("is 41 characters; AWS allows 32" in problem for problem in too_long), too_long
    assert [p for p in _violations(NAMES_POLICY, LOAD_BALANCER, {}, name="short-nlb") if "characters" in p] == []
    assert _violations(NAMES_POLICY, "aws:s3/bucket:Bucket", {}) == [
        "aws:s3/bucket:Bucket has no naming rule in infra/naming.py RULES"
    ]


@pytest.mark.parametrize(
    ("props", "autonamed"),
    [
        # As the engine passes them after the provider's Check filled in the auto-name.
        ({"name": "hospital-receptionist-staging-db-sg-0a1b2c3"}, True),
        ({}, True),
        ({"namePrefix": "hospital-receptionist-staging-db-"}, False),
        ({"name": "hospital-receptionist-staging-db"}, False),
    ],
)
def test_names_policy_refuses_auto_names(props: dict, autonamed: bool) -> None:
    found = _violations(NAMES_POLICY, SECURITY_GROUP, props, name="hospital-receptionist-staging-db-sg")
    assert found == (
        ["name is Pulumi's auto-name, which grows with the logical name: set `name` or `namePrefix` (infra.naming)"]
        if autonamed
        else []
    )


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The policy pack started as `pulumi preview --policy-pack infra/policy` starts it, reached over its gRPC port."""
    with running_policy_pack(ROOT / "infra" / "policy") as pack:
        assert pack.port, pack.errors
        with grpc.insecure_channel(f"127.0.0.1:{pack.port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)


def _analyze(stub: analyzer_pb2_grpc.AnalyzerStub, resource_type: str, name: str, props: dict) -> list[tuple]:
    """The engine's Analyze call: the resource's checked inputs as a Struct, its URN and logical name."""
    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type, properties=properties, urn=_urn(resource_type, name), name=name
    )
    response = stub.Analyze(request, timeout=10)
    return [(d.policyName, d.enforcementLevel, d.message) for d in response.diagnostics]


def test_running_pack_blocks_a_33_character_load_balancer_name(analyzer) -> None:
    found = _analyze(analyzer, LOAD_BALANCER, "hospital-receptionist-staging-nlb", {"name": "a" * 33})
    assert [(policy, level) for policy, level, _ in found] == [(NAMES_POLICY, analyzer_pb2.MANDATORY)]
    assert "is 33 characters; AWS allows 32" in found[0][2]
    assert _analyze(analyzer, LOAD_BALANCER, "hospital-receptionist-staging-nlb", {"name": "a" * 32}) == []


def test_running_pack_blocks_an_auto_name(analyzer) -> None:
    logical = "hospital-receptionist-staging-tunnel-role"
    found = _analyze(analyzer, "aws:iam/role:Role", logical, {"name": f"{logical}-0a1b2c3"})
    assert [(policy, level) for policy, level, _ in found] == [(NAMES_POLICY, analyzer_pb2.MANDATORY)]
    assert "auto-name" in found[0][2]
    assert (
        _analyze(analyzer, "aws:iam/role:Role", logical, {"namePrefix": "hospital-receptionist-staging-tunnel-"}) == []
    )

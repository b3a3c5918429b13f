"""Each policy flags a violating resource and passes a compliant one (validate called directly)."""

from __future__ import annotations

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.policy.rules import POLICIES

POLICY = {p.name: p for p in POLICIES}
RDS = "aws:rds/instance:Instance"
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


def _violations(policy: str, resource_type: str, props: dict) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, f"urn:{resource_type}::x", "x", _options(), None)
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
                    assert _violations(policy.name, resource.type, resource.inputs) == [], (stack, resource.name)
        assert _stack_violations([_resource(r.type, r.name, r.inputs) for r in run.resources]) == [], stack


def _stack_violations(resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    POLICY["alarms-present"].validate(StackValidationArgs(resources), lambda m, urn=None: found.append(m))
    return found

"""The NLB target sync: its handler against moto's ELB API on loopback (a stand-in for AWS, not AWS) with an
injected resolver, and its place in the program: inside the VPC, reaching the ELB API through an interface
endpoint, alarmed on errors.

A proxy is reachable only from its VPC (RDS User Guide, "Quotas and limitations for RDS Proxy",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html), so its name is resolved inside the VPC;
a name that does not resolve must leave the targets alone and fail the invocation (Lambda's `Errors` metric).
"""

from __future__ import annotations

import functools
import json
import socket

import boto3
import pytest

from infra.lambdas import sync_targets
from infra.lambdas.sync_targets import TargetSyncError
from infra.private_link import ELB_TARGET_ACTIONS, LAMBDA_VPC_ACCESS_POLICY
from tests.infra.harness import Run

REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
HOST = "hospital-receptionist-staging.proxy-c0ffee.us-east-1.rds.amazonaws.com"


@pytest.fixture
def target_group(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, str]:
    """An IP target group holding two addresses, and the environment the function gets from the program."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_url, **KEYS)
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    elb = boto3.client("elbv2", region_name=REGION, endpoint_url=moto_url, **KEYS)
    group = elb.create_target_group(Name=f"proxy-{vpc[-8:]}", Protocol="TCP", Port=5432, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.41.0.10", "Port": 5432}, {"Id": "10.41.1.30"}])
    for key, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
        "AWS_DEFAULT_REGION": REGION,
        "PROXY_ENDPOINT": HOST,
        "TARGET_GROUP_ARN": group,
        "TARGET_PORT": "5432",
    }.items():
        monkeypatch.setenv(key, value)
    return elb, group


def _targets(elb, group: str) -> set[str]:
    return {t["Target"]["Id"] for t in elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]}


def test_the_group_follows_the_proxys_addresses(target_group: tuple[object, str]) -> None:
    elb, group = target_group
    asked: list[str] = []

    def resolve(host: str) -> set[str]:
        asked.append(host)
        return {"10.41.0.10", "10.41.1.20"}

    result = sync_targets.handler({"reason": "schedule"}, None, resolve=resolve)
    assert asked == [HOST]
    assert result == {"registered": ["10.41.1.20"], "deregistered": ["10.41.1.30"]}
    assert _targets(elb, group) == {"10.41.0.10", "10.41.1.20"}
    assert sync_targets.handler({}, None, resolve=resolve) == {"registered": [], "deregistered": []}


def test_a_name_that_does_not_resolve_changes_nothing_and_fails(target_group: tuple[object, str]) -> None:
    elb, group = target_group
    before = _targets(elb, group)

    def no_such_name(*args: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    resolve = functools.partial(sync_targets.resolve_ipv4, lookup=no_such_name)
    with pytest.raises(TargetSyncError, match=f"{HOST} does not resolve .*targets left unchanged"):
        sync_targets.handler({}, None, resolve=resolve)
    assert _targets(elb, group) == before == {"10.41.0.10", "10.41.1.30"}


def test_an_empty_answer_changes_nothing_and_fails(target_group: tuple[object, str]) -> None:
    elb, group = target_group
    with pytest.raises(TargetSyncError, match="resolved to no address; targets left unchanged"):
        sync_targets.handler({}, None, resolve=lambda host: set())
    assert _targets(elb, group) == {"10.41.0.10", "10.41.1.30"}


def test_the_default_resolver_fails_loudly_on_an_unknown_name() -> None:
    with pytest.raises(TargetSyncError, match="does not resolve"):
        sync_targets.resolve_ipv4("no-such-proxy.invalid")


# The program: where the function runs and what watches it.


def test_the_function_runs_in_the_vpc_and_reaches_only_the_elb_api(stack_runs: dict[str, Run]) -> None:
    run = stack_runs["staging"]
    function = run.one("aws:lambda/function:Function").inputs
    private_subnets = run.named("staging-nlb").inputs["subnets"]
    vpc_config = function["vpcConfig"]
    assert vpc_config["subnetIds"] == private_subnets[:2]
    (group_id,) = vpc_config["securityGroupIds"]
    group_name = group_id.removesuffix("-id")

    endpoint = run.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.elasticloadbalancing"
    assert endpoint.inputs["vpcEndpointType"] == "Interface"
    assert endpoint.inputs["privateDnsEnabled"] is True
    assert endpoint.inputs["subnetIds"] == private_subnets[:2]
    (allowed,) = json.loads(endpoint.inputs["policy"])["Statement"]
    assert sorted(allowed["Action"]) == sorted(ELB_TARGET_ACTIONS)
    assert endpoint.urn in run.one("aws:lambda/function:Function").dependencies

    (endpoint_group_id,) = endpoint.inputs["securityGroupIds"]
    egress = [r.inputs for r in run.of_type(EGRESS) if r.inputs["securityGroupId"] == group_id]
    assert egress == [
        {
            **egress[0],
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "referencedSecurityGroupId": endpoint_group_id,
        }
    ], "the function's only way out is HTTPS to the ELB API endpoint"
    assert not [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group_id]
    ingress = [r.inputs for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == endpoint_group_id]
    assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in ingress] == [(443, group_id)]
    assert group_name.endswith("-sync-sg")

    role = run.named("-sync-role")
    attachment = run.named("-sync-vpc-access")
    assert attachment.inputs["policyArn"] == LAMBDA_VPC_ACCESS_POLICY
    assert role.urn in attachment.dependencies
    assert attachment.urn in run.one("aws:lambda/function:Function").dependencies, "ENI rights before the function"


def test_a_failed_sync_raises_an_alarm(stack_runs: dict[str, Run]) -> None:
    run = stack_runs["staging"]
    function = run.one("aws:lambda/function:Function").inputs
    alarm = next(r.inputs for r in run.of_type(ALARM) if r.inputs["name"].endswith("-target-sync-errors"))
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["dimensions"] == {"FunctionName": function["name"]}
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
    topic = run.one("aws:sns/topic:Topic")
    assert alarm["alarmActions"] == [f"arn:aws:mock:us-east-1:123456789012:{topic.name}"]


EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

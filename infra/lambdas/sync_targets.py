"""Lambda: keep the NLB target group equal to RDS Proxy's current IP addresses.

An RDS Proxy endpoint is a DNS name whose addresses change when AWS replaces proxy nodes; an NLB IP target group
does not follow them by itself (the AWS Database Blog's NLB-in-front-of-RDS pattern). This runs on a schedule
and once at deployment. RDS endpoint names resolve publicly to their private addresses, so the function needs
no VPC attachment and reaches the ELB API directly.
"""

from __future__ import annotations

import os
import socket

import boto3


def plan(resolved: set[str], registered: set[str]) -> tuple[set[str], set[str]]:
    """Targets to register and to deregister so that the group holds exactly the resolved addresses."""
    return resolved - registered, registered - resolved


def resolve(host: str) -> set[str]:
    return {info[4][0] for info in socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)}


def sync(elb, host: str, target_group_arn: str, port: int) -> dict[str, list[str]]:
    resolved = resolve(host)
    if not resolved:
        raise RuntimeError(f"{host} resolved to no address; targets left unchanged")
    health = elb.describe_target_health(TargetGroupArn=target_group_arn)
    registered = {item["Target"]["Id"] for item in health["TargetHealthDescriptions"]}
    add, remove = plan(resolved, registered)
    if add:
        elb.register_targets(TargetGroupArn=target_group_arn, Targets=[{"Id": ip, "Port": port} for ip in sorted(add)])
    if remove:
        elb.deregister_targets(
            TargetGroupArn=target_group_arn, Targets=[{"Id": ip, "Port": port} for ip in sorted(remove)]
        )
    return {"registered": sorted(add), "deregistered": sorted(remove)}


def handler(event: object, context: object) -> dict[str, list[str]]:
    return sync(
        boto3.client("elbv2"),
        host=os.environ["PROXY_ENDPOINT"],
        target_group_arn=os.environ["TARGET_GROUP_ARN"],
        port=int(os.environ["TARGET_PORT"]),
    )

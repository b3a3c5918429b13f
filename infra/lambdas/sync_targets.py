"""Lambda: keep the NLB target group equal to RDS Proxy's current IP addresses.

An RDS Proxy endpoint is a DNS name whose addresses change when AWS replaces proxy nodes; an NLB IP target group
does not follow them by itself (the AWS Database Blog's NLB-in-front-of-RDS pattern). This runs on a schedule
and once at deployment, inside the VPC: a proxy is reachable only from its VPC (RDS User Guide, "Quotas and
limitations for RDS Proxy"), so its name is resolved by the VPC's resolver, and the ELB API is reached through
the VPC's interface endpoint, without internet.

A name that does not resolve, or resolves to nothing, changes no target and fails the invocation, which the
Lambda `Errors` alarm reports: an empty answer must never deregister a healthy proxy.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import boto3

Resolver = Callable[[str], set[str]]


class TargetSyncError(Exception):
    """The proxy's addresses could not be read; the target group was left unchanged."""


def plan(resolved: set[str], registered: set[str]) -> tuple[set[str], set[str]]:
    """Targets to register and to deregister so that the group holds exactly the resolved addresses."""
    return resolved - registered, registered - resolved


def resolve_ipv4(host: str, lookup: Callable[..., list] = socket.getaddrinfo) -> set[str]:
    try:
        answers = lookup(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise TargetSyncError(f"{host} does not resolve ({error}); targets left unchanged") from error
    return {answer[4][0] for answer in answers}


def sync(elb, host: str, target_group_arn: str, port: int, resolve: Resolver = resolve_ipv4) -> dict[str, list[str]]:
    resolved = resolve(host)
    if not resolved:
        raise TargetSyncError(f"{host} resolved to no address; targets left unchanged")
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


def handler(event: object, context: object, *, resolve: Resolver = resolve_ipv4) -> dict[str, list[str]]:
    return sync(
        boto3.client("elbv2"),
        host=os.environ["PROXY_ENDPOINT"],
        target_group_arn=os.environ["TARGET_GROUP_ARN"],
        port=int(os.environ["TARGET_PORT"]),
        resolve=resolve,
    )

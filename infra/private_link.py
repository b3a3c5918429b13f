"""Private link: an internal NLB in front of RDS Proxy (targets kept current by a small Lambda) and a VPC
endpoint service with acceptance required that allows LiveKit's principal. Its service name is what
`lk agent private-link create --endpoint` takes."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.config import StackSettings
from infra.database import POSTGRES_PORT
from infra.naming import elb_name_prefix

SYNC_SCHEDULE = "rate(5 minutes)"
SYNC_SOURCE = Path(__file__).parent / "lambdas" / "sync_targets.py"

LAMBDA_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def target_sync_policy(target_group_arn: str, log_group_arn: str) -> str:
    """Change only our target group's targets, and write only our function's logs."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                    "Resource": [target_group_arn],
                },
                # DescribeTargetHealth supports no resource-level permission.
                {"Effect": "Allow", "Action": ["elasticloadbalancing:DescribeTargetHealth"], "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": [f"{log_group_arn}:*"],
                },
            ],
        }
    )


class PrivateLink(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    load_balancer_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        vpc_id: pulumi.Input[str],
        vpc_cidr: pulumi.Input[str],
        subnet_ids: pulumi.Input[list[str]],
        proxy_endpoint: pulumi.Input[str],
        proxy_security_group_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:PrivateLink", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-nlb-sg", vpc_id=vpc_id, description="NLB: PostgreSQL from the VPC, to RDS Proxy", opts=child
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nlb-from-vpc",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            cidr_ipv4=vpc_cidr,
            description="PostgreSQL from inside the VPC (endpoint-service traffic arrives from NLB addresses)",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nlb-to-proxy",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=proxy_security_group_id,
            description="NLB to RDS Proxy",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-proxy-from-nlb",
            security_group_id=proxy_security_group_id,
            ip_protocol="tcp",
            from_port=POSTGRES_PORT,
            to_port=POSTGRES_PORT,
            referenced_security_group_id=group.id,
            description="RDS Proxy from the NLB",
            opts=child,
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            name_prefix=elb_name_prefix(name, pulumi.get_stack()),
            load_balancer_type="network",
            internal=True,
            subnets=subnet_ids,
            security_groups=[group.id],
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=settings.app_env == "prod",
            # Who may connect is decided by the endpoint service's allowed principals and acceptance.
            enforce_security_group_inbound_rules_on_private_link_traffic="off",
            opts=child,
        )
        targets = aws.lb.TargetGroup(
            f"{name}-proxy-targets",
            name_prefix=elb_name_prefix(name, pulumi.get_stack()),
            port=POSTGRES_PORT,
            protocol="TCP",
            target_type="ip",
            vpc_id=vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(protocol="TCP", interval=10, healthy_threshold=2),
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=balancer.arn,
            port=POSTGRES_PORT,
            protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=targets.arn)],
            opts=child,
        )
        self._target_sync(name, settings, targets.arn, proxy_endpoint)
        service = aws.ec2.VpcEndpointService(
            f"{name}-endpoint-service",
            acceptance_required=True,
            network_load_balancer_arns=[balancer.arn],
            allowed_principals=[settings.livekit_principal_arn],
            tags={"Name": f"{name}-livekit-private-link"},
            opts=child,
        )
        self.service_name = service.service_name
        self.load_balancer_arn = balancer.arn
        self.register_outputs({"serviceName": self.service_name})

    def _target_sync(
        self, name: str, settings: StackSettings, target_group_arn: pulumi.Output[str], proxy_endpoint
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{name}-sync-proxy-targets"
        logs = aws.cloudwatch.LogGroup(
            f"{name}-sync-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(f"{name}-sync-role", assume_role_policy=LAMBDA_TRUST_POLICY, opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-sync-policy",
            role=role.id,
            policy=pulumi.Output.all(target_group_arn, logs.arn).apply(lambda a: target_sync_policy(a[0], a[1])),
            opts=child,
        )
        function = aws.lambda_.Function(
            f"{name}-sync",
            name=function_name,
            runtime="python3.12",
            architectures=["arm64"],
            handler="sync_targets.handler",
            role=role.arn,
            timeout=30,
            code=pulumi.AssetArchive({"sync_targets.py": pulumi.FileAsset(str(SYNC_SOURCE))}),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "PROXY_ENDPOINT": proxy_endpoint,
                    "TARGET_GROUP_ARN": target_group_arn,
                    "TARGET_PORT": str(POSTGRES_PORT),
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, policy]),
        )
        schedule = aws.cloudwatch.EventRule(f"{name}-sync-schedule", schedule_expression=SYNC_SCHEDULE, opts=child)
        permission = aws.lambda_.Permission(
            f"{name}-sync-permission",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-sync-target",
            rule=schedule.name,
            arn=function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        # Register the first targets during the deployment itself, so the link is healthy right away.
        aws.lambda_.Invocation(
            f"{name}-sync-now",
            function_name=function.name,
            input=json.dumps({"reason": "deployment"}),
            triggers={"proxyEndpoint": proxy_endpoint, "targetGroup": target_group_arn},
            opts=child,
        )

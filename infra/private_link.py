"""Private link: an internal NLB in front of RDS Proxy (targets kept current by a small Lambda inside the VPC) and
a VPC endpoint service with acceptance required that allows LiveKit's principal. Its service name is what
`lk agent private-link create --endpoint` takes."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import PROJECT, StackSettings
from infra.database import POSTGRES_PORT
from infra.network import allow_tcp, security_group

SYNC_SCHEDULE = "rate(5 minutes)"
# Managed policy that lets a function create and delete its network interfaces in the VPC.
LAMBDA_VPC_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
ELB_TARGET_ACTIONS = (
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DescribeTargetHealth",
)
# The function and the ELB API endpoint sit in this many of the private subnets (an interface endpoint bills
# per zone and hour): two, so one zone's outage does not stop the sync.
SYNC_ZONE_COUNT = 2
HTTPS_PORT = 443
SYNC_SOURCE = Path(__file__).parent / "lambdas" / "sync_targets.py"

LAMBDA_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def elb_endpoint_policy() -> str:
    """What may pass the VPC's ELB API endpoint: the target sync's three actions, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": list(ELB_TARGET_ACTIONS), "Resource": "*"}],
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


def next_step(settings: StackSettings, stack: str, link_name: str, service_name: str, service_id: str) -> str | None:
    """What the operator runs next, in LiveKit's order: its AWS guide lists a deployed agent as a prerequisite of
    `lk agent private-link create` (https://docs.livekit.io/deploy/agents/private-links/aws/). None once the stack
    knows the link's host (this `pulumi up` deploys the agent) or has no private link to set up."""
    if not (settings.private_link and settings.deploy_agent) or settings.private_link_host:
        return None
    region = settings.livekit_region
    steps = (
        f"create the agent if it does not exist yet: lk agent create --region {region} "
        '(docs/deployment.md, "Create the agent")',
        f"lk agent private-link create --name {link_name} --region {region} --port {POSTGRES_PORT} "
        f"--endpoint {service_name}",
        f"accept its endpoint connection: aws ec2 describe-vpc-endpoint-connections --region {settings.region} "
        f"--filters Name=service-id,Values={service_id} then aws ec2 accept-vpc-endpoint-connections "
        f"--region {settings.region} --service-id {service_id} --vpc-endpoint-ids <its VpcEndpointId>",
        f"pulumi config set -s {stack} {PROJECT}:privateLinkHost <the Gateway DNS it printed> && pulumi up -s {stack}",
    )
    return " ; ".join(f"{number}) {step}" for number, step in enumerate(steps, start=1))


class PrivateLink(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service_id: pulumi.Output[str]
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
        alert_topic_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:PrivateLink", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = security_group(
            name, "nlb", vpc_id=vpc_id, description="NLB: PostgreSQL from the VPC, to RDS Proxy", opts=child
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
        allow_tcp(
            POSTGRES_PORT,
            egress=(f"{name}-nlb-to-proxy", group.id, "NLB to RDS Proxy"),
            ingress=(f"{name}-proxy-from-nlb", proxy_security_group_id, "RDS Proxy from the NLB"),
            opts=child,
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-nlb",
            name_prefix=naming.elb_name_prefix(name, pulumi.get_stack()),
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
            name_prefix=naming.elb_name_prefix(name, pulumi.get_stack()),
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
        sync_subnet_ids = pulumi.Output.from_input(subnet_ids).apply(lambda ids: ids[:SYNC_ZONE_COUNT])
        self._target_sync(
            name,
            settings,
            network=(vpc_id, sync_subnet_ids),
            target_group_arn=targets.arn,
            proxy_endpoint=proxy_endpoint,
            alert_topic_arn=alert_topic_arn,
        )
        service = aws.ec2.VpcEndpointService(
            f"{name}-endpoint-service",
            acceptance_required=True,
            network_load_balancer_arns=[balancer.arn],
            allowed_principals=[settings.livekit_principal_arn],
            tags={"Name": f"{name}-livekit-private-link"},
            opts=child,
        )
        self.service_name = service.service_name
        self.service_id = service.id
        self.load_balancer_arn = balancer.arn
        self.register_outputs({"serviceName": self.service_name})

    def _sync_network(
        self, name: str, settings: StackSettings, vpc_id: pulumi.Input[str], subnet_ids: pulumi.Input[list[str]]
    ) -> aws.ec2.SecurityGroup:
        """The function's security group, whose only way out is HTTPS to the VPC's ELB API endpoint. DNS needs
        no rule: security groups do not filter traffic to the VPC's Amazon-provided resolver."""
        child = pulumi.ResourceOptions(parent=self)
        function_group = security_group(
            name, "sync", vpc_id=vpc_id, description="Target sync Lambda: HTTPS to the ELB API endpoint", opts=child
        )
        endpoint_group = security_group(
            name, "elb-api", vpc_id=vpc_id, description="ELB API endpoint: HTTPS from the target sync", opts=child
        )
        allow_tcp(
            HTTPS_PORT,
            egress=(f"{name}-sync-to-elb-api", function_group.id, "To the ELB API (interface endpoint)"),
            ingress=(f"{name}-elb-api-from-sync", endpoint_group.id, "From the target sync Lambda"),
            opts=child,
        )
        self.elb_api_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-elb-api",
            vpc_id=vpc_id,
            service_name=f"com.amazonaws.{settings.region}.elasticloadbalancing",
            vpc_endpoint_type="Interface",
            subnet_ids=subnet_ids,
            security_group_ids=[endpoint_group.id],
            # The SDK's regional ELB host name resolves to this endpoint inside the VPC.
            private_dns_enabled=True,
            policy=elb_endpoint_policy(),
            tags={"Name": f"{name}-elb-api"},
            opts=child,
        )
        return function_group

    def _target_sync(
        self,
        name: str,
        settings: StackSettings,
        *,
        network: tuple[pulumi.Input[str], pulumi.Input[list[str]]],
        target_group_arn: pulumi.Output[str],
        proxy_endpoint: pulumi.Input[str],
        alert_topic_arn: pulumi.Input[str],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        vpc_id, subnet_ids = network
        function_group = self._sync_network(name, settings, vpc_id, subnet_ids)
        function_name = naming.name(naming.LAMBDA_FUNCTION, name, "sync-proxy-targets")
        logs = aws.cloudwatch.LogGroup(
            f"{name}-sync-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-sync-role",
            name_prefix=naming.prefix(naming.IAM_ROLE, name, "sync"),
            assume_role_policy=LAMBDA_TRUST_POLICY,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-sync-policy",
            name_prefix=naming.prefix(naming.IAM_ROLE_POLICY, "sync-targets"),
            role=role.id,
            policy=pulumi.Output.all(target_group_arn, logs.arn).apply(lambda a: target_sync_policy(a[0], a[1])),
            opts=child,
        )
        vpc_access = aws.iam.RolePolicyAttachment(
            f"{name}-sync-vpc-access", role=role.id, policy_arn=LAMBDA_VPC_ACCESS_POLICY, opts=child
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
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=subnet_ids, security_group_ids=[function_group.id]),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "PROXY_ENDPOINT": proxy_endpoint,
                    "TARGET_GROUP_ARN": target_group_arn,
                    "TARGET_PORT": str(POSTGRES_PORT),
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, policy, vpc_access, self.elb_api_endpoint]),
        )
        schedule = aws.cloudwatch.EventRule(
            f"{name}-sync-schedule",
            name_prefix=naming.prefix(naming.EVENT_RULE, name, "sync"),
            schedule_expression=SYNC_SCHEDULE,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-sync-permission",
            statement_id_prefix=naming.prefix(naming.LAMBDA_PERMISSION, "sync-schedule"),
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-sync-target",
            target_id=naming.name(naming.EVENT_TARGET, "sync-proxy-targets"),
            rule=schedule.name,
            arn=function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        # A failed sync (the proxy's name does not resolve, the ELB API is unreachable) is an invocation error.
        aws.cloudwatch.MetricAlarm(
            f"{name}-target-sync-errors",
            name=f"{name}-target-sync-errors",
            alarm_description="The NLB target sync failed: the Private Link's targets may be stale (docs/runbook.md).",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
            alarm_actions=[alert_topic_arn],
            ok_actions=[alert_topic_arn],
            opts=child,
        )
        # Register the first targets during the deployment itself, so the link is healthy right away.
        aws.lambda_.Invocation(
            f"{name}-sync-now",
            function_name=function.name,
            input=json.dumps({"reason": "deployment"}),
            triggers={"proxyEndpoint": proxy_endpoint, "targetGroup": target_group_arn},
            opts=child,
        )

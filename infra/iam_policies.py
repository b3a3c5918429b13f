"""Least-privilege IAM policies for the roles that run the program: `deploy` (pulumi up, the migrations and the
agent deploy) and `preview` (pulumi preview, read only). Generated from what the program declares: every
resource type of a mocked run of each stack maps to the actions that create, read, update and delete it;
the invokes and the deploy commands add theirs. A type with no mapping stops the generator (and the test), so a
new resource cannot ship without its permissions being decided.

    .venv/bin/python -m infra.iam_policies          # rewrites infra/iam-policies/*.json

Names: every IAM role, user and instance profile and every secret the program creates starts with the
project's name, so IAM and Secrets Manager actions are scoped to `hospital-receptionist-*`.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.config import PROJECT

PROGRAM = Path(__file__).resolve().parent
OUTPUT = PROGRAM / "iam-policies"
STACKS = ("dev", "staging", "prod")
# A stack once LiveKit's Private Link exists (the agent deploy and the log drain appear only then).
LINKED_OVERRIDES = {"privateLinkHost": "generator.link"}
READ_PREFIXES = ("Describe", "Get", "List")


@dataclass(frozen=True)
class Permissions:
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


NONE = Permissions()
COMPONENTS = ("AgentSecrets", "Database", "Deploy", "LogDrain", "MigrationTunnel", "Monitoring", "Network")
COMPONENTS += ("PhoneLine", "PrivateLink", "Proxy")
COMPONENTS += ("PrivateLink", "Proxy")
COMPONENTS += ("Console", "ConsoleLogin")


def actions(read: str, write: str) -> Permissions:
    return Permissions(tuple(read.split()), tuple(write.split()))


# Resource type -> actions (space-separated). Reads include what `pulumi refresh` and drift detection call.
RESOURCE_ACTIONS: dict[str, Permissions] = {
    # Pulumi's own and our component types touch no AWS API; what the commands run is in COMMAND_ACTIONS.
    "pulumi:providers:aws": NONE,
    "random:index/randomPassword:RandomPassword": NONE,
    "command:local:Command": NONE,
    **{f"hospital:infra:{component}": NONE for component in COMPONENTS},
    "aws:cloudwatch/dashboard:Dashboard": actions(
        "cloudwatch:GetDashboard cloudwatch:ListDashboards",
        "cloudwatch:PutDashboard cloudwatch:DeleteDashboards",
    ),
    "aws:cloudwatch/eventRule:EventRule": actions(
        "events:DescribeRule events:ListTagsForResource events:ListTargetsByRule",
        (
            "events:PutRule events:DeleteRule events:EnableRule events:DisableRule events:TagResource "
            "events:UntagResource"
        ),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": actions(
        "events:ListTargetsByRule",
        "events:PutTargets events:RemoveTargets",
    ),
    "aws:cloudwatch/logGroup:LogGroup": actions(
        "logs:DescribeLogGroups logs:ListTagsForResource",
        (
            "logs:CreateLogGroup logs:DeleteLogGroup logs:PutRetentionPolicy logs:DeleteRetentionPolicy "
            "logs:AssociateKmsKey logs:DisassociateKmsKey logs:TagResource logs:UntagResource"
        ),
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": actions(
        "logs:DescribeMetricFilters",
        "logs:PutMetricFilter logs:DeleteMetricFilter",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": actions(
        "cloudwatch:DescribeAlarms cloudwatch:ListTagsForResource",
        "cloudwatch:PutMetricAlarm cloudwatch:DeleteAlarms cloudwatch:TagResource cloudwatch:UntagResource",
    ),
    "aws:cloudwatch/queryDefinition:QueryDefinition": actions(
        "logs:DescribeQueryDefinitions",
        "logs:PutQueryDefinition logs:DeleteQueryDefinition",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": actions(
        "ec2:DescribeSecurityGroups ec2:DescribeSecurityGroupRules",
        (
            "ec2:RevokeSecurityGroupIngress ec2:RevokeSecurityGroupEgress ec2:AuthorizeSecurityGroupIngress "
            "ec2:AuthorizeSecurityGroupEgress ec2:CreateTags ec2:DeleteTags"
        ),
    ),
    "aws:ec2/instance:Instance": actions(
        (
            "ec2:DescribeInstances ec2:DescribeInstanceAttribute ec2:DescribeInstanceTypes ec2:DescribeVolumes "
            "ec2:DescribeInstanceCreditSpecifications ec2:DescribeNetworkInterfaces ec2:DescribeImages "
            "ec2:DescribeTags"
        ),
        (
            "ec2:RunInstances ec2:TerminateInstances ec2:StopInstances ec2:StartInstances ec2:ModifyInstanceAttribute "
            "ec2:ModifyInstanceMetadataOptions ec2:ModifyInstanceCreditSpecification ec2:AssociateIamInstanceProfile "
            "ec2:ReplaceIamInstanceProfileAssociation ec2:CreateTags ec2:DeleteTags"
        ),
    ),
    "aws:ec2/internetGateway:InternetGateway": actions(
        "ec2:DescribeInternetGateways",
        (
            "ec2:CreateInternetGateway ec2:DeleteInternetGateway ec2:AttachInternetGateway ec2:DetachInternetGateway "
            "ec2:CreateTags ec2:DeleteTags"
        ),
    ),
    "aws:ec2/routeTable:RouteTable": actions(
        "ec2:DescribeRouteTables",
        (
            "ec2:CreateRouteTable ec2:DeleteRouteTable ec2:CreateRoute ec2:DeleteRoute ec2:ReplaceRoute "
            "ec2:CreateTags ec2:DeleteTags"
        ),
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": actions(
        "ec2:DescribeRouteTables",
        "ec2:AssociateRouteTable ec2:DisassociateRouteTable ec2:ReplaceRouteTableAssociation",
    ),
    "aws:ec2/securityGroup:SecurityGroup": actions(
        "ec2:DescribeSecurityGroups ec2:DescribeSecurityGroupRules ec2:DescribeNetworkInterfaces",
        (
            "ec2:CreateSecurityGroup ec2:DeleteSecurityGroup ec2:RevokeSecurityGroupEgress "
            "ec2:AuthorizeSecurityGroupEgress ec2:CreateTags ec2:DeleteTags"
        ),
    ),
    "aws:ec2/subnet:Subnet": actions(
        "ec2:DescribeSubnets",
        "ec2:CreateSubnet ec2:DeleteSubnet ec2:ModifySubnetAttribute ec2:CreateTags ec2:DeleteTags",
    ),
    "aws:ec2/vpc:Vpc": actions(
        (
            "ec2:DescribeVpcs ec2:DescribeVpcAttribute ec2:DescribeNetworkAcls ec2:DescribeRouteTables "
            "ec2:DescribeSecurityGroups"
        ),
        "ec2:CreateVpc ec2:DeleteVpc ec2:ModifyVpcAttribute ec2:CreateTags ec2:DeleteTags",
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": actions(
        "ec2:DescribeVpcEndpoints ec2:DescribePrefixLists",
        (
            "ec2:CreateVpcEndpoint ec2:DeleteVpcEndpoints ec2:ModifyVpcEndpoint ec2:CreateTags ec2:DeleteTags "
            "route53:AssociateVPCWithHostedZone"
        ),
    ),
    "aws:ec2/vpcEndpointService:VpcEndpointService": actions(
        (
            "ec2:DescribeVpcEndpointServiceConfigurations ec2:DescribeVpcEndpointServicePermissions "
            "ec2:DescribeVpcEndpointConnections"
        ),
        (
            "ec2:CreateVpcEndpointServiceConfiguration ec2:DeleteVpcEndpointServiceConfigurations "
            "ec2:ModifyVpcEndpointServiceConfiguration ec2:ModifyVpcEndpointServicePermissions ec2:CreateTags "
            "ec2:DeleteTags"
        ),
    ),
    "aws:iam/accessKey:AccessKey": actions(
        "iam:ListAccessKeys",
        "iam:CreateAccessKey iam:DeleteAccessKey iam:UpdateAccessKey",
    ),
    "aws:iam/instanceProfile:InstanceProfile": actions(
        "iam:GetInstanceProfile",
        (
            "iam:CreateInstanceProfile iam:DeleteInstanceProfile iam:AddRoleToInstanceProfile "
            "iam:RemoveRoleFromInstanceProfile iam:TagInstanceProfile iam:UntagInstanceProfile iam:PassRole"
        ),
    ),
    "aws:iam/role:Role": actions(
        "iam:GetRole iam:ListRolePolicies iam:ListAttachedRolePolicies iam:ListInstanceProfilesForRole",
        "iam:CreateRole iam:DeleteRole iam:UpdateRole iam:UpdateAssumeRolePolicy iam:TagRole iam:UntagRole",
    ),
    "aws:iam/rolePolicy:RolePolicy": actions("iam:GetRolePolicy", "iam:PutRolePolicy iam:DeleteRolePolicy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": actions(
        "iam:ListAttachedRolePolicies",
        "iam:AttachRolePolicy iam:DetachRolePolicy",
    ),
    "aws:iam/user:User": actions(
        "iam:GetUser iam:ListGroupsForUser iam:ListUserPolicies iam:ListAttachedUserPolicies iam:ListAccessKeys",
        "iam:CreateUser iam:DeleteUser iam:UpdateUser iam:TagUser iam:UntagUser",
    ),
    "aws:iam/userPolicy:UserPolicy": actions("iam:GetUserPolicy", "iam:PutUserPolicy iam:DeleteUserPolicy"),
    "aws:kms/alias:Alias": actions("kms:ListAliases", "kms:CreateAlias kms:DeleteAlias kms:UpdateAlias"),
    # kms:CreateGrant/Decrypt/Encrypt/GenerateDataKey: RDS, Secrets Manager and CloudWatch Logs use the keys
    # on the deployer's behalf.
    "aws:kms/key:Key": actions(
        "kms:DescribeKey kms:GetKeyPolicy kms:GetKeyRotationStatus kms:ListResourceTags",
        (
            "kms:CreateKey kms:ScheduleKeyDeletion kms:EnableKeyRotation kms:DisableKeyRotation kms:PutKeyPolicy "
            "kms:UpdateKeyDescription kms:TagResource kms:UntagResource kms:CreateGrant kms:Decrypt kms:Encrypt "
            "kms:GenerateDataKey"
        ),
    ),
    "aws:lambda/function:Function": actions(
        (
            "lambda:GetFunction lambda:GetFunctionConfiguration lambda:GetFunctionCodeSigningConfig "
            "lambda:ListVersionsByFunction lambda:GetPolicy lambda:ListTags"
        ),
        (
            "lambda:CreateFunction lambda:DeleteFunction lambda:UpdateFunctionCode lambda:UpdateFunctionConfiguration "
            "lambda:TagResource lambda:UntagResource iam:PassRole "
            # A function in a VPC: Lambda checks the caller may see the subnets and security groups it names.
            "ec2:DescribeSubnets ec2:DescribeSecurityGroups ec2:DescribeVpcs"
        ),
    ),
    "aws:lambda/invocation:Invocation": actions("", "lambda:InvokeFunction"),
    "aws:lambda/permission:Permission": actions("lambda:GetPolicy", "lambda:AddPermission lambda:RemovePermission"),
    "aws:lb/listener:Listener": actions(
        (
            "elasticloadbalancing:DescribeListeners elasticloadbalancing:DescribeTags "
            "elasticloadbalancing:DescribeListenerAttributes"
        ),
        (
            "elasticloadbalancing:CreateListener elasticloadbalancing:DeleteListener "
            "elasticloadbalancing:ModifyListener elasticloadbalancing:ModifyListenerAttributes "
            "elasticloadbalancing:AddTags elasticloadbalancing:RemoveTags"
        ),
    ),
    "aws:lb/loadBalancer:LoadBalancer": actions(
        (
            "elasticloadbalancing:DescribeLoadBalancers elasticloadbalancing:DescribeLoadBalancerAttributes "
            "elasticloadbalancing:DescribeTags ec2:DescribeAccountAttributes ec2:DescribeAddresses "
            "ec2:DescribeInternetGateways"
        ),
        (
            "elasticloadbalancing:CreateLoadBalancer elasticloadbalancing:DeleteLoadBalancer "
            "elasticloadbalancing:ModifyLoadBalancerAttributes elasticloadbalancing:SetSubnets "
            "elasticloadbalancing:SetSecurityGroups elasticloadbalancing:AddTags elasticloadbalancing:RemoveTags "
            "iam:CreateServiceLinkedRole"
        ),
    ),
    "aws:lb/targetGroup:TargetGroup": actions(
        (
            "elasticloadbalancing:DescribeTargetGroups elasticloadbalancing:DescribeTargetGroupAttributes "
            "elasticloadbalancing:DescribeTags elasticloadbalancing:DescribeTargetHealth"
        ),
        (
            "elasticloadbalancing:CreateTargetGroup elasticloadbalancing:DeleteTargetGroup "
            "elasticloadbalancing:ModifyTargetGroup elasticloadbalancing:ModifyTargetGroupAttributes "
            "elasticloadbalancing:AddTags elasticloadbalancing:RemoveTags"
        ),
    ),
    # Secrets Manager: RDS creates the RDS-managed master secret in the deployer's name.
    "aws:rds/instance:Instance": actions(
        "rds:DescribeDBInstances rds:ListTagsForResource rds:DescribeDBSnapshots",
        (
            "rds:CreateDBInstance rds:DeleteDBInstance rds:ModifyDBInstance rds:RebootDBInstance "
            "rds:AddTagsToResource rds:RemoveTagsFromResource iam:CreateServiceLinkedRole secretsmanager:CreateSecret "
            "secretsmanager:TagResource secretsmanager:RotateSecret"
        ),
    ),
    "aws:rds/parameterGroup:ParameterGroup": actions(
        "rds:DescribeDBParameterGroups rds:DescribeDBParameters rds:ListTagsForResource",
        (
            "rds:CreateDBParameterGroup rds:DeleteDBParameterGroup rds:ModifyDBParameterGroup "
            "rds:ResetDBParameterGroup rds:AddTagsToResource rds:RemoveTagsFromResource"
        ),
    ),
    "aws:rds/proxy:Proxy": actions(
        "rds:DescribeDBProxies rds:ListTagsForResource",
        (
            "rds:CreateDBProxy rds:DeleteDBProxy rds:ModifyDBProxy rds:AddTagsToResource rds:RemoveTagsFromResource "
            "iam:PassRole"
        ),
    ),
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": actions(
        "rds:DescribeDBProxyTargetGroups",
        "rds:ModifyDBProxyTargetGroup",
    ),
    "aws:rds/proxyTarget:ProxyTarget": actions(
        "rds:DescribeDBProxyTargets",
        "rds:RegisterDBProxyTargets rds:DeregisterDBProxyTargets",
    ),
    "aws:rds/subnetGroup:SubnetGroup": actions(
        "rds:DescribeDBSubnetGroups rds:ListTagsForResource",
        (
            "rds:CreateDBSubnetGroup rds:DeleteDBSubnetGroup rds:ModifyDBSubnetGroup rds:AddTagsToResource "
            "rds:RemoveTagsFromResource"
        ),
    ),
    "aws:secretsmanager/secret:Secret": actions(
        "secretsmanager:DescribeSecret secretsmanager:GetResourcePolicy",
        (
            "secretsmanager:CreateSecret secretsmanager:DeleteSecret secretsmanager:UpdateSecret "
            "secretsmanager:TagResource secretsmanager:UntagResource"
        ),
    ),
    # Reading a version back is reading its value: deploy only (the versions the program itself writes).
    "aws:secretsmanager/secretVersion:SecretVersion": actions(
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:PutSecretValue secretsmanager:UpdateSecretVersionStage secretsmanager:GetSecretValue",
    ),
    "aws:scheduler/schedule:Schedule": actions(
        "scheduler:GetSchedule",
        "scheduler:CreateSchedule scheduler:UpdateSchedule scheduler:DeleteSchedule iam:PassRole",
    ),
    # LiveKit objects (infra/sip_provider.py): LiveKit's API with LiveKit's key, no AWS call but the trunk's
    # digest-auth password, read when the trunk is created or updated (never by preview).
    "pulumi-python:dynamic/livekit:SipInboundTrunk": actions("", "secretsmanager:GetSecretValue"),
    "pulumi-python:dynamic/livekit:SipDispatchRule": NONE,
    "pulumi-python:dynamic/livekit:PhoneNumber": NONE,
    "aws:sns/topic:Topic": actions(
        "sns:GetTopicAttributes sns:ListTagsForResource",
        "sns:CreateTopic sns:DeleteTopic sns:SetTopicAttributes sns:TagResource sns:UntagResource",
    ),
    "aws:sns/topicSubscription:TopicSubscription": actions(
        "sns:GetSubscriptionAttributes sns:ListSubscriptionsByTopic",
        "sns:Subscribe sns:Unsubscribe sns:SetSubscriptionAttributes",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": actions(
        "ec2:DescribeSecurityGroupRules",
        (
            "ec2:AuthorizeSecurityGroupEgress ec2:RevokeSecurityGroupEgress ec2:ModifySecurityGroupRules "
            "ec2:CreateTags ec2:DeleteTags"
        ),
    ),
    "aws:acm/certificate:Certificate": actions(
        "acm:DescribeCertificate acm:GetCertificate acm:ListTagsForCertificate",
        "acm:RequestCertificate acm:DeleteCertificate acm:AddTagsToCertificate acm:RemoveTagsFromCertificate",
    ),
    "aws:acm/certificateValidation:CertificateValidation": actions("acm:DescribeCertificate", ""),
    "aws:cognito/userGroup:UserGroup": actions(
        "cognito-idp:GetGroup",
        "cognito-idp:CreateGroup cognito-idp:UpdateGroup cognito-idp:DeleteGroup",
    ),
    "aws:cognito/userPool:UserPool": actions(
        "cognito-idp:DescribeUserPool cognito-idp:GetUserPoolMfaConfig cognito-idp:ListTagsForResource",
        (
            "cognito-idp:CreateUserPool cognito-idp:UpdateUserPool cognito-idp:DeleteUserPool "
            "cognito-idp:SetUserPoolMfaConfig cognito-idp:TagResource cognito-idp:UntagResource"
        ),
    ),
    "aws:cognito/userPoolClient:UserPoolClient": actions(
        "cognito-idp:DescribeUserPoolClient",
        "cognito-idp:CreateUserPoolClient cognito-idp:UpdateUserPoolClient cognito-idp:DeleteUserPoolClient",
    ),
    "aws:cognito/userPoolDomain:UserPoolDomain": actions(
        "cognito-idp:DescribeUserPoolDomain",
        "cognito-idp:CreateUserPoolDomain cognito-idp:UpdateUserPoolDomain cognito-idp:DeleteUserPoolDomain",
    ),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": actions(
        "ecr:GetLifecyclePolicy",
        "ecr:PutLifecyclePolicy ecr:DeleteLifecyclePolicy",
    ),
    "aws:ecr/repository:Repository": actions(
        "ecr:DescribeRepositories ecr:ListTagsForResource",
        (
            "ecr:CreateRepository ecr:DeleteRepository ecr:PutImageScanningConfiguration "
            "ecr:PutImageTagMutability ecr:TagResource ecr:UntagResource ecr:BatchDeleteImage ecr:ListImages"
        ),
    ),
    # ECS creates its service-linked role with the first cluster.
    "aws:ecs/cluster:Cluster": actions(
        "ecs:DescribeClusters ecs:ListTagsForResource",
        (
            "ecs:CreateCluster ecs:DeleteCluster ecs:UpdateCluster ecs:PutClusterCapacityProviders ecs:TagResource "
            "ecs:UntagResource iam:CreateServiceLinkedRole"
        ),
    ),
    "aws:ecs/service:Service": actions(
        "ecs:DescribeServices ecs:ListTagsForResource",
        (
            "ecs:CreateService ecs:UpdateService ecs:DeleteService ecs:TagResource ecs:UntagResource "
            "elasticloadbalancing:DescribeTargetGroups"
        ),
    ),
    "aws:ecs/taskDefinition:TaskDefinition": actions(
        "ecs:DescribeTaskDefinition ecs:ListTagsForResource",
        "ecs:RegisterTaskDefinition ecs:DeregisterTaskDefinition ecs:TagResource ecs:UntagResource iam:PassRole",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": actions(
        "ec2:DescribeSecurityGroupRules",
        (
            "ec2:AuthorizeSecurityGroupIngress ec2:RevokeSecurityGroupIngress ec2:ModifySecurityGroupRules "
            "ec2:CreateTags ec2:DeleteTags"
        ),
    ),
}

# The program's invokes (data sources): read-only, needed by preview and deploy alike.
INVOKE_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": ("ec2:DescribeAvailabilityZones",),
    "aws:index/getCallerIdentity:getCallerIdentity": ("sts:GetCallerIdentity",),
    "aws:ec2/getVpc:getVpc": ("ec2:DescribeVpcs",),
    "aws:ssm/getParameter:getParameter": ("ssm:GetParameter",),
    # Metadata of the operator's secrets (version ids), never their values.
    "aws:secretsmanager/getSecretVersions:getSecretVersions": (
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:DescribeSecret",
    ),
}

# What the deploy commands run (infra/scripts/): deploy only.
COMMAND_ACTIONS: dict[str, tuple[str, ...]] = {
    # migrate.sh: the port-forward through the tunnel host.
    "ssm start-session": ("ssm:StartSession", "ssm:TerminateSession", "ssm:ResumeSession"),
    # migrate.sh, agent_secrets.py: the master and agent database secrets, the agent's secrets.
    "secretsmanager get-secret-value": ("secretsmanager:GetSecretValue",),
    # push_console_image.sh: sign in to ECR, check the tag, push the console's image.
    "docker push (ECR)": (
        "ecr:GetAuthorizationToken",
        "ecr:DescribeImages",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    ),
}

# Actions limited to what the program names (everything else needs "*": creation calls and Describe calls
# cannot be scoped by name in AWS).
ACCOUNT = "*"
SCOPED: dict[str, tuple[str, ...]] = {
    "iam": (
        f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-*",
        f"arn:aws:iam::{ACCOUNT}:user/{PROJECT}-*",
        f"arn:aws:iam::{ACCOUNT}:instance-profile/{PROJECT}-*",
    ),
    "secretsmanager": (
        f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:{PROJECT}-*",
        # The RDS-managed master secret (named by RDS: rds!db-<id>).
        f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:rds!*",
    ),
}
# Service-linked roles RDS and ELB create on first use.
SERVICE_LINKED_ROLES = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticloadbalancing.amazonaws.com/"
    "AWSServiceRoleForElasticLoadBalancing",
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
)
# Services our roles are passed to: the proxy (RDS), the tunnel host (EC2), the target-sync function (Lambda), the
# no-calls alarm's schedules (EventBridge Scheduler), the console's task execution role (ECS tasks).
PASS_ROLE_SERVICES = (
    "rds.amazonaws.com",
    "ec2.amazonaws.com",
    "lambda.amazonaws.com",
    "scheduler.amazonaws.com",
    "ecs-tasks.amazonaws.com",
)


class UnmappedTypeError(Exception):
    """The program declares a resource type (or calls an invoke) this generator has no permissions for."""


def check_covered(types: Iterable[str], invokes: Iterable[str] = ()) -> None:
    missing = sorted(set(types) - set(RESOURCE_ACTIONS)) + sorted(set(invokes) - set(INVOKE_ACTIONS))
    if missing:
        raise UnmappedTypeError(
            f"no IAM permissions decided for {', '.join(missing)}: add them to infra/iam_policies.py "
            "(RESOURCE_ACTIONS or INVOKE_ACTIONS) and run `.venv/bin/python -m infra.iam_policies`"
        )


def _statements(actions: set[str], sid: str) -> list[dict[str, object]]:
    """One statement per scope: IAM and Secrets Manager actions on our names, the rest on "*"."""
    statements = []
    special = {"iam:PassRole", "iam:CreateServiceLinkedRole"}
    for service, resources in SCOPED.items():
        scoped = sorted(a for a in actions - special if a.split(":")[0] == service)
        if scoped:
            statements.append(
                {
                    "Sid": f"{sid}{service.capitalize()}OnOurNames",
                    "Effect": "Allow",
                    "Action": scoped,
                    "Resource": list(resources),
                }
            )
    rest = sorted(a for a in actions - special if a.split(":")[0] not in SCOPED)
    statements.insert(0, {"Sid": f"{sid}Services", "Effect": "Allow", "Action": rest, "Resource": "*"})
    if "iam:PassRole" in actions:
        statements.append(
            {
                "Sid": f"{sid}PassOurRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": SCOPED["iam"][0],
                "Condition": {"StringEquals": {"iam:PassedToService": list(PASS_ROLE_SERVICES)}},
            }
        )
    if "iam:CreateServiceLinkedRole" in actions:
        statements.append(
            {
                "Sid": f"{sid}ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": list(SERVICE_LINKED_ROLES),
            }
        )
    return statements


def declared_invokes(program: Path = PROGRAM) -> set[str]:
    """Invoke tokens the program's modules call, e.g. `aws.ec2.get_vpc_output(...)` (or the plain `get_vpc`)
    -> aws:ec2/getVpc:getVpc."""
    tokens = set()
    for path in program.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            function, owner = node.func.attr, node.func.value
            if not function.startswith("get_"):
                continue
            parts = []
            while isinstance(owner, ast.Attribute):
                parts.insert(0, owner.attr)
                owner = owner.value
            if isinstance(owner, ast.Name) and owner.id == "aws":
                camel = "".join(word.capitalize() for word in function.removesuffix("_output").split("_"))
                camel = camel[0].lower() + camel[1:]
                tokens.add(f"aws:{'/'.join(parts) or 'index'}/{camel}:{camel}")
    return tokens


def policies(types: Iterable[str]) -> dict[str, dict[str, object]]:
    """{"deploy": policy document, "preview": policy document} for these resource types."""
    types = sorted(set(types))
    check_covered(types, declared_invokes())
    invokes = {a for actions in INVOKE_ACTIONS.values() for a in actions}
    reads = {a for t in types for a in RESOURCE_ACTIONS[t].read} | invokes
    writes = {a for t in types for a in RESOURCE_ACTIONS[t].write}
    commands = {a for actions in COMMAND_ACTIONS.values() for a in actions}
    return {
        "deploy": {"Version": "2012-10-17", "Statement": _statements(reads | writes | commands, "Deploy")},
        "preview": {"Version": "2012-10-17", "Statement": _statements(reads, "Preview")},
    }


def declared_types() -> set[str]:
    """Resource types of a mocked run of every stack, before and after the Private Link exists."""
    from tests.infra.harness import run_program  # noqa: PLC0415 - the test suite's mocks, run only here

    types: set[str] = set()
    for stack in STACKS:
        for overrides in ({}, LINKED_OVERRIDES):
            types |= {resource.type for resource in run_program(stack, overrides).resources}
    return types


def render(document: dict[str, object]) -> str:
    return json.dumps(document, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="directory for <role>-policy.json")
    args = parser.parse_args(argv)
    try:
        documents = policies(declared_types())
    except UnmappedTypeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    for role, document in documents.items():
        (args.output / f"{role}-policy.json").write_text(render(document))
        print(f"{args.output / f'{role}-policy.json'}: {size(document)} characters", file=sys.stderr)
    return 0


def size(document: dict[str, object]) -> int:
    """Characters IAM counts against its 6,144-character managed-policy limit (whitespace excluded)."""
    return len(json.dumps(document, separators=(",", ":")))


if __name__ == "__main__":
    raise SystemExit(main())

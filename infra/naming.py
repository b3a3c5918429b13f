"""Physical names as AWS will see them, and each service's limits on them.

The program's tests and the policy pack both check every declared resource with `violations`, so a name that AWS
(or the provider, during preview) would reject fails before anything is deployed. Mocks accept any name.

How a resource gets its physical name:
- an explicit name property (`name`, `identifier`, ...) is used as given;
- a Terraform-style prefix (`namePrefix`, ...) gets 26 generated characters appended (terraform-plugin-sdk
  `id.PrefixedUniqueId`, `UniqueIDSuffixLength = 26`:
  https://github.com/hashicorp/terraform-plugin-sdk/blob/main/helper/id/id.go);
- otherwise Pulumi auto-names it: the logical name, "-" and 7 random hex characters
  (https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming; pulumi/pulumi
  sdk/go/common/resource/resource_id.go `NewUniqueHex`, which refuses a name longer than the provider's maximum).

No resource may rely on the auto-name (`violations` reports it): a logical name grows with the project, the stack
and the component, so an auto-name that fits in dev can break a limit in staging. The program names each resource
with `prefix` (where the type has a prefix property) or `name`, both of which check the result here when the
program runs:
- a prefix wherever the type has one (security groups, IAM roles, instance profiles and inline policies, RDS
  subnet and parameter groups, SNS topics, EventBridge rules, Lambda permissions; load balancers and target
  groups with `elb_name_prefix`): the generated part makes each replacement's name new, so Pulumi's default
  create-before-delete replacement never collides with the resource it replaces;
- an explicit name where the type has no prefix or other code reads the name (EventBridge target ids, Lambda
  functions, RDS instances and proxies, secrets, alarms, log groups, ...). None sets `delete_before_replace`.
  An event target's id is unique within its rule only, and the target is replaced only with its rule, whose
  prefix gives it a new name: no collision. A change to another create-only property of a fixed-name resource
  (the database's storage key, say) makes the replacement's create fail on the taken name while the old one
  still exists: a loud stop, where deleting first would drop the database, its secrets or images unasked.

Only stdlib here: the policy pack imports this module without the program's dependencies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AUTONAME_SUFFIX = "-abcdef0"  # stands for "-" + 7 random hex characters
PREFIX_SUFFIX_LENGTH = 26
# Types that create nothing AWS names: Pulumi providers, this project's components, and its dynamic resources
# (LiveKit objects: infra/sip_provider.py).
UNNAMED_PACKAGES = ("pulumi:providers:", "hospital:", "pulumi-python:dynamic/")

# The types the program names with `prefix` or `name`.
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"
RDS_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
SNS_TOPIC = "aws:sns/topic:Topic"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
LAMBDA_FUNCTION = "aws:lambda/function:Function"

ELB_NAME = r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
IAM_NAME = r"[\w+=,.@-]+"
RDS_IDENTIFIER = r"[a-z](?:-?[a-z0-9]+)*"
EVENTS_NAME = r"[.\-_A-Za-z0-9]+"


@dataclass(frozen=True)
class NameRule:
    """Where a type keeps its physical name, and what AWS accepts there."""

    prop: str
    max_length: int
    pattern: str
    allowed: str  # the rule in words, for the error message
    source: str  # the AWS API reference that states the limit
    prefix_prop: str | None = "namePrefix"
    max_prefix_length: int | None = None  # None: max_length - 26
    autonamed: bool = True  # Pulumi fills `prop` when neither it nor the prefix is given
    # Unique in the account and region; False: only inside its parent (an ECS service in its cluster, a group in
    # its user pool), so every stack may use the same name.
    account_wide: bool = True


RULES: dict[str, NameRule | None] = {
    # Load balancers: 32, alphanumerics and hyphens, no hyphen first or last, not "internal-...".
    # The provider's name_prefix is at most 6 characters (6 + 26 = 32).
    "aws:lb/loadBalancer:LoadBalancer": NameRule(
        "name",
        32,
        ELB_NAME,
        "alphanumerics and hyphens, no leading or trailing hyphen, not starting with 'internal-'",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
        max_prefix_length=6,
    ),
    "aws:lb/targetGroup:TargetGroup": NameRule(
        "name",
        32,
        ELB_NAME,
        "alphanumerics and hyphens, no leading or trailing hyphen",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
        max_prefix_length=6,
    ),
    "aws:iam/role:Role": NameRule(
        "name", 64, IAM_NAME, r"[\w+=,.@-]", "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
    ),
    "aws:iam/user:User": NameRule(
        "name",
        64,
        IAM_NAME,
        r"[\w+=,.@-]",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html",
        prefix_prop=None,
    ),
    "aws:iam/rolePolicy:RolePolicy": NameRule(
        "name",
        128,
        IAM_NAME,
        r"[\w+=,.@-]",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
        account_wide=False,
    ),
    "aws:iam/userPolicy:UserPolicy": NameRule(
        "name",
        128,
        IAM_NAME,
        r"[\w+=,.@-]",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html",
        account_wide=False,
    ),
    "aws:iam/policy:Policy": NameRule(
        "name",
        128,
        IAM_NAME,
        r"[\w+=,.@-]",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html",
    ),
    "aws:iam/instanceProfile:InstanceProfile": NameRule(
        "name",
        128,
        IAM_NAME,
        r"[\w+=,.@-]",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html",
    ),
    # FunctionName: 64 for a bare name (the 140/170 limits apply to ARNs).
    "aws:lambda/function:Function": NameRule(
        "name",
        64,
        r"[a-zA-Z0-9_-]+",
        "letters, digits, hyphens and underscores",
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
        prefix_prop=None,
    ),
    "aws:lambda/permission:Permission": NameRule(
        "statementId",
        100,
        r"[a-zA-Z0-9_-]+",
        "letters, digits, hyphens and underscores",
        "https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html",
        prefix_prop="statementIdPrefix",
        account_wide=False,
    ),
    # DBInstanceIdentifier: 1-63 letters, digits or hyphens, a letter first, no trailing hyphen, no "--";
    # AWS stores it in lower case and the provider accepts only lower case.
    "aws:rds/instance:Instance": NameRule(
        "identifier",
        63,
        RDS_IDENTIFIER,
        "lower-case letters, digits and single hyphens, a letter first, no trailing hyphen",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
        prefix_prop="identifierPrefix",
    ),
    # DBProxyName: 1-63, pattern [a-zA-Z](?:-?[a-zA-Z0-9]+)*.
    "aws:rds/proxy:Proxy": NameRule(
        "name",
        63,
        r"[a-zA-Z](?:-?[a-zA-Z0-9]+)*",
        "letters, digits and single hyphens, a letter first, no trailing hyphen",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBProxy.html",
        prefix_prop=None,
    ),
    "aws:rds/parameterGroup:ParameterGroup": NameRule(
        "name",
        255,
        RDS_IDENTIFIER,
        "lower-case letters, digits and single hyphens, a letter first, no trailing hyphen",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html",
    ),
    # DBSubnetGroupName: up to 255 letters, digits, periods, underscores, spaces or hyphens; not "default";
    # the provider accepts only lower case.
    "aws:rds/subnetGroup:SubnetGroup": NameRule(
        "name",
        255,
        r"(?!default$)[a-z0-9_. -]+",
        "lower-case letters, digits, periods, underscores, spaces and hyphens; not 'default'",
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
    ),
    "aws:cloudwatch/eventRule:EventRule": NameRule(
        "name",
        64,
        EVENTS_NAME,
        "letters, digits, '.', '-' and '_'",
        "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
    ),
    "aws:cloudwatch/eventTarget:EventTarget": NameRule(
        "targetId",
        64,
        EVENTS_NAME,
        "letters, digits, '.', '-' and '_'",
        "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html",
        prefix_prop=None,
        account_wide=False,
    ),
    "aws:cloudwatch/logGroup:LogGroup": NameRule(
        "name",
        512,
        r"[.\-_/#A-Za-z0-9]+",
        "letters, digits, '.', '-', '_', '/' and '#'",
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    ),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": NameRule(
        "name",
        512,
        r"[^:*]+",
        "no ':' or '*'",
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutMetricFilter.html",
        prefix_prop=None,
    ),
    "aws:cloudwatch/queryDefinition:QueryDefinition": NameRule(
        "name",
        255,
        r"[^\x00-\x1f\x7f]+",
        "no control characters",
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutQueryDefinition.html",
        prefix_prop=None,
        autonamed=False,
    ),
    # AlarmName: 1-255 UTF-8 characters without ASCII control characters.
    "aws:cloudwatch/metricAlarm:MetricAlarm": NameRule(
        "name",
        255,
        r"[^\x00-\x1f\x7f]+",
        "no control characters",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
        prefix_prop=None,
    ),
    "aws:cloudwatch/dashboard:Dashboard": NameRule(
        "dashboardName",
        255,
        r"[A-Za-z0-9_-]+",
        "letters, digits, '-' and '_'",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
        prefix_prop=None,
        autonamed=False,
    ),
    # Name: 1-64 of letters, digits, '.', '-' and '_'.
    "aws:scheduler/schedule:Schedule": NameRule(
        "name",
        64,
        r"[0-9a-zA-Z._-]+",
        "letters, digits, '.', '-' and '_'",
        "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html",
    ),
    "aws:sns/topic:Topic": NameRule(
        "name",
        256,
        r"[A-Za-z0-9_-]+(?:\.fifo)?",
        "letters, digits, '-' and '_' (FIFO topics end in '.fifo')",
        "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    ),
    "aws:secretsmanager/secret:Secret": NameRule(
        "name",
        512,
        r"[A-Za-z0-9/_+=.@-]+",
        "letters, digits and /_+=.@-",
        "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
    ),
    # AliasName: 1-256, "alias/" then letters, digits, '/', '_' and '-'; "alias/aws/" is reserved.
    "aws:kms/alias:Alias": NameRule(
        "name",
        256,
        r"alias/(?!aws/)[a-zA-Z0-9/_-]+",
        "'alias/' then letters, digits, '/', '_' and '-', not 'alias/aws/'",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
    ),
    # GroupName: up to 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*; not starting with "sg-".
    "aws:ec2/securityGroup:SecurityGroup": NameRule(
        "name",
        255,
        r"(?!sg-)[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
        "letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, not starting with 'sg-'",
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
    ),
    # ECR repositoryName: 2-256, lower-case path segments separated by '/', each of [a-z0-9] joined by . _ -.
    "aws:ecr/repository:Repository": NameRule(
        "name",
        256,
        r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
        "lower-case letters and digits in '/'-separated segments, joined by '.', '_' or '-'",
        "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html",
        prefix_prop=None,
    ),
    "aws:ecs/cluster:Cluster": NameRule(
        "name",
        255,
        r"[A-Za-z0-9_-]+",
        "letters, digits, hyphens and underscores",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html",
        prefix_prop=None,
    ),
    "aws:ecs/service:Service": NameRule(
        "name",
        255,
        r"[A-Za-z0-9_-]+",
        "letters, digits, hyphens and underscores",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html",
        prefix_prop=None,
        account_wide=False,
    ),
    "aws:ecs/taskDefinition:TaskDefinition": NameRule(
        "family",
        255,
        r"[A-Za-z0-9_-]+",
        "letters, digits, hyphens and underscores",
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
        prefix_prop=None,
        autonamed=False,
    ),
    "aws:cognito/userPool:UserPool": NameRule(
        "name",
        128,
        r"[\w\s+=,.@-]+",
        r"letters, digits, spaces and _+=,.@-",
        "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPool.html",
        prefix_prop=None,
    ),
    "aws:cognito/userPoolClient:UserPoolClient": NameRule(
        "name",
        128,
        r"[\w\s+=,.@-]+",
        r"letters, digits, spaces and _+=,.@-",
        "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html",
        prefix_prop=None,
        autonamed=False,
    ),
    "aws:cognito/userGroup:UserGroup": NameRule(
        "name",
        128,
        r"[^\s]+",
        "no white space",
        "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html",
        prefix_prop=None,
        autonamed=False,
        account_wide=False,
    ),
    # Domain prefix: 1-63 lower-case letters, digits and hyphens, no hyphen first or last; it is the host name
    # <domain>.auth.<region>.amazoncognito.com, unique in the region across all accounts.
    "aws:cognito/userPoolDomain:UserPoolDomain": NameRule(
        "domain",
        63,
        r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?",
        "lower-case letters, digits and hyphens, no leading or trailing hyphen",
        "https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolDomain.html",
        prefix_prop=None,
        autonamed=False,
    ),
    # No name of their own: AWS assigns an ID (names of these live only in tags), the name is fixed
    # ("default" for the VPC's default security group and RDS Proxy's default target group), or nothing is
    # created in AWS.
    "aws:ec2/vpc:Vpc": None,
    "aws:ec2/subnet:Subnet": None,
    "aws:ec2/internetGateway:InternetGateway": None,
    "aws:ec2/routeTable:RouteTable": None,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": None,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": None,
    "aws:ec2/instance:Instance": None,
    "aws:ec2/vpcEndpointService:VpcEndpointService": None,
    "aws:ec2/vpcEndpoint:VpcEndpoint": None,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": None,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": None,
    "aws:iam/accessKey:AccessKey": None,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": None,
    "aws:kms/key:Key": None,
    "aws:lb/listener:Listener": None,
    "aws:lambda/invocation:Invocation": None,
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": None,
    "aws:rds/proxyTarget:ProxyTarget": None,
    "aws:secretsmanager/secretVersion:SecretVersion": None,
    "aws:sns/topicSubscription:TopicSubscription": None,
    "random:index/randomPassword:RandomPassword": None,
    "command:local:Command": None,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": None,
    "aws:acm/certificate:Certificate": None,
    "aws:acm/certificateValidation:CertificateValidation": None,
}


def elb_name_prefix(name: str, stack: str, kind: str = "") -> str:
    """A load balancer's or target group's name prefix (at most 6 characters, the provider appends 26) from the
    component's name ("<project>-<stack>"): the project's initials and the stack's first letters, so the console
    shows whose it is. The generated part keeps names unique, and lets a replacement be created before the old one
    is deleted, which a fixed name would not. `kind` (a letter after the initials) tells apart two load balancers
    of one stack, e.g. "c" for the console's.

    With a prefix set, Pulumi does not fill in its auto-name: the bridge drops defaults for properties that conflict
    with ones given (pulumi/pulumi-terraform-bridge pkg/tfbridge/schema.go, `buildConflictsWith`; `name` conflicts
    with `name_prefix` in terraform-provider-aws internal/service/elbv2, whose `validNamePrefix` allows 6)."""
    initials = "".join(word[0] for word in name.removesuffix(f"-{stack}").split("-"))
    return (initials + kind + re.sub(r"[^a-z0-9]", "", stack.lower()))[:5] + "-"


def prefix(resource_type: str, *parts: str) -> str:
    """The name prefix `<parts joined by "-">-` for `resource_type`'s prefix property, refused with `InvalidName`
    when the name AWS will see (the prefix and 26 generated characters) breaks the type's rules."""
    rule = _rule(resource_type)
    if rule.prefix_prop is None:
        raise InvalidName(f"{resource_type} has no name prefix: use infra.naming.name")
    value = "-".join(parts) + "-"
    _refuse_violations(resource_type, {rule.prefix_prop: value})
    return value


def name(resource_type: str, *parts: str) -> str:
    """The explicit name `<parts joined by "-">` for a type without a prefix property, refused with `InvalidName`
    when it breaks the type's rules."""
    value = "-".join(parts)
    _refuse_violations(resource_type, {_rule(resource_type).prop: value})
    return value


class InvalidName(ValueError):
    """A name or prefix the program chose that AWS would refuse."""


def _rule(resource_type: str) -> NameRule:
    rule = rule_for(resource_type)
    if rule is None:
        raise InvalidName(f"{resource_type} has no name of its own to set")
    return rule


def _refuse_violations(resource_type: str, props: dict) -> None:
    problems = violations(resource_type, "-", props)
    if problems:
        raise InvalidName(f"{resource_type}: {'; '.join(problems)}")


class UnknownType(KeyError):
    """A resource type with no naming rule: add one to RULES (with its limit's source)."""


def rule_for(resource_type: str) -> NameRule | None:
    if resource_type.startswith(UNNAMED_PACKAGES):
        return None
    if resource_type not in RULES:
        raise UnknownType(f"{resource_type} has no naming rule in infra/naming.py RULES")
    return RULES[resource_type]


def physical_name(resource_type: str, logical_name: str, props: dict) -> tuple[str, str] | None:
    """The name AWS will see (generated characters stood in for) and how it is made; None when there is none to
    check (no name of its own, or a value not known yet)."""
    rule = rule_for(resource_type)
    if rule is None:
        return None
    given = props.get(rule.prop)
    if given is not None:
        return (given, "given") if isinstance(given, str) else None
    prefix = props.get(rule.prefix_prop) if rule.prefix_prop else None
    if prefix is not None:
        generated = f"{rule.prefix_prop} + {PREFIX_SUFFIX_LENGTH} generated characters"
        return (prefix + "0" * PREFIX_SUFFIX_LENGTH, generated) if isinstance(prefix, str) else None
    if rule.autonamed:
        return logical_name + AUTONAME_SUFFIX, "auto-name: logical name + '-' + 7 random characters"
    return None


def autonamed(resource_type: str, logical_name: str, props: dict) -> bool:
    """Whether the resource's name is Pulumi's auto-name: neither name nor prefix given (the program's inputs), or
    a name that is the logical name, "-" and 7 hex characters (inputs after the provider's Check filled it in, as
    the policy pack sees them)."""
    rule = rule_for(resource_type)
    if rule is None or not rule.autonamed:
        return False
    given = props.get(rule.prop)
    if given is None:
        return rule.prefix_prop is None or props.get(rule.prefix_prop) is None
    return isinstance(given, str) and re.fullmatch(re.escape(logical_name) + "-[0-9a-f]{7}", given) is not None


def violations(resource_type: str, logical_name: str, props: dict) -> list[str]:
    """What AWS (or the provider) would reject about this resource's physical name, and an auto-name (which this
    project does not rely on); empty when nothing."""
    rule = rule_for(resource_type)
    named = physical_name(resource_type, logical_name, props)
    if rule is None or named is None:
        return []
    name, how = named
    found = []
    if autonamed(resource_type, logical_name, props):
        way = f"`{rule.prop}` or `{rule.prefix_prop}`" if rule.prefix_prop else f"`{rule.prop}`"
        found.append(f"{rule.prop} is Pulumi's auto-name, which grows with the logical name: set {way} (infra.naming)")
    prefix = props.get(rule.prefix_prop) if rule.prefix_prop else None
    max_prefix = rule.max_prefix_length or rule.max_length - PREFIX_SUFFIX_LENGTH
    if isinstance(prefix, str) and props.get(rule.prop) is None and len(prefix) > max_prefix:
        found.append(f"{rule.prefix_prop} {prefix!r} is {len(prefix)} characters; at most {max_prefix} allowed")
    if len(name) > rule.max_length:
        found.append(
            f"{rule.prop} {name!r} ({how}) is {len(name)} characters; AWS allows {rule.max_length} ({rule.source})"
        )
    if not re.fullmatch(rule.pattern, name, re.ASCII):
        found.append(f"{rule.prop} {name!r} ({how}) breaks AWS's rule: {rule.allowed} ({rule.source})")
    return found

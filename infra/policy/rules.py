"""The policy pack's rules, importable so tests can call each `validate` directly.

Properties are camelCase as the engine passes them. The database instance carries `Environment` and
`AccessMode` tags (set by infra.database) so that rules can tell dev's public mode from everything else.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra import naming

RDS_INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
RDS_PROXY = "aws:rds/proxy:Proxy"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
POSTGRES_PORT = 5432
PROD_MIN_BACKUP_DAYS = 7
REQUIRED_ALARMS = ("heartbeat-missing", "uptime-24h", "agent-processing-p95", "turn-e2e-p95", "error-rate")
PROXY_POOL_ALARM = "proxy-pool-use"
MANDATORY = EnforcementLevel.MANDATORY


def _tags(props: dict) -> dict:
    return props.get("tags") or {}


def _storage_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    if not args.props.get("storageEncrypted"):
        report("storage must be encrypted (storageEncrypted: true)", None)
    if not args.props.get("kmsKeyId"):
        report("storage must use a customer-managed KMS key (kmsKeyId)", None)


def _no_public_database(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE or not args.props.get("publiclyAccessible"):
        return
    tags = _tags(args.props)
    if tags.get("AccessMode") != "public" or tags.get("Environment") != "dev":
        report("a database may be publicly accessible only in dev's public mode", None)


def _no_open_postgres(args: ResourceValidationArgs, report: ReportViolation) -> None:
    def covers_postgres(low: int | None, high: int | None, protocol: str | None) -> bool:
        if protocol in ("-1", "all"):
            return True
        return low is not None and high is not None and low <= POSTGRES_PORT <= high

    if args.resource_type == INGRESS_RULE:
        rules = [(args.props.get("fromPort"), args.props.get("toPort"), args.props.get("ipProtocol"), args.props)]
    elif args.resource_type == SECURITY_GROUP:
        rules = [(r.get("fromPort"), r.get("toPort"), r.get("protocol"), r) for r in args.props.get("ingress") or []]
    else:
        return
    for low, high, protocol, rule in rules:
        cidrs = [rule.get("cidrIpv4"), rule.get("cidrIpv6"), *(rule.get("cidrBlocks") or [])]
        cidrs += rule.get("ipv6CidrBlocks") or []
        if covers_postgres(low, high, protocol) and any(c in ("0.0.0.0/0", "::/0") for c in cidrs if c):
            report("PostgreSQL must not be open to the whole internet; list the allowed CIDRs", None)


def _backups(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE:
        return
    retention = args.props.get("backupRetentionPeriod") or 0
    if retention < 1:
        report("automated backups must be on (backupRetentionPeriod >= 1: daily)", None)
    if _tags(args.props).get("Environment") == "prod" and retention < PROD_MIN_BACKUP_DAYS:
        report(f"prod keeps backups at least {PROD_MIN_BACKUP_DAYS} days", None)
    if not args.props.get("backupWindow"):
        report("a backup window must be set", None)


def _prod_deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE or _tags(args.props).get("Environment") != "prod":
        return
    if not args.props.get("deletionProtection"):
        report("prod databases need deletionProtection", None)
    if args.props.get("skipFinalSnapshot", True):
        report("prod databases need a final snapshot (skipFinalSnapshot: false)", None)


def _proxy_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == RDS_PROXY and not args.props.get("requireTls"):
        report("RDS Proxy must require TLS (requireTls: true)", None)


def _force_ssl(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != PARAMETER_GROUP:
        return
    values = {p.get("name"): str(p.get("value")) for p in args.props.get("parameters") or []}
    if values.get("rds.force_ssl") != "1":
        report("the parameter group must set rds.force_ssl = 1", None)


def _aws_name_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The engine analyzes a resource's inputs after the provider's Check (pulumi/pulumi
    pkg/resource/deploy/step_generator.go: the analyzers get the checked `inputs`), so an auto-name the provider
    filled in is `name` here; without it (a prefix, or no Check) infra.naming computes the name from the logical one."""
    logical_name = args.name or args.urn.rsplit("::", 1)[-1]
    try:
        problems = naming.violations(args.resource_type, logical_name, args.props)
    except naming.UnknownType as unknown:
        problems = [str(unknown.args[0])]
    for problem in problems:
        report(problem, None)


def _alarms_present(args: StackValidationArgs, report: ReportViolation) -> None:
    names = [str(r.props.get("name") or r.name) for r in args.resources if r.resource_type == METRIC_ALARM]
    required = list(REQUIRED_ALARMS)
    if any(r.resource_type == RDS_PROXY for r in args.resources):
        required.append(PROXY_POOL_ALARM)
    for alarm in required:
        if not any(name.endswith(alarm) for name in names):
            report(f"missing alarm *{alarm}", None)


POLICIES = [
    ResourceValidationPolicy(
        name="rds-storage-encrypted",
        description="Database storage is encrypted with a KMS key.",
        enforcement_level=MANDATORY,
        validate=_storage_encrypted,
    ),
    ResourceValidationPolicy(
        name="rds-not-public",
        description="No publicly accessible database outside dev's public mode.",
        enforcement_level=MANDATORY,
        validate=_no_public_database,
    ),
    ResourceValidationPolicy(
        name="postgres-not-open-to-internet",
        description="No security group opens PostgreSQL to 0.0.0.0/0 or ::/0.",
        enforcement_level=MANDATORY,
        validate=_no_open_postgres,
    ),
    ResourceValidationPolicy(
        name="rds-backups",
        description="Daily automated backups with a window; at least 7 days in prod.",
        enforcement_level=MANDATORY,
        validate=_backups,
    ),
    ResourceValidationPolicy(
        name="rds-prod-deletion-protection",
        description="Prod databases have deletion protection and a final snapshot.",
        enforcement_level=MANDATORY,
        validate=_prod_deletion_protection,
    ),
    ResourceValidationPolicy(
        name="rds-proxy-tls",
        description="RDS Proxy requires TLS.",
        enforcement_level=MANDATORY,
        validate=_proxy_tls,
    ),
    ResourceValidationPolicy(
        name="rds-force-ssl",
        description="The PostgreSQL parameter group forces TLS.",
        enforcement_level=MANDATORY,
        validate=_force_ssl,
    ),
    ResourceValidationPolicy(
        name="aws-name-limits",
        description="Each physical name fits its AWS service's length and character rules (infra/naming.py).",
        enforcement_level=MANDATORY,
        validate=_aws_name_limits,
    ),
    StackValidationPolicy(
        name="alarms-present",
        description="Heartbeat, uptime, latency, error-rate (and proxy pool) alarms exist.",
        enforcement_level=MANDATORY,
        validate=_alarms_present,
    ),
]

"""Monthly cost estimates per stack, from the stack settings alone (no cloud calls).

An estimate is a list of lines, each `quantity x unit price = amount`, in three sections: **fixed** (what the
stack costs with nobody calling, plan fees included), **usage** (what the stack's expected call minutes use,
at list price) and **included** (the part of that usage a plan fee already pays for, negative). The total is
the sum of the lines' amounts, so the printed estimate adds up on the page.

API for code and docs (docs/costs.md is generated from these figures):
- `estimate(settings) -> dict`: the lines, the three subtotals and the total (the `costEstimate` stack output
  and the CLI print this same dict).
- `per_call_minute(settings) -> dict`: what one more call minute costs past the plans' included amounts.
- `platform_estimates() -> list[dict]`: the agent worker on LiveKit Cloud Agents, Fly.io, Render and Railway.
- `PRICES`: the one price table; each figure carries its source and date (from shared/PRICES.md) and whether
  it was checked against the vendor's own page (`verified`). Update prices there only.
- `PRICED_TYPES` / `UNBILLED_TYPES`: every resource type the program declares, with the line that prices it or
  why it costs nothing; tests/infra/test_costs.py runs the program and fails on a type missing here, or on a
  count (secrets, alarm metrics, public addresses, ...) that differs from what the program declares.
- CLI: `python -m infra.costs --stack dev|staging|prod [--json]` reads `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import yaml

from agent.metrics import METRIC_UNITS
from infra.config import PROJECT, SettingsError, StackSettings, parse
from infra.console import TASK_CPU, TASK_MEMORY_MB
from infra.network import PUBLIC_ZONE_COUNT
from infra.private_link import SYNC_ZONE_COUNT
from infra.secret_store import AGENT_SECRETS, Source

HOURS_PER_MONTH = 730
SURVEY = "2026-11-23"  # the day shared/PRICES.md was compiled: the date of a figure whose source gives none


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    date: str
    verified: bool = False
    # A plan fee's allowance, in the unit of the usage it covers (agent-session minutes, TTS credits).
    included: int = 0
    included_unit: str = ""


_INFRATALLY = "infratally.com RDS pricing article"
_GENERAL = "general knowledge, not in the price survey"
_LIVEKIT_PRICING = "third-party copy of livekit.io/pricing"
_CARTESIA = "docs.cartesia.ai/pricing; apio.sh"
PRICES: dict[str, Price] = {
    "rds.db.t4g.micro": Price(0.016, "instance-hour (Multi-AZ: 2 instances)", _INFRATALLY, "2026"),
    "rds.db.t4g.small": Price(0.032, "instance-hour (Multi-AZ: 2 instances)", _INFRATALLY, "2026"),
    "rds.db.t4g.medium": Price(0.065, "instance-hour (Multi-AZ: 2 instances)", _INFRATALLY, "2026"),
    "rds.db.m7g.large": Price(
        0.168,
        "instance-hour (MySQL us-west-2 figure; PostgreSQL unverified)",
        "terraform-provider-aws test helper",
        "2024-02",
    ),
    "rds.gp3_storage": Price(0.115, "GB-month, 3,000 IOPS included (Multi-AZ: 2 copies)", "usage.ai", "2026-06"),
    "rds.backup_storage": Price(
        0.095, "GB-month beyond 100 % of the allocated storage (free up to it)", "usage.ai", "2026-06"
    ),
    "rds.proxy": Price(
        0.015,
        "vCPU-hour of the instance, at least 2 vCPUs",
        "AWS RDS Proxy pricing as quoted by several docs; serverworks blog",
        "2024-06",
    ),
    "secretsmanager.secret": Price(
        0.40, "secret-month (+ $0.05 per 10,000 API calls)", "hivebook wiki; AWS RDS docs", SURVEY
    ),
    "kms.key": Price(1.00, "customer-managed key-month", "aws.amazon.com/kms/pricing", SURVEY),
    "kms.rotated_key": Price(
        1.00,
        "rotated backing key-month (from the first rotation, a year after creation)",
        "aws.amazon.com/kms/pricing",
        SURVEY,
    ),
    "cloudwatch.alarm_metric": Price(
        0.10,
        "standard alarm metric-month (metric-math alarms billed per metric: unverified)",
        "c3x.dev; aws.amazon.com/cloudwatch/pricing",
        SURVEY,
    ),
    "cloudwatch.dashboard": Price(3.00, "dashboard-month (first 3 in an account free)", "factualminds", "2026-06-13"),
    "cloudwatch.custom_metric": Price(0.30, "metric-month (first 10,000 metrics tier)", "signoz", "2026-02"),
    "cloudwatch.logs_ingestion": Price(0.50, "GB ingested (5 GB an account free)", "signoz", "2026-02"),
    "nlb.hour": Price(0.0225, "load-balancer-hour", "AWS ELB pricing (general knowledge, unverified)", SURVEY),
    "nlb.nlcu": Price(0.006, "NLCU-hour", "AWS ELB pricing (general knowledge, unverified)", SURVEY),
    "ec2.t4g.nano": Price(0.0042, "instance-hour", "AWS EC2 pricing (general knowledge, unverified)", SURVEY),
    "ec2.t4g.micro": Price(0.0084, "instance-hour", _GENERAL, SURVEY),
    "ec2.public_ipv4": Price(
        0.005,
        "public IPv4 address-hour (in use or idle)",
        "AWS announcement, charged from 2024-02-01 (repost.aws)",
        SURVEY,
    ),
    "ebs.gp3": Price(0.08, "GB-month", _GENERAL, SURVEY),
    # The console (infra/console.py): us-east-1 list prices; DESIGN.md's ~$16/month ALB and ~$9/month smallest
    # Fargate task agree with them.
    "alb.hour": Price(0.0225, "load-balancer-hour", "AWS ELB pricing (general knowledge, unverified)", SURVEY),
    "alb.lcu": Price(0.008, "LCU-hour", "AWS ELB pricing (general knowledge, unverified)", SURVEY),
    "fargate.vcpu": Price(
        0.04048, "vCPU-hour (Linux, x86)", "AWS Fargate pricing (general knowledge, unverified)", SURVEY
    ),
    "fargate.memory": Price(
        0.004445, "GB-hour (Linux, x86)", "AWS Fargate pricing (general knowledge, unverified)", SURVEY
    ),
    "ecr.storage": Price(0.10, "GB-month of image storage", "AWS ECR pricing (general knowledge, unverified)", SURVEY),
    "vpc.interface_endpoint": Price(
        0.01, "endpoint zone-hour (+ $0.01 per GB processed)", "aws.amazon.com/privatelink/pricing; " + _GENERAL, SURVEY
    ),
    "livekit.plan.build": Price(
        0.0,
        "plan-month (agents may sleep)",
        "docs.livekit.io quotas and billing pages; community thread",
        SURVEY,
        included=1_000,
        included_unit="agent-session minutes",
    ),
    "livekit.plan.ship": Price(
        50.0,
        "plan-month",
        "third-party copies of livekit.io/pricing",
        "2026-01-24; 2026-02-17",
        included=5_000,
        included_unit="agent-session minutes",
    ),
    "livekit.plan.scale": Price(
        500.0,
        "plan-month (BAA on request)",
        f"{_LIVEKIT_PRICING}; livekit.com/security/overview",
        "2026-02-17",
        included=50_000,
        included_unit="agent-session minutes",
    ),
    "livekit.agent_minute": Price(
        0.01, "agent-session minute beyond the plan (rounded up per session)", _LIVEKIT_PRICING, "2026-02-17"
    ),
    # Telephony: LiveKit's number and minute prices are not in the survey; stack settings phoneNumberMonthlyUsd and
    # phoneMinuteUsd override these two.
    "telephony.number": Price(
        1.00,
        "number-month (ASSUMPTION: no price found; a placeholder near US carriers' local numbers)",
        "not found: docs.livekit.io/telephony shows no price",
        SURVEY,
    ),
    "telephony.minute": Price(
        0.013,
        "inbound phone minute (a third-party SIP trunk's; LiveKit Phone Numbers' not found)",
        "one article, unverified (shared/PRICES.md)",
        SURVEY,
    ),
    "deepgram.nova3_streaming": Price(
        0.0077,
        "audio minute, pay-as-you-go (Growth plan: $0.0065)",
        "third-party copy of deepgram.com/pricing",
        "2026-02-18 (corrected 2026-12-02)",
    ),
    "openai.gpt4o_mini.input": Price(0.15, "1M input tokens", "promptunit; cloudprice API", "2026-06-20"),
    "openai.gpt4o_mini.cached_input": Price(
        0.075, "1M cached input tokens", "promptunit; cloudprice API", "2026-06-20"
    ),
    "openai.gpt4o_mini.output": Price(0.60, "1M output tokens", "promptunit; cloudprice API", "2026-06-20"),
    "cartesia.plan.pro": Price(5.0, "plan-month", _CARTESIA, "2026-06-21", included=100_000, included_unit="credits"),
    "cartesia.plan.startup": Price(
        49.0, "plan-month", _CARTESIA, "2026-06-21", included=1_250_000, included_unit="credits"
    ),
    "cartesia.plan.scale": Price(
        299.0, "plan-month (another table: $239)", _CARTESIA, "2026-06-21", included=8_000_000, included_unit="credits"
    ),
    "railway.vcpu": Price(20.0, "vCPU-month (older rate)", "docs.railway.com (rates may be stale)", SURVEY),
    "railway.memory": Price(10.0, "GB-month (older rate)", "docs.railway.com (rates may be stale)", SURVEY),
    "railway.hobby": Price(5.0, "month, minimum usage commitment", "docs.railway.com", SURVEY),
    "render.standard": Price(25.0, "month: 1 CPU, 2 GB", _GENERAL, SURVEY),
    "render.starter": Price(7.0, "month: 0.5 CPU, 512 MB", "render.com/docs/free; community.render.com", SURVEY),
    "fly.shared_cpu_2x_2gb": Price(11.83, "month always on", _GENERAL, SURVEY),
    "fly.shared_cpu_1x_256mb": Price(2.32, "month always on ($2.02 to $2.32)", "alejo.ink; fly.io docs", "2026-06-07"),
}

# Usage per call minute.
TURNS_PER_MINUTE = 5
INPUT_TOKENS_PER_TURN = 2000  # system prompt + tools + history
CACHED_INPUT_SHARE = 0.5  # the stable prompt prefix is cached by OpenAI
OUTPUT_TOKENS_PER_TURN = 50
AGENT_SPEAKING_SHARE = 0.4
CHARACTERS_PER_SECOND = 15  # one Cartesia credit per character
# Fixed-cost assumptions.
NLCU_AVERAGE = 0.1
LOGS_GB_PER_MONTH = 1.0
DATA_SHARE_OF_STORAGE = 0.5  # storage autoscaling grows the volume long before the data fills it
BACKUP_DAILY_CHANGE = 0.02  # share of the data changed a day: each day's incremental backup
ROTATED_KEYS_PRICED = 1  # yearly rotation: the estimate holds from the second year on
TUNNEL_DISK_GB = 8  # infra/tunnel.py's root volume
# Secrets Manager entries besides the agent's (infra/database.py): the agent role's, and the RDS-managed master one.
DATABASE_SECRETS = 2
# Metrics each CloudWatch alarm reads (infra/monitoring.py); a metric-math alarm is billed per metric.
AGENT_ALARM_METRICS = {
    "heartbeat-missing": 1,
    "uptime-24h": 1,
    "agent-pool-use": 1,
    "agent-processing-p95": 1,
    "turn-e2e-p95": 1,
    "error-rate": 2,
    "provider-fallbacks": 1,
    "speech-outage": 1,
}
PROXY_ALARM_METRICS = {"proxy-pool-use": 2}
# The target-sync Lambda's error alarm (infra/private_link.py), in private-link stacks.
PRIVATE_LINK_ALARM_METRICS = {"target-sync-errors": 1}
# The console's alarms (infra/console.py): 5xx answers (the load balancer's plus the console's), unhealthy tasks.
CONSOLE_ALARM_METRICS = {"console-5xx": 2, "console-unhealthy": 1}
# The console's secrets (infra/console.py): its database login, Streamlit's cookie secret.
CONSOLE_SECRETS = 2
ALB_LCU_AVERAGE = 0.1  # a few staff browsers: far below one LCU
CONSOLE_IMAGES_GB = 1.0  # the kept images share most layers
# The log drain (infra/log_drain.py), in stacks that deploy the agent: its key, its error-line alarm and the
# custom metric its filter publishes.
LOG_DRAIN_ALARM_METRICS = {"log-errors": 1}
# The phone line (infra/phone_line.py), in stacks that have one: the no-calls alarm.
PHONE_ALARM_METRICS = {"no-calls": 1}

ASSUMPTIONS = [
    f"{HOURS_PER_MONTH} hours a month; a call minute is one LiveKit agent-session minute and one streamed audio "
    "minute (Deepgram).",
    f"OpenAI: {TURNS_PER_MINUTE} turns a minute, {INPUT_TOKENS_PER_TURN} input tokens a turn "
    f"({CACHED_INPUT_SHARE:.0%} cached), {OUTPUT_TOKENS_PER_TURN} output tokens a turn.",
    f"Cartesia: the agent speaks {AGENT_SPEAKING_SHARE:.0%} of a call at {CHARACTERS_PER_SECOND} characters "
    "(credits) a second. A plan's fee is a minimum: it pays for its credits; credits beyond them are priced at the "
    "plan's own rate (fee / credits), as Cartesia's overage price is not in the survey; each stack's plan is the "
    "smallest whose credits cover its expected calls.",
    "LiveKit: the plan's fee pays for its included agent-session minutes; minutes beyond them cost the overage rate.",
    f"RDS backups: the data fills {DATA_SHARE_OF_STORAGE:.0%} of the allocated storage and "
    f"{BACKUP_DAILY_CHANGE:.0%} of it changes a day; backup storage (one full copy plus a day's change per "
    "retention day) is free up to the allocated storage.",
    f"KMS: the key rotates yearly; the estimate counts {ROTATED_KEYS_PRICED} rotated backing key (second year on).",
    f"NLB: {NLCU_AVERAGE} NLCU on average; CloudWatch Logs: {LOGS_GB_PER_MONTH} GB ingested a month.",
    f"Console (staging, prod): ALB at {ALB_LCU_AVERAGE} LCU on average; tasks always on; {CONSOLE_IMAGES_GB} GB of "
    "images in ECR; staff accounts stay within Cognito's free monthly active users (not priced).",
    "Account-wide free tiers (3 dashboards, 10 alarms, 5 GB of logs, new-account credits) are assumed used "
    "elsewhere; the target-sync Lambda, its schedule and SNS e-mail stay within their free tiers; Secrets "
    "Manager API calls are a few hundred a month; LiveKit Private Links are priced on "
    "LiveKit's page (not found: not included); data transfer is not included.",
    "Telephony (stacks with a phone line): every call minute is an inbound phone minute; the number and minute "
    "prices are assumptions (price table) unless the stack sets phoneNumberMonthlyUsd and phoneMinuteUsd.",
]

# Every resource type the program declares: the estimate line that prices it, or why it costs nothing.
PRICED_TYPES: dict[str, str] = {
    "pulumi-python:dynamic/livekit:SipDispatchRule": "the phone line's numbers and call minutes",
    "pulumi-python:dynamic/livekit:PhoneNumber": "a LiveKit number (bought by hand), priced with the line",
    "aws:rds/instance:Instance": "RDS instance, storage and backups; a public address in public mode",
    "aws:rds/proxy:Proxy": "RDS Proxy",
    "aws:lb/loadBalancer:LoadBalancer": "Network Load Balancer; public addresses if internet-facing",
    "aws:ec2/instance:Instance": "SSM tunnel host, its disk and its public address",
    "aws:ec2/eip:Eip": "public IPv4 address",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "interface endpoint, per zone-hour",
    "aws:secretsmanager/secret:Secret": "Secrets Manager",  # pragma: allowlist secret
    "aws:kms/key:Key": "KMS key and its rotation",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "CloudWatch alarms (per metric)",
    "aws:cloudwatch/dashboard:Dashboard": "CloudWatch dashboard",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs ingestion",
    "aws:iam/user:User": "CloudWatch custom metrics the agent publishes with this user's key",
    "aws:ecs/service:Service": "Fargate vCPU and memory of its tasks, and their public addresses",
    "aws:ecr/repository:Repository": "ECR image storage",
}
UNBILLED_TYPES: dict[str, str] = {
    "pulumi-python:dynamic/livekit:SipInboundTrunk": "no charge of its own (the line's minutes are priced)",
    "aws:scheduler/schedule:Schedule": "the no-calls alarm's 3 runs a working day: within Scheduler's free tier",
    "pulumi:providers:aws": "Pulumi provider",
    "random:index/randomPassword:RandomPassword": "generated locally",  # pragma: allowlist secret
    "command:local:Command": "runs on the deploying machine",
    "aws:ec2/vpc:Vpc": "no charge",
    "aws:ec2/subnet:Subnet": "no charge",
    "aws:ec2/internetGateway:InternetGateway": "no charge (traffic is data transfer)",
    "aws:ec2/routeTable:RouteTable": "no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "no charge",
    "aws:ec2/securityGroup:SecurityGroup": "no charge",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "no charge",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "no charge",
    "aws:ec2/vpcEndpointService:VpcEndpointService": "no charge to the provider side (the NLB is priced)",
    "aws:lb/listener:Listener": "part of the load balancer",
    "aws:lb/targetGroup:TargetGroup": "part of the load balancer",
    "aws:rds/parameterGroup:ParameterGroup": "no charge",
    "aws:rds/subnetGroup:SubnetGroup": "no charge",
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": "part of RDS Proxy",
    "aws:rds/proxyTarget:ProxyTarget": "part of RDS Proxy",
    "aws:secretsmanager/secretVersion:SecretVersion": "part of its secret",  # pragma: allowlist secret
    "aws:kms/alias:Alias": "no charge",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": "no charge (its metric is priced as a custom metric)",
    "aws:cloudwatch/queryDefinition:QueryDefinition": "no charge to save (a run is billed per GB it scans)",
    "aws:iam/role:Role": "no charge",
    "aws:iam/rolePolicy:RolePolicy": "no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "no charge",
    "aws:iam/instanceProfile:InstanceProfile": "no charge",
    "aws:iam/userPolicy:UserPolicy": "no charge",
    "aws:iam/accessKey:AccessKey": "no charge",
    "aws:sns/topic:Topic": "alarm e-mails within SNS's free tier",
    "aws:sns/topicSubscription:TopicSubscription": "alarm e-mails within SNS's free tier",
    "aws:lambda/function:Function": "target sync every 5 minutes: within Lambda's free tier",
    "aws:lambda/permission:Permission": "no charge",
    "aws:lambda/invocation:Invocation": "one invocation at deploy",
    "aws:cloudwatch/eventRule:EventRule": "scheduled rules: no charge",
    "aws:cloudwatch/eventTarget:EventTarget": "no charge",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "no charge (it keeps storage bounded)",
    "aws:ecs/cluster:Cluster": "no charge (Fargate tasks are priced by their service)",
    "aws:ecs/taskDefinition:TaskDefinition": "no charge (Fargate tasks are priced by their service)",
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": "creates nothing in AWS",
    "aws:cognito/userPool:UserPool": "staff accounts within Cognito's free monthly active users",
    "aws:cognito/userPoolClient:UserPoolClient": "part of the user pool",
    "aws:cognito/userPoolDomain:UserPoolDomain": "part of the user pool",
    "aws:cognito/userGroup:UserGroup": "part of the user pool",
}

Section = Literal["fixed", "usage", "included"]


@dataclass(frozen=True)
class Line:
    section: Section
    item: str
    quantity: float
    unit: str
    unit_usd: float
    price: str  # the PRICES key the unit price comes from

    @property
    def usd(self) -> float:
        return round(self.quantity * self.unit_usd, 2)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "usd": self.usd}


def _usd(key: str) -> float:
    return PRICES[key].usd


def _hourly(count: float) -> float:
    return count * HOURS_PER_MONTH


def public_ipv4_addresses(settings: StackSettings) -> int:
    """Public IPv4 addresses the program holds: the database in public mode, the SSM tunnel host in private-link
    mode. An Elastic IP, NAT gateway or internet-facing load balancer the program declares is counted here too
    (tests/infra/test_costs.py compares this with the program's resources)."""
    public_database = 1 if settings.db_access_mode == "public" else 0
    tunnel_host = 1 if settings.private_link else 0
    # The console's load balancer has one address per public subnet; each task has its own.
    console = PUBLIC_ZONE_COUNT + settings.console_desired_count if settings.console_enabled else 0
    return public_database + tunnel_host + console


def secrets_manager_secrets(settings: StackSettings) -> int:
    """The agent's entries built by Pulumi (infra/secret_store.py) plus the database's, plus a SIP trunk's
    digest-auth password (infra/phone_line.py) and the console's (infra/console.py)."""
    agent = [s for s in AGENT_SECRETS if s.source is not Source.DEPLOY]
    if not settings.deploy_agent:
        agent = [s for s in agent if s.source is not Source.LOG_DRAIN_USER]
    trunk_password = 1 if settings.phone_line == "sip-trunk" and settings.sip_auth_username else 0
    console = CONSOLE_SECRETS if settings.console_enabled else 0
    return len(agent) + DATABASE_SECRETS + trunk_password + console


def kms_keys(settings: StackSettings) -> int:
    """The database's and secrets' key, and the log drain's; both rotate yearly."""
    return 1 + (1 if settings.deploy_agent else 0)


def alarm_metrics(settings: StackSettings) -> int:
    proxy = sum(PROXY_ALARM_METRICS.values()) if settings.proxy_enabled else 0
    link = sum(PRIVATE_LINK_ALARM_METRICS.values()) if settings.private_link else 0
    drain = sum(LOG_DRAIN_ALARM_METRICS.values()) if settings.deploy_agent else 0
    phone = sum(PHONE_ALARM_METRICS.values()) if settings.phone_line != "off" else 0
    console = sum(CONSOLE_ALARM_METRICS.values()) if settings.console_enabled else 0
    return sum(AGENT_ALARM_METRICS.values()) + proxy + link + drain + phone + console


def custom_metrics(settings: StackSettings) -> int:
    """The agent's own metrics, and the log drain's error-line count."""
    return len(METRIC_UNITS) + (1 if settings.deploy_agent else 0)


def backup_gb_beyond_allowance(settings: StackSettings) -> float:
    data = settings.db_allocated_storage_gb * DATA_SHARE_OF_STORAGE
    backups = data * (1 + BACKUP_DAILY_CHANGE * settings.backup_retention_days)
    return round(max(0.0, backups - settings.db_allocated_storage_gb), 4)


def _database_lines(s: StackSettings) -> Iterator[Line]:
    copies = 2 if s.db_multi_az else 1
    shape = f"{s.db_instance_class}, {'Multi-AZ' if s.db_multi_az else 'single AZ'}"
    instance = f"rds.{s.db_instance_class}"
    yield Line(
        "fixed", f"RDS PostgreSQL instance ({shape})", _hourly(copies), "instance-hour", _usd(instance), instance
    )
    storage = s.db_allocated_storage_gb * copies
    yield Line("fixed", "RDS gp3 storage", storage, "GB-month", _usd("rds.gp3_storage"), "rds.gp3_storage")
    yield Line(
        "fixed",
        f"RDS backups beyond the free allowance ({s.backup_retention_days}-day retention)",
        backup_gb_beyond_allowance(s),
        "GB-month",
        _usd("rds.backup_storage"),
        "rds.backup_storage",
    )
    if s.proxy_enabled:
        vcpus = max(2, s.instance.vcpus)
        yield Line("fixed", f"RDS Proxy ({vcpus} vCPUs)", _hourly(vcpus), "vCPU-hour", _usd("rds.proxy"), "rds.proxy")


def _network_lines(s: StackSettings) -> Iterator[Line]:
    """Load balancers, hosts, public addresses (and, when the program declares them, endpoints and gateways)."""
    if s.private_link:
        yield Line(
            "fixed",
            "Network Load Balancer (Private Link)",
            _hourly(1),
            "load-balancer-hour",
            _usd("nlb.hour"),
            "nlb.hour",
        )
        yield Line("fixed", "NLB capacity units", _hourly(NLCU_AVERAGE), "NLCU-hour", _usd("nlb.nlcu"), "nlb.nlcu")
        host = f"ec2.{s.ssm_instance_type}"
        yield Line("fixed", f"SSM tunnel host ({s.ssm_instance_type})", _hourly(1), "instance-hour", _usd(host), host)
        yield Line("fixed", "SSM tunnel host disk (gp3)", TUNNEL_DISK_GB, "GB-month", _usd("ebs.gp3"), "ebs.gp3")
        yield Line(
            "fixed",
            f"ELB API interface endpoint for the target sync ({SYNC_ZONE_COUNT} zones)",
            _hourly(SYNC_ZONE_COUNT),
            "endpoint zone-hour",
            _usd("vpc.interface_endpoint"),
            "vpc.interface_endpoint",
        )
    yield from _console_lines(s)
    addresses = public_ipv4_addresses(s)
    if addresses:
        yield Line(
            "fixed",
            f"Public IPv4 addresses ({addresses})",
            _hourly(addresses),
            "address-hour",
            _usd("ec2.public_ipv4"),
            "ec2.public_ipv4",
        )


def _console_lines(s: StackSettings) -> Iterator[Line]:
    """The staff console: its load balancer, its Fargate tasks and its images (its addresses are counted above)."""
    if not s.console_enabled:
        return
    yield Line(
        "fixed", "Console Application Load Balancer", _hourly(1), "load-balancer-hour", _usd("alb.hour"), "alb.hour"
    )
    yield Line("fixed", "Console ALB capacity units", _hourly(ALB_LCU_AVERAGE), "LCU-hour", _usd("alb.lcu"), "alb.lcu")
    tasks = s.console_desired_count
    yield Line(
        "fixed",
        "Console Fargate tasks: vCPU",
        _hourly(tasks * TASK_CPU / 1024),
        "vCPU-hour",
        _usd("fargate.vcpu"),
        "fargate.vcpu",
    )
    yield Line(
        "fixed",
        "Console Fargate tasks: memory",
        _hourly(tasks * TASK_MEMORY_MB / 1024),
        "GB-hour",
        _usd("fargate.memory"),
        "fargate.memory",
    )
    yield Line("fixed", "Console images (ECR)", CONSOLE_IMAGES_GB, "GB-month", _usd("ecr.storage"), "ecr.storage")


def _security_lines(s: StackSettings) -> Iterator[Line]:
    yield Line(
        "fixed",
        "Secrets Manager secrets",
        secrets_manager_secrets(s),
        "secret-month",
        _usd("secretsmanager.secret"),
        "secretsmanager.secret",
    )
    yield Line(
        "fixed", "KMS keys (database and secrets; log drain)", kms_keys(s), "key-month", _usd("kms.key"), "kms.key"
    )
    yield Line(
        "fixed",
        "KMS key rotation",
        kms_keys(s) * ROTATED_KEYS_PRICED,
        "rotated key-month",
        _usd("kms.rotated_key"),
        "kms.rotated_key",
    )


def _monitoring_lines(s: StackSettings) -> Iterator[Line]:
    """Alarms, dashboard, the agent's metrics and log ingestion (a log drain adds its lines here)."""
    yield Line(
        "fixed",
        "CloudWatch alarms",
        alarm_metrics(s),
        "alarm metric-month",
        _usd("cloudwatch.alarm_metric"),
        "cloudwatch.alarm_metric",
    )
    yield Line(
        "fixed", "CloudWatch dashboard", 1, "dashboard-month", _usd("cloudwatch.dashboard"), "cloudwatch.dashboard"
    )
    yield Line(
        "fixed",
        "CloudWatch custom metrics (the agent's, the log drain's)",
        custom_metrics(s),
        "metric-month",
        _usd("cloudwatch.custom_metric"),
        "cloudwatch.custom_metric",
    )
    yield Line(
        "fixed",
        "CloudWatch Logs ingestion",
        LOGS_GB_PER_MONTH,
        "GB",
        _usd("cloudwatch.logs_ingestion"),
        "cloudwatch.logs_ingestion",
    )


def _plan_lines(
    section_name: str, plan_key: str, usage: float, usage_unit: str, overage_key: str | None
) -> Iterator[Line]:
    """A plan: its fee (fixed), the usage at the overage rate, minus what the fee includes at that rate."""
    plan = PRICES[plan_key]
    rate = _usd(overage_key) if overage_key else plan.usd / plan.included
    price = overage_key or plan_key
    name = plan_key.rsplit(".", 1)[1].capitalize()
    yield Line("fixed", f"{section_name} {name} plan", 1, "plan-month", plan.usd, plan_key)
    yield Line("usage", f"{section_name} {usage_unit}", usage, usage_unit, rate, price)
    included = min(usage, plan.included)
    if included:
        yield Line("included", f"{section_name} {usage_unit} in the {name} plan", -included, usage_unit, rate, price)


def _per_minute_usage() -> dict[str, float]:
    """Quantity of each usage-priced unit one call minute consumes."""
    input_tokens = TURNS_PER_MINUTE * INPUT_TOKENS_PER_TURN / 1_000_000
    return {
        "agent_minutes": 1,
        "audio_minutes": 1,
        "input_mtokens": input_tokens * (1 - CACHED_INPUT_SHARE),
        "cached_input_mtokens": input_tokens * CACHED_INPUT_SHARE,
        "output_mtokens": TURNS_PER_MINUTE * OUTPUT_TOKENS_PER_TURN / 1_000_000,
        "tts_credits": 60 * AGENT_SPEAKING_SHARE * CHARACTERS_PER_SECOND,
    }


def _provider_lines(s: StackSettings) -> Iterator[Line]:
    """LiveKit Cloud and the speech and language providers, at the stack's expected call minutes."""
    minutes = s.expected_call_minutes_per_month
    use = {key: round(per_minute * minutes, 4) for key, per_minute in _per_minute_usage().items()}
    yield from _plan_lines(
        "LiveKit Cloud",
        f"livekit.plan.{s.livekit_plan}",
        use["agent_minutes"],
        "agent-session minutes",
        "livekit.agent_minute",
    )
    yield Line(
        "usage",
        "Deepgram Nova-3 streaming STT",
        use["audio_minutes"],
        "audio minutes",
        _usd("deepgram.nova3_streaming"),
        "deepgram.nova3_streaming",
    )
    for key, item in (
        ("input", "OpenAI gpt-4o-mini input tokens"),
        ("cached_input", "OpenAI gpt-4o-mini cached input tokens"),
        ("output", "OpenAI gpt-4o-mini output tokens"),
    ):
        price = f"openai.gpt4o_mini.{key}"
        yield Line("usage", item, use[f"{key}_mtokens"], "M tokens", _usd(price), price)
    yield from _plan_lines("Cartesia", f"cartesia.plan.{s.cartesia_plan}", use["tts_credits"], "TTS credits", None)


def phone_minute_usd(s: StackSettings) -> float:
    """What an inbound phone minute costs this stack: 0 without a phone line."""
    if s.phone_line == "off":
        return 0.0
    return s.phone_minute_usd if s.phone_minute_usd is not None else _usd("telephony.minute")


def _telephony_lines(s: StackSettings) -> Iterator[Line]:
    """The phone line's numbers (fixed) and every expected call minute as a phone minute (usage)."""
    if s.phone_line == "off":
        return
    number = s.phone_number_monthly_usd if s.phone_number_monthly_usd is not None else _usd("telephony.number")
    minute = phone_minute_usd(s)
    numbers = len(s.phone_numbers)
    yield Line("fixed", f"Phone numbers ({numbers})", numbers, "number-month", number, "telephony.number")
    yield Line(
        "usage",
        "Inbound phone minutes",
        s.expected_call_minutes_per_month,
        "phone minutes",
        minute,
        "telephony.minute",
    )


def lines(settings: StackSettings) -> list[Line]:
    every = [
        *_database_lines(settings),
        *_network_lines(settings),
        *_security_lines(settings),
        *_monitoring_lines(settings),
        *_provider_lines(settings),
        *_telephony_lines(settings),
    ]
    order = {"fixed": 0, "usage": 1, "included": 2}
    return sorted(every, key=lambda line: order[line.section])


def per_call_minute(settings: StackSettings) -> dict[str, float]:
    """What one more call minute costs once the plans' included amounts are used up, by provider."""
    use = _per_minute_usage()
    cartesia = PRICES[f"cartesia.plan.{settings.cartesia_plan}"]
    return {
        "livekit": round(use["agent_minutes"] * _usd("livekit.agent_minute"), 5),
        "deepgram": round(use["audio_minutes"] * _usd("deepgram.nova3_streaming"), 5),
        "openai": round(
            use["input_mtokens"] * _usd("openai.gpt4o_mini.input")
            + use["cached_input_mtokens"] * _usd("openai.gpt4o_mini.cached_input")
            + use["output_mtokens"] * _usd("openai.gpt4o_mini.output"),
            5,
        ),
        "cartesia": round(use["tts_credits"] * cartesia.usd / cartesia.included, 5),
        "telephony": round(phone_minute_usd(settings), 5),
    }


def estimate(settings: StackSettings) -> dict[str, object]:
    every = lines(settings)
    subtotal = {
        section: round(sum(line.usd for line in every if line.section == section), 2)
        for section in ("fixed", "usage", "included")
    }
    return {
        "stack": settings.app_env,
        "currency": "USD",
        "expected_call_minutes": settings.expected_call_minutes_per_month,
        "plans": {"livekit": settings.livekit_plan, "cartesia": settings.cartesia_plan},
        "lines": [line.as_dict() for line in every],
        "fixed_monthly": subtotal["fixed"],
        "usage_monthly": subtotal["usage"],
        "included_monthly": subtotal["included"],
        "total_monthly": round(sum(line.usd for line in every), 2),
        "per_call_minute": per_call_minute(settings),
        "assumptions": ASSUMPTIONS,
    }


def platform_estimates() -> list[dict[str, object]]:
    """The agent worker (about 1 vCPU and 2 GB for VAD and turn detection) on each platform, per month."""
    railway = max(_usd("railway.hobby"), _usd("railway.vcpu") + 2 * _usd("railway.memory"))
    return [
        {
            "platform": "LiveKit Cloud Agents",
            "plan": "Ship plan, always on (Build for dev; Scale for patient calls)",
            "monthly_usd": _usd("livekit.plan.ship"),
            "notes": "Hosted next to LiveKit's media servers; each plan includes agent-session minutes, then "
            f"${_usd('livekit.agent_minute')}/min. Build is free but agents may sleep (10-20 s cold start); "
            f"patient calls need Scale (${_usd('livekit.plan.scale'):.0f}/month) or Enterprise for the BAA.",
            "price_keys": ["livekit.plan.build", "livekit.plan.ship", "livekit.plan.scale", "livekit.agent_minute"],
        },
        {
            "platform": "Fly.io",
            "plan": "shared-cpu-2x, 2 GB, always on",
            "monthly_usd": _usd("fly.shared_cpu_2x_2gb"),
            "notes": "No free tier for new organisations; 256 MB machines "
            f"(${_usd('fly.shared_cpu_1x_256mb')}/month) are too small for a voice worker.",
            "price_keys": ["fly.shared_cpu_2x_2gb", "fly.shared_cpu_1x_256mb"],
        },
        {
            "platform": "Render",
            "plan": "Standard (1 CPU, 2 GB) background worker",
            "monthly_usd": _usd("render.standard"),
            "notes": f"Starter (${_usd('render.starter'):.2f}/month, 512 MB) is too small; free services sleep.",
            "price_keys": ["render.standard", "render.starter"],
        },
        {
            "platform": "Railway",
            "plan": "Hobby, usage for 1 vCPU and 2 GB",
            "monthly_usd": round(railway, 2),
            "notes": "Usage-billed; the plan fee is a minimum commitment counted toward usage.",
            "price_keys": ["railway.hobby", "railway.vcpu", "railway.memory"],
        },
    ]


def stack_file(stack: str, root: Path | None = None) -> Path:
    return (root or Path(__file__).resolve().parent.parent) / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path | None = None) -> list[str]:
    folder = stack_file("x", root).parent
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in folder.glob("Pulumi.*.yaml"))


# Operator values a stack file leaves to `pulumi config set`; they do not change any cost.
_COST_NEUTRAL = {
    "livekitUrl": "wss://cost-estimate.invalid",
    "alertEmail": "cost-estimate@example.invalid",
    "livekitPrincipalArn": "arn:aws:iam::000000000000:root",
    "consoleDomain": "console.cost-estimate.invalid",
}


def settings_from_stack_file(path: Path) -> StackSettings:
    """Non-secret settings of a stack file, for offline estimates."""
    document = yaml.safe_load(path.read_text()) or {}
    prefix = f"{PROJECT}:"
    raw = {
        key.removeprefix(prefix): json.dumps(value) if isinstance(value, list) else value
        for key, value in (document.get("config") or {}).items()
        if key.startswith(prefix)
    }
    for key, value in _COST_NEUTRAL.items():
        raw.setdefault(key, value)
    return parse(raw)


def _number(value: float) -> str:
    """A quantity or unit price exactly as computed, without float noise or trailing zeros."""
    return f"{value:,.10f}".rstrip("0").rstrip(".")


def render(result: dict[str, object]) -> str:
    """The estimate as text: every line `quantity unit x unit price = amount`, subtotals, and the total."""
    titles = {
        "fixed": "Fixed (with nobody calling)",
        "usage": f"Usage at {result['expected_call_minutes']:,} call minutes a month (list price)",
        "included": "Included in the plans' fees",
    }
    width = max(len(str(line["item"])) for line in result["lines"]) + 2
    out = [
        f"Stack {result['stack']}: monthly estimate, USD (LiveKit {result['plans']['livekit']}, "
        f"Cartesia {result['plans']['cartesia']})"
    ]
    for section, title in titles.items():
        out.append(title)
        for line in (line for line in result["lines"] if line["section"] == section):
            calculation = f"{_number(line['quantity'])} {line['unit']} x ${_number(line['unit_usd'])}"
            out.append(f"  {line['item']:<{width}}{calculation:<48} = {line['usd']:>10,.2f}")
        out.append(f"  {section + ' subtotal':<{width}}{'':<48} = {result[f'{section}_monthly']:>10,.2f}")
    out.append(
        f"Total per month: fixed {result['fixed_monthly']:,.2f} + usage {result['usage_monthly']:,.2f} "
        f"- included {-result['included_monthly']:,.2f} = {result['total_monthly']:,.2f}"
    )
    minute = result["per_call_minute"]
    out.append(
        f"Each call minute beyond the plans' allowances: {sum(minute.values()):.5f} "
        f"({', '.join(f'{name} {usd:.5f}' for name, usd in minute.items())})"
    )
    out.append("Prices: infra/costs.py PRICES, each with its source and date (docs/costs.md lists them).")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.costs", description="Offline monthly cost estimate.")
    parser.add_argument("--stack", required=True, help="a stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print JSON, with the price table and platforms")
    args = parser.parse_args(argv)
    stacks = known_stacks()
    if args.stack not in stacks:
        print(f"error: unknown stack {args.stack!r}; valid stacks: {', '.join(stacks)}", file=sys.stderr)
        return 2
    try:
        result = estimate(settings_from_stack_file(stack_file(args.stack)))
    except SettingsError as error:
        print(f"error: Pulumi.{args.stack}.yaml: {error}", file=sys.stderr)
        return 2
    if args.json:
        result = {
            **result,
            "platforms": platform_estimates(),
            "prices": {key: asdict(price) for key, price in PRICES.items()},
        }
        print(json.dumps(result, indent=2))
    else:
        print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

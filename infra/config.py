"""Stack settings, read once from Pulumi config into one validated object before any resource is declared.

Every key a stack file may carry is a field here (camelCase in the stack file); anything else is an error, so a
typo cannot silently fall back to a default. No key is secret: provider keys live only in Secrets Manager, and
a provider key set as Pulumi config is refused by name (`infra.secret_store.FORBIDDEN_CONFIG_KEYS`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Literal

from pulumi.runtime.config import CONFIG, get_config_env
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from agent.front_desk import parse_days
from agent.settings import valid_time_zone

PROJECT = "hospital-receptionist"


class SettingsError(Exception):
    """A stack setting is missing or invalid; the message names the keys."""


@dataclass(frozen=True)
class InstanceClass:
    vcpus: int
    memory_gib: float
    burstable: bool


# RDS PostgreSQL classes this program knows how to size and price (prices live in infra.costs).
INSTANCE_CLASSES: dict[str, InstanceClass] = {
    "db.t4g.micro": InstanceClass(vcpus=2, memory_gib=1, burstable=True),
    "db.t4g.small": InstanceClass(vcpus=2, memory_gib=2, burstable=True),
    "db.t4g.medium": InstanceClass(vcpus=2, memory_gib=4, burstable=True),
    "db.m7g.large": InstanceClass(vcpus=2, memory_gib=8, burstable=False),
}

# LiveKit Cloud agent region -> nearest AWS region (LiveKit: Ashburn, Frankfurt, Mumbai).
AWS_REGION_FOR_LIVEKIT = {"us-east": "us-east-1", "eu-central": "eu-central-1", "ap-south": "ap-south-1"}

# Values CloudWatch Logs accepts for retention.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365)

# LiveKit plans that come with a BAA (docs/security.md): recording of patient calls needs one in prod.
BAA_PLANS = frozenset({"scale"})

MIN_DATABASE_CONNECTIONS = 20
RESERVED_CONNECTIONS = 3  # superuser_reserved_connections
PROD_MIN_BACKUP_DAYS = 7

_ZONE_ID = re.compile(r"^[a-z]{2,5}\d+-az\d+$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_DAY_TIME = r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d"
_MAINTENANCE = re.compile(rf"^{_DAY_TIME}-{_DAY_TIME}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def default_max_connections(instance_class: str) -> int:
    """RDS PostgreSQL's default max_connections, LEAST(DBInstanceClassMemory/9531392, 5000).

    DBInstanceClassMemory is the RAM left after the OS and RDS processes; 80 % of the class's memory is a
    conservative stand-in for it.
    """
    memory_bytes = INSTANCE_CLASSES[instance_class].memory_gib * 0.8 * 1024**3
    return min(math.floor(memory_bytes / 9_531_392), 5000)


class StackSettings(BaseModel):
    """Everything a stack needs apart from secrets. Field `x_y` is stack key `hospital-receptionist:xY`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    app_env: Literal["dev", "staging", "prod"]
    livekit_region: Literal["us-east", "eu-central", "ap-south"]
    aws_region: str | None = Field(None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    livekit_url: str = Field(pattern=r"^wss://[A-Za-z0-9.-]+(:\d+)?/?$")
    livekit_principal_arn: str | None = Field(None, pattern=r"^arn:aws:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+)$")
    agent_name: str = Field("hospital-receptionist", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    deploy_agent: bool = True
    # The Gateway DNS `lk agent private-link create` prints: LiveKit's docs show `*.link`, the lk CLI's source
    # (cmd/lk/agent_private_link.go, privateLinkServiceDNS) prints `<name>-<project id>.plg.svc`.
    private_link_host: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(link|plg\.svc)$")
    agent_database_ca_file: str = "/etc/ssl/certs/ca-certificates.crt"
    database_ca_bundle_url: str = Field(
        "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem", pattern=r"^https://"
    )

    db_access_mode: Literal["private-link", "public"]
    allowed_cidrs: tuple[IPv4Network, ...] = ()
    proxy_enabled: bool
    vpc_cidr: IPv4Network = IPv4Network("10.40.0.0/16")
    existing_vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]+$")
    existing_private_subnet_ids: tuple[str, ...] = ()
    existing_public_subnet_ids: tuple[str, ...] = ()
    # AWS zone IDs (e.g. use1-az1) for the private subnets, NLB and proxy. PrivateLink matches the two sides'
    # zones by ID, and zone names map to different zones in each account: see docs/deployment.md.
    private_link_zone_ids: tuple[str, ...] = ()

    db_instance_class: str
    db_allocated_storage_gb: int = Field(20, ge=20, le=2000)
    db_max_allocated_storage_gb: int = Field(100, ge=20, le=4000)
    db_multi_az: bool
    db_name: str = Field("hospital", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    db_master_username: str = Field("hospital_admin", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    db_app_username: str = Field("hospital_app", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    backup_retention_days: int = Field(ge=1, le=35)
    backup_window: str = "03:00-04:00"
    maintenance_window: str = "sun:04:30-sun:05:30"
    deletion_protection: bool
    final_snapshot: bool
    seed_data: bool
    log_retention_days: int = 30
    # The group LiveKit Cloud's log drain writes the agent's stdout to (the program owns it: retention, KMS).
    agent_log_group: str | None = Field(None, pattern=r"^[.\-_/#A-Za-z0-9]{1,512}$")
    # Error lines in the agent's log within 5 minutes that raise the log-errors alarm.
    log_error_lines_threshold: int = Field(5, ge=1)
    # LiveKit Cloud's recording of sessions (audio, transcripts, traces, logs): "off", or "redacted" (PII
    # redaction on), which prod allows only on a plan with a BAA.
    session_recording: Literal["off", "redacted"] = "off"

    proxy_max_connections_percent: int = Field(90, ge=10, le=100)
    proxy_max_idle_connections_percent: int = Field(50, ge=0, le=100)
    proxy_idle_client_timeout_seconds: int = Field(1800, ge=60, le=28_800)
    proxy_connection_borrow_timeout_seconds: int = Field(30, ge=1, le=300)

    alert_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    metrics_namespace: str = Field("HospitalReceptionist", pattern=r"^[A-Za-z0-9._/#:-]{1,255}$")
    heartbeat_missed_minutes: int = Field(3, ge=1, le=60)
    uptime_target_percent: float = Field(99.0, ge=90, lt=100)
    pool_use_threshold_percent: float = Field(80, gt=0, le=100)
    agent_processing_p95_ms: float = Field(200, gt=0)
    turn_latency_p95_ms: float = Field(gt=0)
    error_rate_threshold_percent: float = Field(5, gt=0, le=100)

    expected_call_minutes_per_month: int = Field(ge=0)
    livekit_plan: Literal["build", "ship", "scale"]
    # Cartesia's paid plans (a plan's fee is a minimum; the free plan's credits cover about an hour of calls).
    cartesia_plan: Literal["pro", "startup", "scale"]
    ssm_instance_type: Literal["t4g.nano", "t4g.micro"] = "t4g.nano"

    # The phone line (docs/telephony.md): "off"; "livekit-numbers", numbers bought from LiveKit (a dispatch rule
    # routes them); or "sip-trunk", numbers at a SIP provider that sends calls to LiveKit through an inbound trunk.
    phone_line: Literal["off", "livekit-numbers", "sip-trunk"] = "off"
    phone_numbers: tuple[str, ...] = ()
    # One room per caller, which LiveKit names "<prefix>_<caller's number>_<random>" (docs/telephony.md).
    phone_room_prefix: str = Field("call-", pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")
    # sip-trunk only: the provider's signalling addresses, and/or a digest-auth username (the password goes into
    # Secrets Manager, <project>-<stack>/SIP_TRUNK_PASSWORD).
    sip_allowed_addresses: tuple[IPv4Network, ...] = ()
    sip_auth_username: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # Overrides of the telephony prices in infra.costs.PRICES (marked assumptions there): set the contract's.
    phone_number_monthly_usd: float | None = Field(None, ge=0)
    phone_minute_usd: float | None = Field(None, ge=0)
    # The hospital's time zone and its front desk's hours, the one source for every layer (docs/telephony.md,
    # "Opening hours"): the agent gets them as HOSPITAL_TIMEZONE and FRONT_DESK_* (infra/deploy.py; outside the
    # hours it offers a callback instead of a transfer), the console its time zone, and the no-calls alarm acts only
    # in these hours. Days as in an EventBridge Scheduler cron expression (MON-FRI, MON-FRI,SAT).
    hospital_time_zone: str = "America/New_York"
    front_desk_open_days: str = Field(
        "MON-FRI", pattern=r"^(MON|TUE|WED|THU|FRI|SAT|SUN)([-,](MON|TUE|WED|THU|FRI|SAT|SUN))*$"
    )
    front_desk_open_hour: int = Field(8, ge=0, le=23)
    front_desk_close_hour: int = Field(18, ge=1, le=24)
    # The staff console (infra/console.py): ECS Fargate behind an HTTPS load balancer that signs staff in with
    # Cognito. Staging and prod only (it reaches the database through RDS Proxy); dev runs it locally.
    console_enabled: bool = False
    # The host name staff open; its ACM certificate is validated by a DNS record the operator adds.
    console_domain: str | None = Field(
        None, max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
    )
    console_desired_count: int = Field(1, ge=1, le=10)
    # The load balancer's Cognito session (a shift), and the console's own idle timeout inside it.
    console_session_timeout_seconds: int = Field(43_200, ge=900, le=604_800)
    console_session_idle_minutes: int = Field(30, ge=1, le=720)
    # 5xx answers (the load balancer's and the console's) within 5 minutes that raise the console-5xx alarm.
    console_server_errors_threshold: int = Field(5, ge=1)
    # The login role the console connects as, a member of the migrations' `hospital_console` (infra/scripts/
    # console_role.py gives it its password at deploy time).
    db_console_username: str = Field("hospital_console_login", pattern=r"^[a-z][a-z0-9_]{0,62}$")

    @field_validator("db_instance_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in INSTANCE_CLASSES:
            raise ValueError(f"unknown instance class {value!r}; known: {', '.join(INSTANCE_CLASSES)}")
        return value

    @field_validator("private_link_zone_ids")
    @classmethod
    def _zone_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [zone for zone in value if not _ZONE_ID.match(zone)]
        if wrong:
            raise ValueError(f"not AWS zone IDs (like use1-az1): {', '.join(wrong)}")
        if len(set(value)) != len(value):
            raise ValueError("lists a zone ID twice")
        return value

    @field_validator("phone_numbers")
    @classmethod
    def _e164(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [number for number in value if not _E164.match(number)]
        if wrong:
            raise ValueError(f"not E.164 numbers (like +15550100001): {', '.join(wrong)}")
        if len(set(value)) != len(value):
            raise ValueError("lists a number twice")
        return value

    @field_validator("hospital_time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        return valid_time_zone(value)

    @field_validator("front_desk_open_days")
    @classmethod
    def _open_days(cls, value: str) -> str:
        parse_days(value)
        return value

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, value: str) -> str:
        if not _WINDOW.match(value):
            raise ValueError("must look like hh:mm-hh:mm (UTC)")
        return value

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str) -> str:
        if not _MAINTENANCE.match(value):
            raise ValueError("must look like ddd:hh:mm-ddd:hh:mm (UTC), e.g. sun:04:30-sun:05:30")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _log_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {LOG_RETENTION_DAYS}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        problems = [*self._environment_rules(), *self._access_rules(), *self._zone_rules(), *self._sizing_rules()]
        if self.front_desk_close_hour <= self.front_desk_open_hour:
            problems.append("frontDeskCloseHour must be after frontDeskOpenHour (it opens and closes the same day)")
        problems += self._phone_rules()
        problems += self._console_rules()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _environment_rules(self) -> list[str]:
        problems = []
        if self.app_env == "prod":
            if self.backup_retention_days < PROD_MIN_BACKUP_DAYS:
                problems.append(f"backupRetentionDays must be at least {PROD_MIN_BACKUP_DAYS} in prod")
            if not self.deletion_protection:
                problems.append("deletionProtection must be true in prod")
            if not self.final_snapshot:
                problems.append("finalSnapshot must be true in prod")
            if not self.db_multi_az:
                problems.append("dbMultiAz must be true in prod")
            if self.seed_data:
                problems.append("seedData must be false in prod (synthetic data never goes to prod)")
            if self.livekit_plan not in BAA_PLANS:
                problems.append(
                    f"livekitPlan must be {' or '.join(map(repr, sorted(BAA_PLANS)))} in prod: patients' calls (and "
                    "any session recording) need LiveKit's BAA, which comes with Scale and Enterprise only "
                    "(docs/security.md)"
                )
        if self.db_access_mode == "public" and self.app_env != "dev":
            problems.append(f"dbAccessMode 'public' is for dev only, not {self.app_env}; use 'private-link'")
        return problems

    def _access_rules(self) -> list[str]:
        problems = []
        if self.db_access_mode == "public":
            if not self.allowed_cidrs:
                problems.append("allowedCidrs must list at least one network in public mode")
            if any(net.prefixlen == 0 for net in self.allowed_cidrs):
                problems.append("allowedCidrs must not contain 0.0.0.0/0")
            if self.proxy_enabled:
                problems.append("proxyEnabled must be false in public mode (an RDS Proxy is never publicly reachable)")
        else:
            if self.allowed_cidrs:
                problems.append("allowedCidrs is only used in public mode; remove it")
            if not self.proxy_enabled:
                problems.append("proxyEnabled must be true in private-link mode (the NLB targets the proxy)")
            if self.livekit_principal_arn is None:
                problems.append("livekitPrincipalArn is required in private-link mode (LiveKit's AWS principal)")
        if self.existing_vpc_id and len(self.existing_private_subnet_ids) < 2:
            problems.append("existingPrivateSubnetIds needs subnets in at least two AZs with existingVpcId")
        if self.existing_vpc_id and len(self.existing_public_subnet_ids) < 1:
            problems.append("existingPublicSubnetIds needs at least one subnet with existingVpcId")
        if (self.existing_private_subnet_ids or self.existing_public_subnet_ids) and not self.existing_vpc_id:
            problems.append("existing subnet ids need existingVpcId")
        return problems

    def _zone_rules(self) -> list[str]:
        problems = []
        if self.existing_vpc_id and self.private_link_zone_ids:
            problems.append("privateLinkZoneIds places the subnets this program creates; with existingVpcId remove it")
        if self.private_link and not self.existing_vpc_id and len(self.private_link_zone_ids) < 2:
            problems.append(
                "privateLinkZoneIds must list at least two AWS zone IDs in private-link mode (the zones LiveKit "
                "Cloud's endpoint can use; see docs/deployment.md)"
            )
        return problems

    def _sizing_rules(self) -> list[str]:
        problems = []
        if self.db_app_username == self.db_master_username:
            problems.append("dbAppUsername must differ from dbMasterUsername (the agent gets DML only)")
        if self.db_max_allocated_storage_gb < self.db_allocated_storage_gb:
            problems.append("dbMaxAllocatedStorageGb must not be below dbAllocatedStorageGb")
        if self.max_pooled_connections < MIN_DATABASE_CONNECTIONS:
            problems.append(
                f"{self.db_instance_class} with proxyMaxConnectionsPercent={self.proxy_max_connections_percent} "
                f"allows about {self.max_pooled_connections} connections; at least {MIN_DATABASE_CONNECTIONS} needed"
            )
        return problems

    def _phone_rules(self) -> list[str]:
        problems = []
        trunk_keys = {"sipAllowedAddresses": self.sip_allowed_addresses, "sipAuthUsername": self.sip_auth_username}
        if self.phone_line == "off":
            set_keys = [key for key, value in {"phoneNumbers": self.phone_numbers, **trunk_keys}.items() if value]
            if set_keys:
                problems.append(f"{', '.join(set_keys)} set but phoneLine is 'off'")
            return problems
        if not self.phone_numbers:
            problems.append(f"phoneNumbers must list the line's numbers with phoneLine '{self.phone_line}'")
        if self.front_desk_close_hour <= self.front_desk_open_hour + 1:
            problems.append(
                "frontDeskCloseHour must be at least two hours after frontDeskOpenHour with a phone line (the no-calls "
                "alarm waits an hour after opening)"
            )
        if self.phone_line == "livekit-numbers":
            set_keys = [key for key, value in trunk_keys.items() if value]
            if set_keys:
                problems.append(f"{', '.join(set_keys)} only apply with phoneLine 'sip-trunk'")
        elif not self.sip_allowed_addresses and not self.sip_auth_username:
            problems.append("a SIP trunk needs sipAllowedAddresses or sipAuthUsername (else anyone may call in)")
        if any(net.prefixlen == 0 for net in self.sip_allowed_addresses):
            problems.append("sipAllowedAddresses must not contain 0.0.0.0/0")
        return problems

    def _console_rules(self) -> list[str]:
        problems = []
        if self.console_enabled and not self.console_domain:
            problems.append("consoleDomain is required with consoleEnabled (the host name of its certificate)")
        if self.console_enabled and self.existing_vpc_id and len(self.existing_public_subnet_ids) < 2:
            problems.append(
                "existingPublicSubnetIds needs subnets in at least two AZs with consoleEnabled (its load balancer)"
            )
        if self.console_enabled and not self.proxy_enabled:
            problems.append("consoleEnabled needs proxyEnabled (the console reaches the database through RDS Proxy)")
        if self.db_console_username in {self.db_master_username, self.db_app_username, "hospital_console"}:
            problems.append(
                "dbConsoleUsername must differ from the master and agent roles and from hospital_console (the "
                "group role it joins)"
            )
        return problems

    @property
    def region(self) -> str:
        return self.aws_region or AWS_REGION_FOR_LIVEKIT[self.livekit_region]

    @property
    def log_group_name(self) -> str:
        return self.agent_log_group or f"/{PROJECT}/{self.app_env}/agent"

    @property
    def hospital_hours(self) -> dict[str, str]:
        """The time zone and the front desk's hours as agent settings (agent/settings.py), for AGENT_SETTINGS."""
        return {
            "HOSPITAL_TIMEZONE": self.hospital_time_zone,
            "FRONT_DESK_OPEN_DAYS": self.front_desk_open_days,
            "FRONT_DESK_OPEN_HOUR": str(self.front_desk_open_hour),
            "FRONT_DESK_CLOSE_HOUR": str(self.front_desk_close_hour),
        }

    @property
    def private_link(self) -> bool:
        return self.db_access_mode == "private-link"

    @property
    def instance(self) -> InstanceClass:
        return INSTANCE_CLASSES[self.db_instance_class]

    @property
    def max_pooled_connections(self) -> int:
        """Connections the agent can hold at once: through the proxy's cap, or straight to the server."""
        usable = default_max_connections(self.db_instance_class) - RESERVED_CONNECTIONS
        if self.proxy_enabled:
            return math.floor(usable * self.proxy_max_connections_percent / 100)
        return usable


# Keys whose stack value is a YAML list (Pulumi hands them to the program as JSON text).
_LIST_FIELDS = {
    "allowed_cidrs",
    "existing_private_subnet_ids",
    "existing_public_subnet_ids",
    "private_link_zone_ids",
    "phone_numbers",
    "sip_allowed_addresses",
}


def setting_keys() -> set[str]:
    """Every non-secret key a stack file may set (without the project prefix)."""
    return {field.alias or name for name, field in StackSettings.model_fields.items()}


def describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(to_camel(str(part)) for part in problem["loc"])
        reason = problem["msg"].removeprefix("Value error, ")
        lines.append(f"  {PROJECT}:{key}: {reason}" if key else f"  {reason}")
    return "\n".join(lines)


def parse(raw: dict[str, object], forbidden_keys: frozenset[str] = frozenset()) -> StackSettings:
    """Validate raw stack values (key without project prefix -> text as Pulumi stores it).

    A key in `forbidden_keys` (a provider API key) is refused with where it belongs instead."""
    problems = [
        f"  {PROJECT}:{key}: provider keys never go into Pulumi config; put the value into Secrets Manager "
        f"(docs/deployment.md, section 4) and remove it: pulumi config rm {PROJECT}:{key}"
        for key in sorted(set(raw) & forbidden_keys)
    ]
    problems += [
        f"  {PROJECT}:{key}: not a known setting" for key in sorted(set(raw) - setting_keys() - forbidden_keys)
    ]
    values = {}
    for name, field in StackSettings.model_fields.items():
        key = field.alias or name
        if key in raw:
            values[key] = _decode(name, raw[key])
    try:
        settings = StackSettings.model_validate(values)
    except ValidationError as error:
        problems.insert(0, describe(error))
    if problems:
        raise SettingsError("stack settings are invalid:\n" + "\n".join(problems))
    return settings


def _decode(name: str, text: object) -> object:
    if name in _LIST_FIELDS and isinstance(text, str):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def load(forbidden_keys: frozenset[str]) -> StackSettings:
    """Read this stack's settings (call once, before declaring resources)."""
    prefix = f"{PROJECT}:"
    everything = {**get_config_env(), **CONFIG.get()}
    raw = {key.removeprefix(prefix): value for key, value in everything.items() if key.startswith(prefix)}
    return parse(raw, forbidden_keys)

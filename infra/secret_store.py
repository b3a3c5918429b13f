"""Secrets: one Secrets Manager entry per agent secret, KMS-encrypted, never exported in clear.

Provider and LiveKit keys are *operator* secrets: the program creates their empty containers and never holds
a value (no Pulumi config, no state, so a pull request's preview cannot read them); the operator puts each
value with `aws secretsmanager put-secret-value`, and the deploy step reads it at deploy time
(`infra/scripts/agent_secrets.py`). The IAM access keys the program itself creates (metrics publisher, log
drain writer) are stored by the program.

The list comes from the agent's own settings (`agent.settings.Settings`): every `SecretStr` field there must be
in AGENT_SECRETS below, so a new secret in the agent cannot ship without the stack providing it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws
from pydantic import SecretStr
from pydantic.alias_generators import to_camel

from agent.settings import Settings

# The Secrets Manager label of the value a reader gets by default.
CURRENT_STAGE = "AWSCURRENT"


class Source(StrEnum):
    OPERATOR = "put into Secrets Manager by the operator (aws secretsmanager put-secret-value)"
    METRICS_USER = "the metrics publisher's IAM access key"
    LOG_DRAIN_USER = "the log drain writer's IAM access key"
    DEPLOY = "built at deploy time from the agent role's database secret"


@dataclass(frozen=True)
class AgentSecret:
    env_name: str
    source: Source
    # LiveKit Cloud injects LIVEKIT_API_KEY/SECRET into the agent itself; we keep them to run `lk`.
    injected_by_livekit: bool = False

    @property
    def config_key(self) -> str:
        """The Pulumi config key this secret would have: refused, so no provider key reaches Pulumi."""
        return to_camel(self.env_name.lower())

    @property
    def slug(self) -> str:
        return self.env_name.lower().replace("_", "-")


# LiveKit Cloud's log drain to CloudWatch reads these agent secrets (docs.livekit.io/deploy/agents/log-drains:
# CloudWatch needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, optionally AWS_REGION). They configure
# LiveKit's sidecar, not the agent, so they are no agent setting.
LOG_DRAIN_SECRETS: tuple[AgentSecret, ...] = (
    AgentSecret("AWS_ACCESS_KEY_ID", Source.LOG_DRAIN_USER),
    AgentSecret("AWS_SECRET_ACCESS_KEY", Source.LOG_DRAIN_USER),
)
LOG_DRAIN_REGION_VARIABLE = "AWS_REGION"

AGENT_SECRETS: tuple[AgentSecret, ...] = (
    AgentSecret("LIVEKIT_API_KEY", Source.OPERATOR, injected_by_livekit=True),
    AgentSecret("LIVEKIT_API_SECRET", Source.OPERATOR, injected_by_livekit=True),
    AgentSecret("DEEPGRAM_API_KEY", Source.OPERATOR),
    AgentSecret("OPENAI_API_KEY", Source.OPERATOR),
    AgentSecret("CARTESIA_API_KEY", Source.OPERATOR),
    AgentSecret("METRICS_AWS_ACCESS_KEY_ID", Source.METRICS_USER),
    AgentSecret("METRICS_AWS_SECRET_ACCESS_KEY", Source.METRICS_USER),
    AgentSecret("DATABASE_URL", Source.DEPLOY),
    *LOG_DRAIN_SECRETS,
)

OPERATOR_SECRETS = tuple(s for s in AGENT_SECRETS if s.source is Source.OPERATOR)
# Config keys the program refuses: a provider key typed into Pulumi config would sit in its state.
FORBIDDEN_CONFIG_KEYS = frozenset(s.config_key for s in OPERATOR_SECRETS)


def secret_name(stack_name: str, env_name: str) -> str:
    """The Secrets Manager name of one agent secret, e.g. hospital-receptionist-prod/OPENAI_API_KEY."""
    return f"{stack_name}/{env_name}"


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def settings_secret_names() -> set[str]:
    """Environment names of every secret the agent's settings declare."""
    return {name.upper() for name, field in Settings.model_fields.items() if _is_secret(field.annotation)}


def check_coverage() -> None:
    declared = {s.env_name for s in AGENT_SECRETS if s not in LOG_DRAIN_SECRETS}
    missing, extra = settings_secret_names() - declared, declared - settings_secret_names()
    if missing or extra:
        raise ValueError(
            f"infra.secret_store.AGENT_SECRETS is out of step with agent/settings.py: "
            f"missing {sorted(missing)}, not in the settings {sorted(extra)}"
        )


class AgentSecrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]
    # Version ids of the current values: a new value (the program's or the operator's) redeploys the agent.
    versions: list[pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        *,
        kms_key_arn: pulumi.Input[str],
        generated: dict[str, pulumi.Output[str]],
        recovery_window_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`generated`: env name -> value for the secrets the program creates itself (IAM access keys)."""
        super().__init__("hospital:infra:AgentSecrets", name, None, opts)
        check_coverage()
        child = pulumi.ResourceOptions(parent=self)
        self.arns, self.versions = {}, []
        for secret in AGENT_SECRETS:
            if secret.source is not Source.OPERATOR and secret.env_name not in generated:
                continue  # built at deploy time, or a generated key this stack does not create
            entry = aws.secretsmanager.Secret(
                f"{name}-{secret.slug}",
                name=secret_name(name, secret.env_name),
                description=f"Agent secret {secret.env_name}: {secret.source}",
                kms_key_id=kms_key_arn,
                recovery_window_in_days=recovery_window_days,
                opts=child,
            )
            self.arns[secret.env_name] = entry.arn
            if secret.source is Source.OPERATOR:
                self.versions.append(current_version(entry))
            else:
                version = aws.secretsmanager.SecretVersion(
                    f"{name}-{secret.slug}-value",
                    secret_id=entry.id,
                    secret_string=pulumi.Output.secret(generated[secret.env_name]),
                    opts=child,
                )
                self.versions.append(version.version_id)
        self.register_outputs({"arns": self.arns})


def current_version(entry: aws.secretsmanager.Secret) -> pulumi.Output[str]:
    """The id of the operator's current value, read from its metadata (ListSecretVersionIds, never the value);
    empty until the operator has put one (the data source then returns no versions and no error:
    terraform-provider-aws, internal/service/secretsmanager/secret_versions_data_source.go)."""
    listing = aws.secretsmanager.get_secret_versions_output(
        secret_id=entry.arn, opts=pulumi.InvokeOutputOptions(parent=entry)
    )
    return listing.versions.apply(
        lambda versions: next((v.version_id for v in versions or [] if CURRENT_STAGE in v.version_stages), "")
    )

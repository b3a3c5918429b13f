"""Secrets: one Secrets Manager entry per agent secret, values from Pulumi config secrets (or, for the metrics
publisher, from its IAM access key), never exported in clear.

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


class Source(StrEnum):
    CONFIG = "pulumi config secret"
    METRICS_USER = "the metrics publisher's IAM access key"
    DEPLOY = "built at deploy time from the RDS-managed master secret"


@dataclass(frozen=True)
class AgentSecret:
    env_name: str
    source: Source
    # LiveKit Cloud injects LIVEKIT_API_KEY/SECRET into the agent itself; we keep them to run `lk`.
    injected_by_livekit: bool = False

    @property
    def config_key(self) -> str:
        return to_camel(self.env_name.lower())


AGENT_SECRETS: tuple[AgentSecret, ...] = (
    AgentSecret("LIVEKIT_API_KEY", Source.CONFIG, injected_by_livekit=True),
    AgentSecret("LIVEKIT_API_SECRET", Source.CONFIG, injected_by_livekit=True),
    AgentSecret("DEEPGRAM_API_KEY", Source.CONFIG),
    AgentSecret("OPENAI_API_KEY", Source.CONFIG),
    AgentSecret("CARTESIA_API_KEY", Source.CONFIG),
    AgentSecret("METRICS_AWS_ACCESS_KEY_ID", Source.METRICS_USER),
    AgentSecret("METRICS_AWS_SECRET_ACCESS_KEY", Source.METRICS_USER),
    AgentSecret("DATABASE_URL", Source.DEPLOY),
)

CONFIG_SECRET_KEYS = frozenset(s.config_key for s in AGENT_SECRETS if s.source is Source.CONFIG)


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def settings_secret_names() -> set[str]:
    """Environment names of every secret the agent's settings declare."""
    return {name.upper() for name, field in Settings.model_fields.items() if _is_secret(field.annotation)}


def check_coverage() -> None:
    declared = {s.env_name for s in AGENT_SECRETS}
    missing, extra = settings_secret_names() - declared, declared - settings_secret_names()
    if missing or extra:
        raise ValueError(
            f"infra.secret_store.AGENT_SECRETS is out of step with agent/settings.py: "
            f"missing {sorted(missing)}, not in the settings {sorted(extra)}"
        )


class AgentSecrets(pulumi.ComponentResource):
    arns: dict[str, pulumi.Output[str]]
    versions: list[pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        *,
        kms_key_arn: pulumi.Input[str],
        metrics_access_key_id: pulumi.Output[str],
        metrics_secret_access_key: pulumi.Output[str],
        recovery_window_days: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:AgentSecrets", name, None, opts)
        check_coverage()
        config = pulumi.Config()
        values = {
            "METRICS_AWS_ACCESS_KEY_ID": pulumi.Output.secret(metrics_access_key_id),
            "METRICS_AWS_SECRET_ACCESS_KEY": pulumi.Output.secret(metrics_secret_access_key),
        }
        for secret in AGENT_SECRETS:
            if secret.source is Source.CONFIG:
                values[secret.env_name] = config.require_secret(secret.config_key)
        self.arns, self.versions = {}, []
        for env_name, value in values.items():
            slug = env_name.lower().replace("_", "-")
            entry = aws.secretsmanager.Secret(
                f"{name}-{slug}",
                name=f"{name}/{env_name}",
                description=f"Agent secret {env_name}",
                kms_key_id=kms_key_arn,
                recovery_window_in_days=recovery_window_days,
                opts=pulumi.ResourceOptions(parent=self),
            )
            version = aws.secretsmanager.SecretVersion(
                f"{name}-{slug}-value",
                secret_id=entry.id,
                secret_string=value,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arns[env_name] = entry.arn
            self.versions.append(version.version_id)
        self.register_outputs({"arns": self.arns})

"""Every setting the receptionist reads, validated once at start-up.

This is the single list that `.env.example`, the platform files (fly.toml, render.yaml, railway.json),
the Pulumi secrets and the docs are checked against by tests. Values come from the environment only
(and a local `.env` in development); secrets are `SecretStr` so they never print.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import unquote, unquote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent import front_desk


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class SettingsError(Exception):
    """Configuration is missing or invalid. The message names variables, never their values."""


_TTL_PATTERN = re.compile(r"^(\d+)\s*(s|m|h)$")
_TTL_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
MAX_TOKEN_TTL = timedelta(hours=24)


def parse_ttl(text: str) -> timedelta:
    """Parse a token lifetime such as "90s", "15m" or "1h" (at most 24 h)."""
    match = _TTL_PATTERN.match(text.strip().lower())
    if not match:
        raise ValueError("not a positive duration like 90s, 15m or 1h (at most 24h)")
    # Bounded as digits and integers first: timedelta overflows past 999999999 days, and int() refuses
    # numbers of thousands of digits.
    if len(match[1].lstrip("0")) > len(str(int(MAX_TOKEN_TTL.total_seconds()))):
        raise ValueError("a token lifetime must be at most 24h")
    seconds = int(match[1]) * _TTL_UNIT_SECONDS[match[2]]
    if seconds <= 0:
        raise ValueError("a token lifetime must be longer than zero")
    if seconds > MAX_TOKEN_TTL.total_seconds():
        raise ValueError("a token lifetime must be at most 24h")
    return timedelta(seconds=seconds)


def valid_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not a known IANA time zone (e.g. America/New_York)") from exc
    return name


def _valid_postgres_url(url: SecretStr) -> SecretStr:
    if not url.get_secret_value().startswith(("postgresql://", "postgres://")):
        raise ValueError("must start with postgresql:// (or postgres://)")
    return url


# Connection parameters that hold a password when given in a PostgreSQL URL's query string.
_PASSWORD_PARAMETERS = frozenset({"password", "sslpassword"})

TimeZoneName = Annotated[str, AfterValidator(valid_time_zone)]
# The URL carries the password, so it is a secret too.
PostgresUrl = Annotated[SecretStr, AfterValidator(_valid_postgres_url)]


def _is_livekit_cloud(livekit_url: str) -> bool:
    host = urlsplit(livekit_url).hostname or ""
    return host.endswith(".livekit.cloud")


def _environment(info: ValidationInfo) -> Environment | None:
    """APP_ENV as validated so far (None when it was itself invalid, which is reported on its own)."""
    return info.data.get("app_env")


class _EnvironmentSettings(BaseSettings):
    """APP_ENV comes first: the checks of later fields read it.

    Cross-field checks are field validators that look at fields validated before them (`info.data`),
    not model validators, because pydantic runs model validators only when every field is valid: a
    missing key would hide an insecure URL until the next start-up.
    """

    # An empty variable counts as unset, so a copied .env.example with blanks reports what is missing.
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore", frozen=True)

    app_env: Environment = Field(Environment.DEV, description="Environment name: dev, staging or prod.")


class DatabaseSettings(_EnvironmentSettings):
    """What the database command and the data layer need; a subset of the worker's settings."""

    database_url: PostgresUrl = Field(
        description="PostgreSQL URL of the hospital database (through the proxy or Private Link in the cloud)."
    )
    database_ca_file: Path | None = Field(
        None,
        validate_default=True,
        description="PEM root certificates that sign the database's TLS certificate; required outside dev.",
    )
    database_tls_server_name: str | None = Field(
        None,
        description="Host name the database certificate must carry, when the URL's host differs "
        "(a Private Link *.link name in front of RDS Proxy).",
    )
    database_pool_max_size: int = Field(
        4, ge=1, le=50, description="Connections per job process (LiveKit runs one process per job)."
    )
    database_statement_cache_size: int = Field(
        0, ge=0, le=10_000, description="asyncpg prepared-statement cache; 0 behind a transaction pooler."
    )
    database_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Connect and query timeout for one database call."
    )
    slot_minutes: int = Field(30, ge=5, le=240, description="Length of one appointment slot.")
    hospital_timezone: TimeZoneName = Field(
        "America/New_York", description="IANA time zone the hospital's calendar lives in."
    )

    def secret_values(self) -> list[str]:
        """The database password wherever the URL carries it (user info or a `password` query parameter, which
        libpq and asyncpg both read), as written and percent-decoded, for the log redaction layer."""
        url = urlsplit(self.database_url.get_secret_value())
        written = [url.password] if url.password else []
        for pair in url.query.split("&"):
            key, _, value = pair.partition("=")
            if unquote_plus(key).lower() in _PASSWORD_PARAMETERS and value:
                written.append(value)
        return list({form: None for value in written for form in (value, unquote(value), unquote_plus(value))})

    @field_validator("database_ca_file")
    @classmethod
    def _tls_outside_dev(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        environment = _environment(info)
        if value is None and environment not in (None, Environment.DEV):
            raise ValueError(f"required when APP_ENV={environment} (TLS verify-full to the database)")
        if value is not None and not value.is_file():
            raise ValueError("does not name a readable file")
        return value


class TokenSettings(_EnvironmentSettings):
    """What `python -m agent token` needs: LiveKit credentials and the agent's name, no provider keys."""

    livekit_api_key: SecretStr = Field(description="LiveKit API key (LiveKit Cloud injects it).")
    livekit_api_secret: SecretStr = Field(description="LiveKit API secret (LiveKit Cloud injects it).")
    agent_name: str = Field(
        "hospital-receptionist",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Name the worker registers; tokens dispatch the agent by this name.",
    )
    token_ttl: str = Field("1h", description="Lifetime of join tokens the agent's CLI issues (e.g. 15m, 1h).")

    @field_validator("token_ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        parse_ttl(value)
        return value

    @property
    def token_lifetime(self) -> timedelta:
        return parse_ttl(self.token_ttl)


class Settings(DatabaseSettings, TokenSettings):
    """Everything the worker needs. Loading it validates all of it at once."""

    livekit_url: str = Field(description="LiveKit server URL; wss:// outside dev (LiveKit Cloud injects it).")
    deepgram_api_key: SecretStr = Field(description="Deepgram key for speech to text.")
    openai_api_key: SecretStr = Field(description="OpenAI key for the language model.")
    cartesia_api_key: SecretStr = Field(description="Cartesia key for text to speech.")

    hospital_name: str = Field(
        "Riverside General Hospital", min_length=1, max_length=120, description="Name the receptionist greets with."
    )
    emergency_number: str = Field(
        "911", pattern=r"^[0-9]{2,4}$", description="Number callers are told to dial in an emergency."
    )
    human_transfer_number: str | None = Field(
        None,
        pattern=r"^\+[1-9][0-9]{6,14}$",
        description="E.164 number of the front desk for transfers; callback requests are taken without it.",
    )
    front_desk_open_days: str = Field(
        front_desk.DEFAULT_OPEN_DAYS,
        description="Days the front desk takes transfers, e.g. MON-FRI or MON-FRI,SAT (a stack setting in the cloud).",
    )
    front_desk_open_hour: int = Field(
        front_desk.DEFAULT_OPEN_HOUR, ge=0, le=23, description="Hour the front desk opens, hospital time (0-23)."
    )
    front_desk_close_hour: int = Field(
        front_desk.DEFAULT_CLOSE_HOUR,
        ge=1,
        le=24,
        validate_default=True,
        description="Hour the front desk closes, hospital time (1-24); outside its hours callers get a callback.",
    )

    stt_model: str = Field("nova-3", description="Deepgram model.")
    stt_language: str = Field("en-US", description="Language the caller speaks (Deepgram code).")
    llm_model: str = Field("gpt-4o-mini", description="OpenAI chat model.")
    tts_model: str = Field("sonic-2", description="Cartesia model.")
    tts_voice: str = Field(
        "f786b574-daa5-4673-aa0c-cbe3e8534c02", description="Cartesia voice id the receptionist speaks with."
    )
    stt_fallback_model: str = Field(
        "gpt-4o-mini-transcribe", description="OpenAI speech-to-text model used while Deepgram fails."
    )
    llm_fallback_model: str = Field("gpt-4.1-mini", description="OpenAI chat model used while LLM_MODEL fails.")
    tts_fallback_model: str = Field(
        "gpt-4o-mini-tts", description="OpenAI text-to-speech model used while Cartesia fails."
    )
    tts_fallback_voice: str = Field("coral", description="OpenAI voice the fallback text to speech speaks with.")
    provider_attempt_timeout: float = Field(
        4.0,
        gt=0,
        le=30,
        description="Seconds one speech or model provider gets to answer before the call moves to its fallback.",
    )
    endpointing_min_delay: float = Field(0.5, ge=0, le=5, description="Seconds of silence before a turn may end.")
    endpointing_max_delay: float = Field(
        3.0, ge=0, le=10, validate_default=True, description="Longest wait for the end of a turn."
    )

    deepgram_base_url: str = Field("https://api.deepgram.com", description="Deepgram API base URL.")
    openai_base_url: str = Field("https://api.openai.com/v1", description="OpenAI API base URL.")
    cartesia_base_url: str = Field("https://api.cartesia.ai", description="Cartesia API base URL.")

    metrics_namespace: str = Field(
        "HospitalReceptionist",
        pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",
        description="CloudWatch namespace for the agent's metrics.",
    )
    metrics_aws_region: str | None = Field(None, description="AWS region metrics go to; empty turns publishing off.")
    metrics_aws_access_key_id: SecretStr | None = Field(None, description="Access key of the metrics-only IAM user.")
    metrics_aws_secret_access_key: SecretStr | None = Field(
        None, validate_default=True, description="Secret of the metrics-only IAM user."
    )
    metrics_endpoint_url: str | None = Field(None, description="CloudWatch endpoint override (tests only).")

    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Log level.")
    noise_cancellation: Literal["auto", "on", "off"] = Field(
        "auto",
        validate_default=True,
        description="LiveKit's noise cancellation of the caller's audio (telephony model for phone callers); it "
        "runs only on LiveKit Cloud: auto is on when LIVEKIT_URL is a LiveKit Cloud project (*.livekit.cloud).",
    )
    session_recording: Literal["off", "redacted"] = Field(
        "off",
        description="LiveKit Cloud's recording of each call (audio, transcript, traces, logs): off, or redacted "
        "(recorded with PII redaction; only where LiveKit's BAA covers it).",
    )

    @field_validator("livekit_url")
    @classmethod
    def _wss_outside_dev(cls, value: str, info: ValidationInfo) -> str:
        environment = _environment(info)
        if not value.startswith(("wss://", "ws://")):
            raise ValueError("must start with wss://")
        if environment not in (None, Environment.DEV) and not value.startswith("wss://"):
            raise ValueError(f"must use wss:// when APP_ENV={environment}")
        return value

    @field_validator("front_desk_open_days")
    @classmethod
    def _open_days(cls, value: str) -> str:
        front_desk.parse_days(value)
        return value

    @field_validator("front_desk_close_hour")
    @classmethod
    def _close_after_opening(cls, value: int, info: ValidationInfo) -> int:
        opening = info.data.get("front_desk_open_hour")
        if opening is not None and value <= opening:
            raise ValueError("must be after FRONT_DESK_OPEN_HOUR (the front desk opens and closes on the same day)")
        return value

    def front_desk_hours(self) -> front_desk.FrontDeskHours:
        return front_desk.FrontDeskHours(
            days=front_desk.parse_days(self.front_desk_open_days),
            opens=self.front_desk_open_hour,
            closes=self.front_desk_close_hour,
        )

    @field_validator("noise_cancellation")
    @classmethod
    def _noise_cancellation_on_livekit_cloud(cls, value: str, info: ValidationInfo) -> str:
        url = info.data.get("livekit_url")
        if value == "on" and url is not None and not _is_livekit_cloud(url):
            raise ValueError("runs only on LiveKit Cloud (LIVEKIT_URL wss://<project>.livekit.cloud); use auto or off")
        return value

    @property
    def noise_cancellation_enabled(self) -> bool:
        if self.noise_cancellation == "auto":
            return _is_livekit_cloud(self.livekit_url)
        return self.noise_cancellation == "on"

    @field_validator("endpointing_max_delay")
    @classmethod
    def _max_after_min(cls, value: float, info: ValidationInfo) -> float:
        minimum = info.data.get("endpointing_min_delay")
        if minimum is not None and value < minimum:
            raise ValueError("must not be below ENDPOINTING_MIN_DELAY")
        return value

    @field_validator("metrics_aws_secret_access_key")
    @classmethod
    def _metrics_keys_in_pairs(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if (value is None) != (info.data.get("metrics_aws_access_key_id") is None):
            raise ValueError("METRICS_AWS_ACCESS_KEY_ID and METRICS_AWS_SECRET_ACCESS_KEY go together")
        return value

    def secret_values(self) -> list[str]:
        """Every configured secret (the database password included), for the log redaction layer."""
        return super().secret_values() + [
            value.get_secret_value()
            for value in (
                self.livekit_api_secret,
                self.livekit_api_key,
                self.deepgram_api_key,
                self.openai_api_key,
                self.cartesia_api_key,
                self.metrics_aws_access_key_id,
                self.metrics_aws_secret_access_key,
            )
            if value is not None and value.get_secret_value()
        ]


SettingsT = TypeVar("SettingsT", bound=_EnvironmentSettings)

# Where a newcomer gets each provider's value; every message about a missing one says it.
WHERE_TO_GET = {
    "LIVEKIT_URL": "LiveKit Cloud (cloud.livekit.io) -> your project -> Settings: the project URL, wss://<project>.livekit.cloud",
    "LIVEKIT_API_KEY": "LiveKit Cloud (cloud.livekit.io) -> your project -> Settings -> API keys",
    "LIVEKIT_API_SECRET": "LiveKit Cloud (cloud.livekit.io) -> your project -> Settings -> API keys",
    "DEEPGRAM_API_KEY": "console.deepgram.com -> API Keys",
    "OPENAI_API_KEY": "platform.openai.com -> API keys",
    "CARTESIA_API_KEY": "play.cartesia.ai -> API keys",
    "DATABASE_URL": "`make dev` starts a local one; `make -s db-url` prints its URL",
}


def describe_errors(error: ValidationError, *, missing: bool = True) -> str:
    """One line per problem, naming the environment variable and never echoing its value; a missing variable
    says where to get it. `missing=False` leaves the missing ones out (listed elsewhere)."""
    lines = []
    for problem in error.errors():
        name = "_".join(str(part) for part in problem["loc"]).upper()
        if problem["type"] == "missing":
            if missing:
                hint = WHERE_TO_GET.get(name)
                lines.append(f"  {name}: missing" + (f" ({hint})" if hint else ""))
        else:
            reason = problem["msg"].removeprefix("Value error, ")
            lines.append(f"  {name + ': ' if name else ''}{reason}")
    return "\n".join(lines)


def load(kind: type[SettingsT] = Settings, **overrides: object) -> SettingsT:
    """Load and validate settings, raising SettingsError with every problem at once."""
    try:
        return kind(**overrides)
    except ValidationError as error:
        raise SettingsError(
            f"configuration is incomplete ({error.error_count()} problem(s)):\n{describe_errors(error)}"
        ) from None

"""The console's settings: the database's (shared with the agent) plus how staff sign in.

Values come from the environment (and `.env` in development), like the agent's; see docs/console.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from agent.settings import DatabaseSettings, Environment
from console.identity import AlbTrust


class ConsoleSettings(DatabaseSettings):
    console_auth: Literal["dev", "alb"] = Field(
        "dev", description="dev: local sign-in on loopback only; alb: the load balancer's signed Cognito identity."
    )
    console_alb_arn: str | None = Field(None, description="ARN of the load balancer whose signature is trusted.")
    console_cognito_issuer: str | None = Field(
        None, description="Cognito user pool issuer, https://cognito-idp.<region>.amazonaws.com/<pool id>."
    )
    console_cognito_client_id: str | None = Field(None, description="Cognito app client the load balancer uses.")
    console_session_idle_minutes: int = Field(
        30, ge=1, le=720, description="A signed-in session with no activity for this long must sign in again."
    )
    console_database_role: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="Role the console's connections take at start (dev: the migrations' hospital_console); "
        "leave empty when the login role is the console's own.",
    )
    console_port: int = Field(8501, ge=1024, le=65535, description="Port `python -m console` listens on.")
    livekit_url: str | None = Field(
        None, pattern=r"^\S+$", description="LiveKit server the Talk page's browser joins (wss:// outside dev)."
    )
    livekit_api_key: SecretStr | None = Field(None, description="LiveKit API key the Talk page signs tokens with.")
    livekit_api_secret: SecretStr | None = Field(None, description="LiveKit API secret; never sent to a browser.")
    agent_name: str = Field(
        "hospital-receptionist",
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="The agent the Talk page's rooms dispatch (the name the worker registers).",
    )
    console_talk_ttl_minutes: int = Field(
        10, ge=1, le=60, description="Lifetime of a Talk page join token: a call must start within it."
    )

    @field_validator("console_auth")
    @classmethod
    def _signed_identity_outside_dev(cls, value: str, info: ValidationInfo) -> str:
        environment = info.data.get("app_env")
        if value != "alb" and environment not in (None, Environment.DEV):
            raise ValueError(f"must be alb when APP_ENV={environment} (the local sign-in is for dev only)")
        return value

    @field_validator("livekit_url")
    @classmethod
    def _wss_outside_dev(cls, value: str | None, info: ValidationInfo) -> str | None:
        environment = info.data.get("app_env")
        if value is not None and not value.startswith(("wss://", "ws://")):
            raise ValueError("must start with wss://")
        if value is not None and environment not in (None, Environment.DEV) and not value.startswith("wss://"):
            raise ValueError(f"must use wss:// when APP_ENV={environment}")
        return value

    @property
    def alb_trust(self) -> AlbTrust:
        """What a signed identity must match (console_auth=alb)."""
        missing = [
            name
            for name, value in (
                ("CONSOLE_ALB_ARN", self.console_alb_arn),
                ("CONSOLE_COGNITO_ISSUER", self.console_cognito_issuer),
                ("CONSOLE_COGNITO_CLIENT_ID", self.console_cognito_client_id),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"CONSOLE_AUTH=alb needs {', '.join(missing)}")
        return AlbTrust(
            alb_arn=str(self.console_alb_arn),
            issuer=str(self.console_cognito_issuer),
            client_id=str(self.console_cognito_client_id),
        )

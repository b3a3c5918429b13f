"""What the delivery tests share: the repository root, the venv's tools, and the deployment's variables."""

from __future__ import annotations

import sys
import typing
from pathlib import Path

from pydantic import SecretStr

from agent.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script installed beside the running interpreter (hadolint, check-jsonschema...)."""
    path = VENV_BIN / name
    assert path.exists(), f"{name} is not installed in {VENV_BIN}; run `make test` to install requirements-dev.txt"
    return str(path)


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def env_name(field: str) -> str:
    return field.upper()


def secret_variables() -> set[str]:
    """Every setting typed as a secret: it may be named in a file, never given a value there."""
    return {env_name(name) for name, field in Settings.model_fields.items() if _is_secret(field.annotation)}


def deployment_variables() -> set[str]:
    """What a deployed worker must be given: every setting without a default, every secret, the CA file the
    settings demand outside dev, and the metrics region without which no heartbeat reaches the alarms."""
    required = {env_name(name) for name, field in Settings.model_fields.items() if field.is_required()}
    return required | secret_variables() | {"DATABASE_CA_FILE", "METRICS_AWS_REGION"}

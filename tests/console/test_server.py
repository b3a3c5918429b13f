"""`python -m console`: its security settings, its refusal of bad settings, and a real start on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from console.__main__ import streamlit_flags
from console.settings import ConsoleSettings
from tests.console.server import ROOT, running_console
from tests.console.tokens import ALB_ARN, CLIENT_ID, ISSUER


def _settings(**values: object) -> ConsoleSettings:
    return ConsoleSettings(database_url="postgresql://u@localhost/db", _env_file=None, **values)


def _flags(settings: ConsoleSettings) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for flag in streamlit_flags(settings):
        name, value = flag.removeprefix("--").split("=", 1)
        out.setdefault(name, []).append(value)
    return out


@pytest.mark.parametrize("auth", ["dev", "alb"])
def test_security_settings_hold_in_every_mode(auth: str) -> None:
    extra = {"console_alb_arn": ALB_ARN, "console_cognito_issuer": ISSUER, "console_cognito_client_id": CLIENT_ID}
    flags = _flags(_settings(console_auth=auth, **(extra if auth == "alb" else {})))
    assert flags["server.enableXsrfProtection"] == ["true"]
    assert flags["browser.gatherUsageStats"] == ["false"]
    assert flags["client.showErrorDetails"] == ["none"]
    assert flags["server.enableAgentApi"] == ["false"]
    assert flags["server.headless"] == ["true"]


def test_dev_listens_and_answers_on_loopback_only() -> None:
    flags = _flags(_settings(console_auth="dev"))
    assert flags["server.address"] == ["127.0.0.1"]
    assert flags["server.allowedHosts"] == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_ENV": "staging", "CONSOLE_AUTH": "dev"}, "CONSOLE_AUTH: must be alb when APP_ENV=staging"),
        ({"CONSOLE_AUTH": "alb"}, "CONSOLE_AUTH=alb needs CONSOLE_ALB_ARN, CONSOLE_COGNITO_ISSUER"),
        (
            {
                "CONSOLE_AUTH": "alb",
                "CONSOLE_ALB_ARN": "arn:aws:s3:::x",
                "CONSOLE_COGNITO_ISSUER": ISSUER,
                "CONSOLE_COGNITO_CLIENT_ID": CLIENT_ID,
            },
            "not an Application Load Balancer ARN",
        ),
    ],
)
def test_bad_settings_stop_the_console_saying_why(env: dict[str, str], message: str, tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    environment = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": "postgresql://u@localhost/db",
        "DATABASE_CA_FILE": str(ca),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "console"],
        check=False,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_the_console_starts_on_loopback_and_serves_its_health_check(hospital_database: str) -> None:
    with running_console(hospital_database) as url:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:  # noqa: S310
            assert response.status == 200
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            assert b"<html" in response.read().lower()

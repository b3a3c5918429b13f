"""Fly.io, Render, Railway and LiveKit Cloud files held against the settings, restart policy and health check.

The variable list comes from agent.settings.Settings, so a new required setting or secret fails here until
every platform file names it.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml

from tests.delivery.support import ROOT, deployment_variables, secret_variables

HEALTH_PORT = 8081
ENVIRONMENTS = {"staging", "prod"}


def fly() -> dict:
    return tomllib.loads((ROOT / "fly.toml").read_text())


def fly_secret_names() -> list[str]:
    """Fly has no declarative secret list; fly.toml names them in a marked comment block."""
    block = re.search(r"#\s*secrets-begin\n(.*?)#\s*secrets-end", (ROOT / "fly.toml").read_text(), re.S)
    assert block, "fly.toml lacks its secrets-begin/secrets-end comment block"
    return [line.lstrip("#").strip() for line in block[1].splitlines() if line.lstrip("#").strip()]


def render_services() -> list[dict]:
    return yaml.safe_load((ROOT / "render.yaml").read_text())["services"]


def railway() -> dict:
    return json.loads((ROOT / "railway.json").read_text())


def test_the_settings_demand_what_the_platform_files_must_name() -> None:
    # Guards the derivation: the list is not empty and tracks the settings' required fields and secrets.
    names = deployment_variables()
    assert {"DATABASE_URL", "LIVEKIT_URL", "OPENAI_API_KEY", "DATABASE_CA_FILE"} <= names
    assert secret_variables() <= names
    assert "LOG_LEVEL" not in names


# Fly.io


def test_fly_names_every_variable_and_gives_none_a_value() -> None:
    config = fly()
    names = fly_secret_names()
    assert len(names) == len(set(names)), "a secret is listed twice"
    assert set(names) == deployment_variables()
    assert not (set(config.get("env", {})) & deployment_variables()), "a secret has a value in [env]"


def test_fly_runs_one_always_restarted_worker_near_livekit() -> None:
    config = fly()
    assert config["primary_region"] == "iad"
    assert config["build"]["dockerfile"] == "Dockerfile"
    assert [rule["policy"] for rule in config["restart"]] == ["always"]
    assert config["env"]["APP_ENV"] in ENVIRONMENTS
    assert "http_service" not in config, "the worker serves no public traffic"
    assert "services" not in config, "the worker serves no public traffic"


def test_fly_checks_the_worker_health_endpoint() -> None:
    checks = list(fly()["checks"].values())
    assert any(check["type"] == "http" and check["port"] == HEALTH_PORT and check["path"] == "/" for check in checks)


# Render


def test_render_has_one_service_per_environment_with_app_env() -> None:
    environments = {
        next(var["value"] for var in service["envVars"] if var["key"] == "APP_ENV") for service in render_services()
    }
    assert environments == ENVIRONMENTS


@pytest.mark.parametrize("index", [0, 1])
def test_render_service_names_every_variable_as_a_prompted_secret(index: int) -> None:
    service = render_services()[index]
    variables = {var["key"]: var for var in service["envVars"]}
    assert deployment_variables() <= set(variables)
    for name in deployment_variables():
        assert variables[name].get("sync") is False, f"{name} must be `sync: false` (asked for, never stored)"
        assert "value" not in variables[name], f"{name} has a value in render.yaml"


@pytest.mark.parametrize("index", [0, 1])
def test_render_service_is_health_checked_docker_near_livekit(index: int) -> None:
    service = render_services()[index]
    assert service["runtime"] == "docker"
    assert service["region"] == "virginia"
    assert service["healthCheckPath"] == "/"
    port = next(var["value"] for var in service["envVars"] if var["key"] == "PORT")
    assert int(port) == HEALTH_PORT, "Render health-checks PORT: it must be the worker's health port"


def test_render_deploys_production_only_by_hand() -> None:
    by_env = {
        next(var["value"] for var in service["envVars"] if var["key"] == "APP_ENV"): service
        for service in render_services()
    }
    assert by_env["prod"]["autoDeploy"] is False


# Railway


def test_railway_restarts_always_and_health_checks_near_livekit() -> None:
    config = railway()
    assert config["build"]["builder"] == "DOCKERFILE"
    deploy = config["deploy"]
    assert deploy["restartPolicyType"] == "ALWAYS"
    assert deploy["healthcheckPath"] == "/"
    assert deploy["sleepApplication"] is False
    assert set(deploy["multiRegionConfig"]) == {"us-east4-eqdc4a"}
    for environment in config["environments"].values():
        assert set(environment["deploy"].get("multiRegionConfig", {"us-east4-eqdc4a": {}})) == {"us-east4-eqdc4a"}


def test_railway_gives_no_variable_a_value() -> None:
    # Railway's config file cannot hold variables; docs/deployment.md sets them with `railway variables`.
    text = (ROOT / "railway.json").read_text()
    for name in deployment_variables():
        assert name not in text
    section = (ROOT / "docs" / "deployment.md").read_text().split("## Railway", 1)
    assert len(section) == 2, "docs/deployment.md has no Railway section"
    for name in deployment_variables() | {"PORT", "APP_ENV"}:
        assert f"{name}=" in section[1], f"the Railway section does not set {name}"


# LiveKit Cloud


def test_livekit_toml_has_the_shape_lk_agent_create_writes() -> None:
    config = tomllib.loads((ROOT / "livekit.toml").read_text())
    assert set(config) == {"project", "agent"}
    assert set(config["project"]) == {"subdomain"}
    assert set(config["agent"]) == {"id"}

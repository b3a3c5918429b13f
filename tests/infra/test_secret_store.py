"""Provider API keys never reach Pulumi: no config key, no resource input, no state. The program creates their
Secrets Manager containers; the operator puts the values; the deploy step reads them at deploy time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from infra.config import SettingsError
from infra.secret_store import AGENT_SECRETS, FORBIDDEN_CONFIG_KEYS, OPERATOR_SECRETS, Source, secret_name
from tests.infra.harness import (
    FAKE_PROVIDER_KEYS,
    OPERATOR_VERSION_ID,
    ROOT,
    Run,
    program_raises,
    run_program,
    stack_values,
)

STACKS = ("dev", "staging", "prod")
REGION = "us-east-1"
CONTAINER = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PROVIDER_ENV = {s.env_name: FAKE_PROVIDER_KEYS[s.config_key] for s in OPERATOR_SECRETS}


def test_every_operator_secret_has_a_made_up_value_here() -> None:
    assert set(FAKE_PROVIDER_KEYS) == FORBIDDEN_CONFIG_KEYS
    assert {"OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY", "LIVEKIT_API_SECRET"} <= set(PROVIDER_ENV)


@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_file_holds_or_asks_for_a_provider_key(stack: str) -> None:
    assert not set(stack_values(stack)) & FORBIDDEN_CONFIG_KEYS
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert "config set --secret" not in text, "no stack takes a secret through Pulumi config"
    told = set(re.findall(r"--secret-id hospital-receptionist-\w+/(\w+)", text))
    assert told == set(PROVIDER_ENV), "the stack file tells how to put each provider key into Secrets Manager"


def test_a_provider_key_as_pulumi_config_is_refused_before_any_resource() -> None:
    run = Run()
    with program_raises(SettingsError) as caught:
        run_program("staging", secrets={"openaiApiKey": FAKE_PROVIDER_KEYS["openaiApiKey"]}, run=run)
    assert "hospital-receptionist:openaiApiKey: provider keys never go into Pulumi config" in str(caught.value)
    assert "Secrets Manager" in str(caught.value)
    assert FAKE_PROVIDER_KEYS["openaiApiKey"] not in str(caught.value)
    assert run.resources == []


def _everything_recorded(run: Run) -> str:
    return json.dumps([[r.name, r.inputs] for r in run.resources] + [run.exports], default=str)


@pytest.mark.parametrize("stack", STACKS)
def test_provider_keys_in_the_environment_never_reach_a_resource(stack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator's shell or CI job may hold the keys as variables: nothing the program declares carries them."""
    for name, value in PROVIDER_ENV.items():
        monkeypatch.setenv(name, value)
    overrides = {"privateLinkHost": "hospital-db-0123.link"} if stack != "dev" else {}
    recorded = _everything_recorded(run_program(stack, overrides))
    for name, value in PROVIDER_ENV.items():
        assert value not in recorded, f"{name}'s value is in a resource input or output"


def test_operator_secrets_are_empty_containers(linked_runs: dict[str, Run]) -> None:
    for stack, run in linked_runs.items():
        name = f"hospital-receptionist-{stack}"
        containers = {r.inputs["name"]: r for r in run.of_type(CONTAINER)}
        for secret in OPERATOR_SECRETS:
            container = containers[secret_name(name, secret.env_name)]
            assert container.inputs["kmsKeyId"], "encrypted with our KMS key"
            assert container.inputs["recoveryWindowInDays"] == (30 if stack == "prod" else 7)
        valued = {r.name.removeprefix(f"{name}-").removesuffix("-value") for r in run.of_type(VERSION)}
        assert not valued & {s.slug for s in OPERATOR_SECRETS}, "the program never writes a provider key's value"
        generated = {s.slug for s in AGENT_SECRETS if s.source in (Source.METRICS_USER, Source.LOG_DRAIN_USER)}
        console = set() if stack == "dev" else {"console-db-user", "console-cookie-secret"}
        assert valued == generated | {"app-db-user"} | console


def test_a_new_operator_value_redeploys_the_agent(linked_runs: dict[str, Run]) -> None:
    for run in linked_runs.values():
        agent = next(r for r in run.of_type("command:local:Command") if r.name.endswith("-agent"))
        triggers = agent.inputs["triggers"]
        assert triggers.count(OPERATOR_VERSION_ID) == len(OPERATOR_SECRETS)
        arns = json.loads(agent.inputs["environment"]["SECRET_ARNS"])
        assert set(PROVIDER_ENV) <= set(arns), "the deploy step knows where to read each provider key"


# The deploy-time read, against moto's Secrets Manager on loopback.


def _deploy_read(env: dict[str, str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    secrets_file = tmp_path / "agent.env"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "infra.scripts.agent_secrets", "--region", REGION),
            *("--secrets-file", str(secrets_file), "--cli-env", str(tmp_path / "cli.env")),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, secrets_file


def test_the_deploy_step_reads_what_the_operator_put(moto_url: str, tmp_path: Path) -> None:
    stack = "hospital-receptionist-staging"
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": moto_url}
    client = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=moto_url,
        **{"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
    )
    arns = {}
    # The IAM keys `pulumi up` stores itself (made up).
    generated = {
        s.env_name: f"made-up-{s.slug}"
        for s in AGENT_SECRETS
        if s.source in (Source.METRICS_USER, Source.LOG_DRAIN_USER)
    }
    for secret in AGENT_SECRETS:
        if secret.source is Source.DEPLOY:
            continue
        # What `pulumi up` creates: operator containers without a value, generated keys with theirs.
        value = {"SecretString": generated[secret.env_name]} if secret.env_name in generated else {}
        arns[secret.env_name] = client.create_secret(Name=secret_name(stack, secret.env_name), **value)["ARN"]
    app = client.create_secret(
        Name=f"{stack}-app-db-user", SecretString=json.dumps({"username": "hospital_app", "password": "pw0123"})
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **aws,
        "SECRET_ARNS": json.dumps(arns),
        "APP_DB_SECRET_ARN": app["ARN"],
        "DATABASE_HOST": "hospital-db-0123.link",
        "DATABASE_PORT": "5432",
        "DB_NAME": "hospital",
        "AGENT_SETTINGS": json.dumps({"APP_ENV": "staging", "SESSION_RECORDING": "off"}),
    }
    # The operator has put every value but OpenAI's: the deploy stops and says what to run.
    for name, value in PROVIDER_ENV.items():
        if name != "OPENAI_API_KEY":
            client.put_secret_value(SecretId=arns[name], SecretString=value)
    result, secrets_file = _deploy_read(env, tmp_path)
    assert result.returncode == 1
    assert f"error: {arns['OPENAI_API_KEY']} has no value" in result.stderr
    assert "aws secretsmanager put-secret-value --secret-id" in result.stderr
    assert "Traceback" not in result.stderr
    assert not secrets_file.exists()

    client.put_secret_value(SecretId=arns["OPENAI_API_KEY"], SecretString=PROVIDER_ENV["OPENAI_API_KEY"])
    result, secrets_file = _deploy_read(env, tmp_path)
    assert result.returncode == 0, result.stderr
    written = dict(line.split("=", 1) for line in secrets_file.read_text().splitlines())
    for name in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"):
        assert written[name] == PROVIDER_ENV[name]
    assert "LIVEKIT_API_SECRET" not in written, "LiveKit Cloud injects its own credentials"
    # LiveKit's CloudWatch log drain: the writer's key and the stack's region (its default is us-west-2).
    assert written["AWS_ACCESS_KEY_ID"] == "made-up-aws-access-key-id"
    assert written["AWS_REGION"] == REGION
    assert written["SESSION_RECORDING"] == "off"
    for value in [*PROVIDER_ENV.values(), *generated.values(), "pw0123"]:
        assert value not in result.stdout + result.stderr

"""The deploy scripts and the target-sync Lambda: secrets stay out of argv, output and leftover files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra.lambdas import sync_targets
from infra.scripts import agent_secrets
from infra.scripts.database_url import build_url
from tests.infra.harness import ROOT

MASTER = json.dumps({"username": "hospital_admin", "password": "p@ss:w/rd?#1"})
ARNS = {
    "LIVEKIT_API_KEY": "arn:lk-key",
    "LIVEKIT_API_SECRET": "arn:lk-secret",
    "DEEPGRAM_API_KEY": "arn:dg",
    "OPENAI_API_KEY": "arn:oa",
    "CARTESIA_API_KEY": "arn:ca",
    "METRICS_AWS_ACCESS_KEY_ID": "arn:mk",
    "METRICS_AWS_SECRET_ACCESS_KEY": "arn:ms",
}
VALUES = {arn: f"value-of-{arn.removeprefix('arn:')}" for arn in ARNS.values()} | {"arn:db": MASTER}
ENV = {
    "SECRET_ARNS": json.dumps(ARNS),
    "APP_DB_SECRET_ARN": "arn:db",
    "DATABASE_HOST": "hospital-db-0123.link",
    "DATABASE_PORT": "5432",
    "DB_NAME": "hospital",
    "AGENT_SETTINGS": json.dumps({"APP_ENV": "staging", "DATABASE_TLS_SERVER_NAME": "p.proxy-x.rds.amazonaws.com"}),
}


def test_database_url_quotes_credentials() -> None:
    url = build_url(MASTER, "127.0.0.1", 15432, "hospital")
    assert url == "postgresql://hospital_admin:p%40ss%3Aw%2Frd%3F%231@127.0.0.1:15432/hospital"
    with pytest.raises(ValueError, match="not JSON with username and password"):
        build_url('{"username": "x"}', "h", 1, "d")


def test_agent_environment_builds_the_secrets_file_contents() -> None:
    agent, cli = agent_secrets.agent_environment(ENV, VALUES.__getitem__, region="us-east-1")
    assert cli == {"LIVEKIT_API_KEY": "value-of-lk-key", "LIVEKIT_API_SECRET": "value-of-lk-secret"}
    assert "LIVEKIT_API_KEY" not in agent, "LiveKit Cloud injects its own credentials"
    assert agent["DEEPGRAM_API_KEY"] == "value-of-dg"
    assert agent["METRICS_AWS_SECRET_ACCESS_KEY"] == "value-of-ms"
    assert agent["DATABASE_URL"].endswith("@hospital-db-0123.link:5432/hospital")
    assert agent["DATABASE_TLS_SERVER_NAME"] == "p.proxy-x.rds.amazonaws.com"
    assert agent["APP_ENV"] == "staging"


def test_agent_environment_refuses_gaps_and_line_breaks() -> None:
    partial = {**ENV, "SECRET_ARNS": json.dumps({k: v for k, v in ARNS.items() if k != "OPENAI_API_KEY"})}
    with pytest.raises(ValueError, match="no Secrets Manager ARN for OPENAI_API_KEY"):
        agent_secrets.agent_environment(partial, VALUES.__getitem__, region="us-east-1")
    broken = {**VALUES, "arn:dg": "line\nbreak"}
    with pytest.raises(ValueError, match="DEEPGRAM_API_KEY contains a line break"):
        agent_secrets.agent_environment(ENV, broken.__getitem__, region="us-east-1")


@mock_aws
def test_agent_secrets_main_writes_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arns = {}
    for name, arn in {**ARNS, "DB": "arn:db"}.items():
        created = client.create_secret(Name=name, SecretString=VALUES[arn])
        arns[name] = created["ARN"]
    for key, value in {
        **ENV,
        "SECRET_ARNS": json.dumps({k: arns[k] for k in ARNS}),
        "APP_DB_SECRET_ARN": arns["DB"],
    }.items():
        monkeypatch.setenv(key, value)
    secrets_file, cli_env = tmp_path / "agent.env", tmp_path / "cli.env"
    code = agent_secrets.main(["--region", "us-east-1", "--secrets-file", str(secrets_file), "--cli-env", str(cli_env)])
    assert code == 0
    for path in (secrets_file, cli_env):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "DEEPGRAM_API_KEY=value-of-dg\n" in secrets_file.read_text()
    assert "LIVEKIT_API_SECRET=value-of-lk-secret\n" in cli_env.read_text()
    output = capsys.readouterr()
    assert "value-of" not in output.out + output.err
    assert "p@ss" not in output.out + output.err


def test_deploy_script_passes_secrets_by_file_and_removes_it(tmp_path: Path) -> None:
    """deploy_agent.sh with a stand-in `lk` and a stand-in secrets writer."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "lk-call.txt"
    (bin_dir / "lk").write_text(
        f'#!/usr/bin/env bash\n{{ echo "argv: $*"; echo "key-env: $LIVEKIT_API_KEY"; '
        f'f="${{@: -1}}"; echo "file: $f"; cat "$f"; }} > {record}\n'
    )
    writer = tmp_path / "fake-python"
    writer.write_text(
        "#!/usr/bin/env bash\n"
        'while [[ $# -gt 0 ]]; do case "$1" in\n'
        '  --secrets-file) s="$2"; shift;; --cli-env) c="$2"; shift;; esac; shift; done\n'
        'echo "OPENAI_API_KEY=sk-made-up" > "$s"; echo "LIVEKIT_API_KEY=APImadeup" > "$c"\n'
    )
    for path in (bin_dir / "lk", writer):
        path.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHON": str(writer),
        "AWS_REGION": "us-east-1",
        "LIVEKIT_URL": "wss://x.livekit.cloud",
        **ENV,
    }
    result = subprocess.run(
        ["bash", "infra/scripts/deploy_agent.sh"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    call = record.read_text()
    argv = call.splitlines()[0]
    assert argv.startswith("argv: agent deploy --secrets-file ")
    assert "sk-made-up" not in argv
    assert "APImadeup" not in argv
    assert "key-env: APImadeup" in call, "the CLI authenticates through its environment"
    assert "OPENAI_API_KEY=sk-made-up" in call
    used_file = Path(call.splitlines()[2].removeprefix("file: "))
    assert not used_file.exists(), "the secrets file is removed afterwards"
    assert "sk-made-up" not in result.stdout + result.stderr


def test_scripts_are_valid_bash() -> None:
    for script in ("migrate.sh", "deploy_agent.sh", "push_console_image.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "infra" / "scripts" / script)], check=True)


def test_target_sync_plan() -> None:
    assert sync_targets.plan({"10.0.0.1", "10.0.1.1"}, {"10.0.0.1", "10.0.2.9"}) == ({"10.0.1.1"}, {"10.0.2.9"})
    assert sync_targets.plan({"10.0.0.1"}, {"10.0.0.1"}) == (set(), set())


@mock_aws
def test_target_sync_against_stand_in_elb() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    elb = boto3.client("elbv2", region_name="us-east-1")
    group = elb.create_target_group(Name="proxy", Protocol="TCP", Port=5432, VpcId=vpc, TargetType="ip")
    arn = group["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.9.9", "Port": 5432}])
    changed = sync_targets.sync(
        elb, "p.proxy-x.rds.amazonaws.com", arn, 5432, resolve=lambda host: {"10.0.0.5", "10.0.1.5"}
    )
    assert changed == {"registered": ["10.0.0.5", "10.0.1.5"], "deregistered": ["10.0.9.9"]}
    health = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert {h["Target"]["Id"] for h in health} == {"10.0.0.5", "10.0.1.5"}
    with pytest.raises(sync_targets.TargetSyncError, match="resolved to no address"):
        sync_targets.sync(elb, "p", arn, 5432, resolve=lambda host: set())


REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
FAKE_REGISTRY_PASSWORD = "made-up-ecr-password-0001"  # pragma: allowlist secret


def _push_console_image(tmp_path: Path, *, in_ecr: bool, built: bool) -> tuple[subprocess.CompletedProcess, str]:
    """Run push_console_image.sh with stand-ins for `aws` and `docker` that record their calls (and stdin)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir(parents=True)
    (bin_dir / "aws").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "aws $*" >> {calls}\n'
        f'if [[ "$2" == describe-images ]]; then exit {0 if in_ecr else 254}; fi\n'
        f'if [[ "$2" == get-login-password ]]; then echo {FAKE_REGISTRY_PASSWORD}; fi\n'
    )
    (bin_dir / "docker").write_text(
        "#!/usr/bin/env bash\n"
        f'echo "docker $*" >> {calls}\n'
        f'if [[ "$1" == login ]]; then echo "stdin: $(cat)" >> {calls}; fi\n'
        f'if [[ "$1 $2" == "image inspect" ]]; then exit {0 if built else 1}; fi\n'
    )
    for tool_path in bin_dir.iterdir():
        tool_path.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AWS_REGION": "us-east-1",
        "REPOSITORY_URL": f"{REGISTRY}/hospital-receptionist-staging/console",
        "LOCAL_IMAGE": "hospital-receptionist-console:abc123",
        "IMAGE_TAG": "abc123",
    }
    result = subprocess.run(
        ["bash", "infra/scripts/push_console_image.sh"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    return result, calls.read_text() if calls.exists() else ""


def test_push_console_image_pushes_the_built_image_with_the_password_on_stdin(tmp_path: Path) -> None:
    result, calls = _push_console_image(tmp_path, in_ecr=False, built=True)
    assert result.returncode == 0, result.stderr
    assert "aws ecr describe-images --region us-east-1 --repository-name hospital-receptionist-staging/console" in calls
    assert f"docker login --username AWS --password-stdin {REGISTRY}" in calls
    assert f"stdin: {FAKE_REGISTRY_PASSWORD}" in calls
    assert f"{REGISTRY}/hospital-receptionist-staging/console:abc123" in calls.split("docker push ")[1]
    assert "docker build" not in calls
    # The password reaches docker on stdin only: never on a command line, never in the output.
    assert not [line for line in calls.splitlines() if FAKE_REGISTRY_PASSWORD in line and not line.startswith("stdin")]
    assert FAKE_REGISTRY_PASSWORD not in result.stdout + result.stderr


def test_push_console_image_builds_when_the_image_is_missing_and_skips_a_tag_already_pushed(tmp_path: Path) -> None:
    result, calls = _push_console_image(tmp_path / "missing", in_ecr=False, built=False)
    assert result.returncode == 0, result.stderr
    assert "docker build --file console/Dockerfile --tag hospital-receptionist-console:abc123 ." in calls
    result, calls = _push_console_image(tmp_path / "pushed", in_ecr=True, built=True)
    assert result.returncode == 0, result.stderr
    assert "docker push" not in calls
    assert "already in ECR" in result.stderr

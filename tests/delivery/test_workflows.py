"""GitHub Actions: valid against GitHub's workflow schema, and the pipeline's shape is the one promised:
lint and tests everywhere, previews with the policy pack on pull requests, staging on main with migrations
before the agent, health checks after it, rollback on failure, production behind its environment."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.delivery.support import ROOT, tool

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as True (YAML 1.1); map it back.
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_of(job: dict) -> list[dict]:
    return job["steps"]


def position(steps: list[dict], predicate) -> int:
    for index, step in enumerate(steps):
        if predicate(step):
            return index
    raise AssertionError("no such step")


def by_id(step_id: str):
    return lambda step: step.get("id") == step_id


def runs(fragment: str):
    return lambda step: fragment in step.get("run", "")


def test_every_workflow_is_valid_against_githubs_schema() -> None:
    assert len(WORKFLOWS) >= 3
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_lint_and_tests_run_on_every_pull_request_and_push() -> None:
    ci = load("ci.yml")
    assert {"pull_request", "push"} <= set(ci["on"])
    steps = steps_of(ci["jobs"]["test"])
    # .ci/run installs the OS packages the tests need and runs `make lint` and `make test`.
    assert any(step.get("run", "").strip() == "bash .ci/run" for step in steps)
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "make lint" in ci_run
    assert "make test" in ci_run


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_pull_requests_preview_each_stack_with_the_policy_pack(stack: str) -> None:
    preview = load("preview.yml")
    assert set(preview["on"]) == {"pull_request"}
    job = preview["jobs"]["preview"]
    assert stack in job["strategy"]["matrix"]["stack"]
    pulumi = next(step for step in steps_of(job) if step.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "infra/policy"
    assert (ROOT / "infra" / "policy").is_dir()
    assert preview["permissions"]["pull-requests"] == "write"


def test_main_deploys_staging_then_production_behind_its_environment() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    staging, production = deploy["jobs"]["staging"], deploy["jobs"]["production"]
    assert staging["with"] == {"stack": "staging", "environment": "staging"}
    assert production["with"] == {"stack": "prod", "environment": "production"}
    assert production["needs"] == "staging"
    for job in (staging, production):
        assert job["uses"] == "./.github/workflows/deploy-stack.yml"
    # The called job runs inside the named environment: its required reviewers gate production.
    called = load("deploy-stack.yml")["jobs"]["deploy"]
    assert called["environment"] == "${{ inputs.environment }}"


def test_one_deploy_per_environment_at_a_time() -> None:
    called = load("deploy-stack.yml")["jobs"]["deploy"]
    assert "${{ inputs.stack }}" in called["concurrency"]["group"]
    assert called["concurrency"]["cancel-in-progress"] is False


def test_deploy_order_migrate_and_deploy_then_health_checks_then_rollback() -> None:
    steps = steps_of(load("deploy-stack.yml")["jobs"]["deploy"])
    before = position(steps, by_id("before"))
    up = position(steps, by_id("up"))
    running = position(steps, by_id("running"))
    smoke = position(steps, by_id("smoke"))
    rollback = position(steps, by_id("rollback"))
    assert position(steps, runs("livekit_agent.py write-config")) < before < up < running < smoke < rollback
    assert steps[up]["uses"].startswith("pulumi/actions@")
    assert steps[up]["with"]["command"] == "up"
    assert steps[up]["with"]["stack-name"] == "${{ inputs.stack }}"
    assert "wait-running" in steps[running]["run"]
    assert "smoke.py" in steps[smoke]["run"]
    assert steps[rollback]["if"].startswith("failure()")
    assert "rollback --to" in steps[rollback]["run"]
    said_why = steps[rollback + 1]
    assert said_why["if"] == "failure()"
    assert "::error" in said_why["run"]
    assert said_why["run"].rstrip().endswith("exit 1")


def test_migrations_run_inside_pulumi_up_before_the_agent_deploy() -> None:
    # The pipeline delegates the order to the Pulumi program: its agent deploy command depends on the
    # migrations command, which applies and verifies them (infra's own tests check this under mocks).
    deploy_component = (ROOT / "infra" / "deploy.py").read_text()
    assert re.search(r"depends_on=\[self\.migrations\]", deploy_component)
    migrate = (ROOT / "infra" / "scripts" / "migrate.sh").read_text()
    assert migrate.index("-m agent.db apply") < migrate.index("-m agent.db verify")
    assert "lk agent deploy" in (ROOT / "infra" / "scripts" / "deploy_agent.sh").read_text()


def all_jobs() -> list[tuple[str, dict]]:
    jobs = []
    for path in WORKFLOWS:
        jobs += [(f"{path.name}:{name}", job) for name, job in load(path.name)["jobs"].items()]
    return jobs


def test_aws_only_through_oidc() -> None:
    found = 0
    for name, job in all_jobs():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                found += 1
                assert "role-to-assume" in step["with"], name
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"]), name
    assert found >= 2
    for workflow in ("preview.yml", "deploy-stack.yml", "deploy.yml"):
        assert load(workflow)["permissions"]["id-token"] == "write"


def test_every_action_is_pinned_to_a_version() -> None:
    for name, job in all_jobs():
        for step in job.get("steps", []):
            if "uses" in step:
                assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]), f"{name}: {step['uses']}"


SECRET_SHAPED = re.compile(r"(SECRET|API_KEY|TOKEN|PASSWORD)", re.I)


def test_no_secret_is_echoed_or_put_on_a_command_line() -> None:
    for path in WORKFLOWS:
        for name, job in load(path.name)["jobs"].items():
            for step in job.get("steps", []):
                script = step.get("run", "")
                # Secrets reach steps as environment variables only, never expanded into the script text.
                assert "secrets." not in script, f"{path.name}:{name}: a secret expanded in a run script"
                for line in script.splitlines():
                    if re.search(r"\b(echo|printf|print|cat)\b", line):
                        assert not SECRET_SHAPED.search(line), f"{path.name}:{name}: {line.strip()}"


def test_no_long_lived_cloud_keys_anywhere() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "AWS_ACCESS_KEY_ID" not in text, path.name
        assert "AWS_SECRET_ACCESS_KEY" not in text, path.name

"""GitHub Actions: valid against GitHub's schemas, clean under zizmor, and the pipeline's shape is the one promised:
lint and tests everywhere, staging previews on pull requests, staging on main with migrations before the agent,
health checks after it, rollback on failure, production (deploy and preview) only behind its protected
environment, never reachable from a pull request."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.delivery.support import ROOT, tool

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
PULL_REQUEST_TRIGGERS = {"pull_request", "pull_request_target", "workflow_run"}
DEPLOY_ACTION = "$/.github/actions/deploy-stack"
# AWS's default maximum session of a role (docs/deployment.md creates the roles without raising it).
ROLE_MAX_SESSION_SECONDS = 3600


def load(name: str) -> dict:
    # PyYAML reads the `on:` key as True (YAML 1.1); map it back.
    data = yaml.safe_load((GITHUB / "workflows" / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def action(name: str) -> dict:
    return yaml.safe_load((GITHUB / "actions" / name / "action.yml").read_text())


def triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def steps_of(job: dict) -> list[dict]:
    """A job's steps with the steps of the local actions it uses put in their place."""
    steps = []
    for step in job.get("steps", []):
        steps.append(step)
        uses = step.get("uses", "")
        if uses.startswith("$/.github/actions/"):
            steps += steps_of(action(uses.removeprefix("$/.github/actions/"))["runs"])
    return steps


def position(steps: list[dict], predicate) -> int:
    for index, step in enumerate(steps):
        if predicate(step):
            return index
    raise AssertionError("no such step")


def by_id(step_id: str):
    return lambda step: step.get("id") == step_id


def runs(fragment: str):
    return lambda step: fragment in step.get("run", "")


def all_jobs() -> list[tuple[str, dict, dict]]:
    """(name, job, workflow) for every job of every workflow."""
    jobs = []
    for path in WORKFLOWS:
        workflow = load(path.name)
        jobs += [(f"{path.name}:{name}", job, workflow) for name, job in workflow["jobs"].items()]
    return jobs


def all_steps() -> list[tuple[str, dict]]:
    steps = [(name, step) for name, job, _ in all_jobs() for step in job.get("steps", [])]
    for path in ACTIONS:
        steps += [(str(path.relative_to(ROOT)), step) for step in yaml.safe_load(path.read_text())["runs"]["steps"]]
    return steps


# Schemas and the linter


def check_jsonschema(schema: str, *paths) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_workflow_and_action_is_valid_against_githubs_schemas() -> None:
    assert len(WORKFLOWS) >= 4
    assert len(ACTIONS) >= 2
    for schema, paths in (("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions", ACTIONS)):
        result = check_jsonschema(schema, *paths)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


def zizmor(target) -> subprocess.CompletedProcess:
    # auditor: every audit, false positives included; what remains is ignored in .github/zizmor.yml with a reason.
    return subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "auditor", "--config", str(GITHUB / "zizmor.yml"), str(target)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_zizmor_finds_nothing() -> None:
    result = zizmor(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_fails_a_workflow_with_the_faults_we_removed(tmp_path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: pull_request\n"
        "permissions:\n  id-token: write\n"
        "jobs:\n"
        "  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4.2.2\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
        "  y:\n    uses: ./.github/workflows/other.yml\n    secrets: inherit\n"
    )
    result = zizmor(tmp_path)
    assert result.returncode != 0
    for audit in ("unpinned-uses", "artipacked", "template-injection", "secrets-inherit", "excessive-permissions"):
        assert f"[{audit}]" in result.stdout, audit


def test_every_zizmor_ignore_says_why() -> None:
    lines = (GITHUB / "zizmor.yml").read_text().splitlines()
    entries = [index for index, line in enumerate(lines) if re.match(r"\s+- \S", line)]
    assert entries
    for index in entries:
        assert lines[index - 1].strip().startswith("#"), f"zizmor.yml: no reason above {lines[index].strip()}"


# Actions: pinned, and nothing to steal


def test_every_action_is_pinned_to_a_commit_with_its_tag_beside_it() -> None:
    for path in [*WORKFLOWS, *ACTIONS]:
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)(.*)", line)
            if match is None or match[1].startswith("$/"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match[1]), f"{path.name}: {line.strip()}"
            assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", match[2]), f"{path.name}: no tag comment: {line.strip()}"


def test_local_actions_use_the_self_repository_form_and_exist() -> None:
    local = [step["uses"] for _, step in all_steps() if step.get("uses", "").startswith(("./", "$/"))]
    assert local
    for uses in local:
        assert uses.startswith("$/.github/actions/"), uses
        assert (ROOT / uses.removeprefix("$/") / "action.yml").is_file(), uses


def test_checkouts_do_not_persist_credentials() -> None:
    checkouts = [(name, step) for name, step in all_steps() if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) >= 4
    for name, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, name


def test_no_expression_is_expanded_inside_a_script() -> None:
    # Values reach scripts as environment variables: an expression in `run:` is pasted into the shell text.
    for name, step in all_steps():
        assert "${{" not in step.get("run", ""), f"{name}: {step.get('name', step['run'][:40])}"


def test_no_called_workflow_inherits_every_secret() -> None:
    for name, job, _ in all_jobs():
        assert job.get("secrets") != "inherit", name


def test_workflows_grant_nothing_and_jobs_only_what_they_use() -> None:
    for path in WORKFLOWS:
        assert load(path.name)["permissions"] in ({}, {"contents": "read"}), path.name
    for name, job, _ in all_jobs():
        assumes_a_role = any(
            step.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for step in steps_of(job)
        )
        assert (job.get("permissions", {}).get("id-token") == "write") == assumes_a_role, name


def test_aws_only_through_oidc() -> None:
    found = 0
    for name, step in all_steps():
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
            found += 1
            assert "role-to-assume" in step["with"], name
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(step["with"]), name
    assert found >= 3
    for path in [*WORKFLOWS, *ACTIONS]:
        assert "AWS_ACCESS_KEY_ID" not in path.read_text(), path.name
        assert "AWS_SECRET_ACCESS_KEY" not in path.read_text(), path.name


SECRET_SHAPED = re.compile(r"(SECRET|API_KEY|TOKEN|PASSWORD)", re.I)


def test_no_secret_is_echoed_or_put_on_a_command_line() -> None:
    for name, step in all_steps():
        script = step.get("run", "")
        assert "secrets." not in script, f"{name}: a secret expanded in a run script"
        for line in script.splitlines():
            if re.search(r"\b(echo|printf|print|cat)\b", line):
                assert not SECRET_SHAPED.search(line), f"{name}: {line.strip()}"


def test_the_aws_credentials_last_as_long_as_their_job() -> None:
    checked = 0
    for name, job, _ in all_jobs():
        job_seconds = job["timeout-minutes"] * 60
        for step in job.get("steps", []):
            uses, given = step.get("uses", ""), step.get("with", {})
            if uses.startswith("aws-actions/configure-aws-credentials@") or uses == DEPLOY_ACTION:
                checked += 1
                seconds = int(given["role-duration-seconds"])
                assert job_seconds <= seconds <= ROLE_MAX_SESSION_SECONDS, f"{name}: {seconds} s for {job_seconds} s"
    assert checked >= 4
    steps = action("deploy-stack")["runs"]["steps"]
    aws = next(step for step in steps if "configure-aws-credentials" in step.get("uses", ""))
    assert aws["with"]["role-duration-seconds"] == "${{ inputs.role-duration-seconds }}"


# Who can touch production


def touches_prod(job: dict) -> bool:
    text = yaml.safe_dump(job)
    return (
        job.get("environment") == "production"
        or re.search(r"\b(stack|stack-name): prod\b", text) is not None
        or "prod" in job.get("strategy", {}).get("matrix", {}).get("stack", [])
        or re.search(r"vars\.\w*PROD", text) is not None
    )


def test_no_pull_request_can_reach_production() -> None:
    for name, job, workflow in all_jobs():
        if triggers(workflow) & PULL_REQUEST_TRIGGERS:
            assert not touches_prod(job), f"{name} runs a pull request's code and can touch prod"
            assert "environment" not in job, f"{name}: a pull request's code would get that environment's secrets"


def test_every_job_that_touches_production_waits_for_its_reviewers_on_main() -> None:
    prod_jobs = [(name, job, workflow) for name, job, workflow in all_jobs() if touches_prod(job)]
    assert {name for name, _, _ in prod_jobs} == {"deploy.yml:production", "preview-prod.yml:preview"}
    for name, job, workflow in prod_jobs:
        assert triggers(workflow) <= {"push", "workflow_dispatch"}, name
        if "push" in triggers(workflow):
            assert workflow["on"]["push"]["branches"] == ["main"], name
        assert job["environment"] == "production", name
        assert job["if"] == "github.ref == 'refs/heads/main'", name


def test_the_touches_prod_check_sees_each_way_in() -> None:
    assert touches_prod({"environment": "production"})
    assert touches_prod({"steps": [{"with": {"stack-name": "prod"}}]})
    assert touches_prod({"strategy": {"matrix": {"stack": ["staging", "prod"]}}})
    assert touches_prod({"steps": [{"with": {"role-to-assume": "${{ vars.AWS_PREVIEW_ROLE_ARN_PROD }}"}}]})
    assert not touches_prod(load("preview.yml")["jobs"]["preview"])


# The pipeline's shape


def test_lint_and_tests_run_on_every_pull_request_and_push() -> None:
    ci = load("ci.yml")
    assert {"pull_request", "push"} <= triggers(ci)
    steps = steps_of(ci["jobs"]["test"])
    # .ci/run installs the OS packages the tests need and runs `make lint` and `make test`.
    assert any(step.get("run", "").strip() == "bash .ci/run" for step in steps)
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "make lint" in ci_run
    assert "make test" in ci_run


def pulumi_step(job: dict) -> dict:
    return next(step for step in steps_of(job) if step.get("uses", "").startswith("pulumi/actions@"))


@pytest.mark.parametrize(("workflow", "stack"), [("preview.yml", "staging"), ("preview-prod.yml", "prod")])
def test_previews_run_with_the_policy_pack(workflow: str, stack: str) -> None:
    pulumi = pulumi_step(load(workflow)["jobs"]["preview"])
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == stack
    assert pulumi["with"]["policyPacks"] == "infra/policy"
    assert (ROOT / "infra" / "policy").is_dir()


def test_pull_requests_get_the_staging_preview_as_a_comment() -> None:
    preview = load("preview.yml")
    assert triggers(preview) == {"pull_request"}
    job = preview["jobs"]["preview"]
    assert pulumi_step(job)["with"]["comment-on-pr"] is True
    assert job["permissions"]["pull-requests"] == "write"


def test_main_deploys_staging_then_production_behind_its_environment() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    staging, production = deploy["jobs"]["staging"], deploy["jobs"]["production"]
    assert production["needs"] == "staging"
    for job, stack, environment in ((staging, "staging", "staging"), (production, "prod", "production")):
        assert job["environment"] == environment
        [deploy_step] = [step for step in job["steps"] if step.get("uses") == DEPLOY_ACTION]
        assert deploy_step["with"]["stack"] == stack
        # Secrets come from the job's own environment, by name.
        for name in ("PULUMI_ACCESS_TOKEN", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
            assert deploy_step["with"][name.lower().replace("_", "-")] == f"${{{{ secrets.{name} }}}}"
    assert {k: v for k, v in staging.items() if k not in {"name", "needs", "environment", "concurrency", "steps"}} == {
        k: v for k, v in production.items() if k not in {"name", "needs", "environment", "concurrency", "steps"}
    }


SECRET_INPUTS = {"pulumi-access-token", "livekit-url", "livekit-api-key", "livekit-api-secret"}


def secret_inputs_used(step: dict) -> set[str]:
    return set(re.findall(r"inputs\.([\w-]+)", yaml.safe_dump(step))) & SECRET_INPUTS


def test_secrets_reach_only_the_deploy_steps_that_use_them() -> None:
    for name, job, _ in all_jobs():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), f"{name}: secrets for every step of the job"
    steps = action("deploy-stack")["runs"]["steps"]
    aws = position(steps, lambda step: "configure-aws-credentials" in step.get("uses", ""))
    for step in steps[:aws]:  # the installs run code from PyPI, GitHub and AWS downloads
        assert not secret_inputs_used(step), step.get("name", step.get("uses"))
    # The LiveKit key: the program manages the phone line's LiveKit objects with it (docs/telephony.md).
    assert secret_inputs_used(steps[position(steps, by_id("up"))]) == {
        "pulumi-access-token",
        "livekit-api-key",
        "livekit-api-secret",
    }
    for step in steps:
        if step.get("id") != "up":
            assert "pulumi-access-token" not in secret_inputs_used(step), step.get("name")


def test_one_deploy_per_environment_at_a_time() -> None:
    jobs = load("deploy.yml")["jobs"]
    assert {job["concurrency"]["group"] for job in jobs.values()} == {"deploy-staging", "deploy-prod"}
    assert all(job["concurrency"]["cancel-in-progress"] is False for job in jobs.values())


def test_deploy_order_migrate_and_deploy_then_health_checks_then_rollback() -> None:
    steps = action("deploy-stack")["runs"]["steps"]
    before = position(steps, by_id("before"))
    up = position(steps, by_id("up"))
    running = position(steps, by_id("running"))
    smoke = position(steps, by_id("smoke"))
    rollback = position(steps, by_id("rollback"))
    assert position(steps, runs("livekit_agent.py write-config")) < before < up < running < smoke < rollback
    assert steps[up]["uses"].startswith("pulumi/actions@")
    assert steps[up]["with"]["command"] == "up"
    assert steps[up]["with"]["stack-name"] == "${{ inputs.stack }}"
    assert "smoke.py" in steps[smoke]["run"]
    assert steps[rollback]["if"].startswith("failure()")
    assert "rollback --to" in steps[rollback]["run"]
    said_why = steps[rollback + 1]
    assert said_why["if"] == "failure()"
    assert "::error" in said_why["run"]
    assert said_why["run"].rstrip().endswith("exit 1")


def test_the_health_check_waits_for_the_version_this_run_deployed() -> None:
    steps = action("deploy-stack")["runs"]["steps"]
    before, running = steps[position(steps, by_id("before"))], steps[position(steps, by_id("running"))]
    known = '--known-versions "$RUNNER_TEMP/agent-versions.json"'
    assert known in before["run"]
    assert known in running["run"]
    assert "wait-running" in running["run"]
    assert '--live "$LIVE_VERSION"' in running["run"]
    assert running["env"]["LIVE_VERSION"] == "${{ steps.before.outputs.version }}"
    assert '--commit "$GITHUB_SHA"' in running["run"]


def test_the_livekit_cli_is_a_pinned_release_checked_against_its_checksum() -> None:
    steps = action("deploy-stack")["runs"]["steps"]
    install = steps[position(steps, runs("sha256sum --check"))]
    assert re.fullmatch(r"\d+\.\d+\.\d+", install["env"]["LK_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", install["env"]["LK_SHA256"])
    script = install["run"]
    assert "get.livekit.io" not in script, "an unpinned install script"
    assert script.index("sha256sum --check") < script.index("tar --extract") < script.index("install -m 0755")
    assert 'grep --fixed-strings "lk version ${LK_VERSION}"' in script
    # The operator's guide names the same version.
    assert f"`lk` {install['env']['LK_VERSION']}" in (ROOT / "docs" / "deployment.md").read_text()


def test_every_pulumi_run_uses_the_cli_release_of_the_pinned_sdk() -> None:
    sdk = re.search(r"^pulumi==([\d.]+)$", (ROOT / "infra" / "requirements.txt").read_text(), re.M)
    assert sdk
    pulumi_steps = [step for _, step in all_steps() if step.get("uses", "").startswith("pulumi/actions@")]
    assert len(pulumi_steps) == 3
    for step in pulumi_steps:
        assert step["with"]["pulumi-version"] == sdk[1], step["with"]["command"]


def test_migrations_run_inside_pulumi_up_before_the_agent_deploy() -> None:
    # The pipeline delegates the order to the Pulumi program: its agent deploy command depends on the
    # migrations command, which applies and verifies them (infra's own tests check this under mocks).
    deploy_component = (ROOT / "infra" / "deploy.py").read_text()
    assert re.search(r"depends_on=\[self\.migrations\]", deploy_component)
    migrate = (ROOT / "infra" / "scripts" / "migrate.sh").read_text()
    assert migrate.index("-m agent.db apply") < migrate.index("-m agent.db verify")
    assert "lk agent deploy" in (ROOT / "infra" / "scripts" / "deploy_agent.sh").read_text()


def test_the_deploy_builds_the_console_image_the_program_pushes_before_pulumi_up() -> None:
    steps = action("deploy-stack")["runs"]["steps"]
    build = position(steps, runs("docker build --file console/Dockerfile"))
    assert build < position(steps, by_id("up"))
    # The tag comes from the module the program names it with (infra/console.py), so the two can't disagree.
    assert '--tag "$(.venv/bin/python -m infra.console_image)"' in steps[build]["run"]
    assert not secret_inputs_used(steps[build]), "the build runs third-party code: no secret reaches it"


def test_the_log_drain_is_checked_with_the_smoke_sessions_room_and_does_not_roll_back() -> None:
    steps = action("deploy-stack")["runs"]["steps"]
    smoke, drain = steps[position(steps, by_id("smoke"))], steps[position(steps, by_id("drain"))]
    rollback = steps[position(steps, by_id("rollback"))]
    assert position(steps, by_id("smoke")) < position(steps, by_id("drain")) < position(steps, by_id("rollback"))
    assert smoke["env"]["ROOM"] == drain["env"]["ROOM"]
    assert '--room "$ROOM"' in smoke["run"]
    assert '--room "$ROOM"' in drain["run"]
    assert 'echo "since=$(date +%s)" >> "$GITHUB_OUTPUT"' in smoke["run"]
    assert drain["env"]["SINCE"] == "${{ steps.smoke.outputs.since }}"
    # pulumi/actions sets each stack output as a step output; the program exports agentLogGroup.
    assert drain["env"]["LOG_GROUP"] == "${{ steps.up.outputs.agentLogGroup }}"
    assert 'pulumi.export("agentLogGroup"' in (ROOT / "infra" / "__main__.py").read_text()
    assert "log_drain_check.py" in drain["run"]
    assert "steps.drain.outcome != 'failure'" in rollback["if"]

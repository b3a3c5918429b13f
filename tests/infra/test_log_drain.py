"""Centralized logs: LiveKit Cloud's CloudWatch log drain writes into a log group the program owns, through a
writer that may touch nothing else; error lines alarm; the runbook's searches are saved queries."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from agent.logs import configure_logging, log_event, redact
from agent.settings import load
from infra.config import parse
from infra.log_drain import ERROR_METRIC, ERROR_PATTERN, QUERIES, WRITER_ACTIONS
from tests.infra.harness import ACCOUNT_ID, OPERATOR_VALUES, REGION, ROOT, Run, stack_values

LINKED = ("staging", "prod")
GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _settings(stack: str):
    values = {**stack_values(stack), **OPERATOR_VALUES}
    return parse({k: json.dumps(v) if isinstance(v, list) else v for k, v in values.items()})


def _agent_group(run: Run, stack: str) -> dict:
    return run.named(f"{stack}-agent-logs").inputs


@pytest.mark.parametrize("stack", LINKED)
def test_the_agent_log_group_is_ours_with_the_stack_retention_and_its_own_key(
    linked_runs: dict[str, Run], stack: str
) -> None:
    run, settings = linked_runs[stack], _settings(stack)
    group = _agent_group(run, stack)
    assert group["name"] == f"/hospital-receptionist/{stack}/agent"
    assert group["retentionInDays"] == settings.log_retention_days
    key = run.named(f"{stack}-logs-key").inputs
    assert group["kmsKeyId"] == f"arn:aws:mock:{REGION}:123456789012:hospital-receptionist-{stack}-logs-key"
    assert key["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    logs = statements["CloudWatchLogsEncryptsThisGroup"]
    assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group['name']}"
    )
    assert statements["AccountAdministers"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}


def test_only_stacks_that_run_the_agent_on_livekit_have_a_drain(stack_runs: dict[str, Run]) -> None:
    assert not [r for r in stack_runs["dev"].of_type(GROUP) if r.name.endswith("-agent-logs")]
    assert "agentLogGroup" in stack_runs["staging"].exports


@pytest.mark.parametrize("stack", LINKED)
def test_the_writer_may_only_write_to_that_group(linked_runs: dict[str, Run], stack: str) -> None:
    run = linked_runs[stack]
    group_arn = f"arn:aws:mock:{REGION}:123456789012:hospital-receptionist-{stack}-agent-logs"
    (statement,) = json.loads(run.named(f"{stack}-log-writer-policy").inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == set(WRITER_ACTIONS)
    assert "logs:CreateLogGroup" not in statement["Action"]
    assert statement["Resource"] == [group_arn, f"{group_arn}:log-stream:*"]
    key = run.named(f"{stack}-log-writer-key")
    assert key.inputs["user"] == f"hospital-receptionist-{stack}-log-writer"
    exported = json.dumps(run.exports, default=str)
    assert "AKIA" not in exported


@pytest.mark.parametrize("stack", LINKED)
def test_the_drain_settings_go_with_the_agent_secrets(linked_runs: dict[str, Run], stack: str) -> None:
    run = linked_runs[stack]
    agent = next(r for r in run.of_type("command:local:Command") if r.name.endswith("-agent"))
    arns = json.loads(agent.inputs["environment"]["SECRET_ARNS"])
    # LiveKit's CloudWatch drain reads these two secrets (docs.livekit.io/deploy/agents/log-drains).
    assert arns["AWS_ACCESS_KEY_ID"].endswith(f"{stack}-aws-access-key-id")
    assert arns["AWS_SECRET_ACCESS_KEY"].endswith(f"{stack}-aws-secret-access-key")
    versions = [r.name for r in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")]
    assert f"hospital-receptionist-{stack}-aws-secret-access-key-value" in versions
    value = run.named(f"{stack}-aws-secret-access-key-value")
    assert "secretString" in value.secret_inputs


def _agent_error_line() -> dict:
    """One real error line as the agent writes it (agent/logs.py), parsed."""
    stream = io.StringIO()
    settings = load(
        app_env="dev",
        database_url="postgresql://app@db.example:5432/hospital",
        livekit_url="wss://x.livekit.cloud",
        livekit_api_key="k",
        livekit_api_secret="s",
        deepgram_api_key="d",
        openai_api_key="o",
        cartesia_api_key="c",
    )
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    redacted = list(redact.secrets)
    try:
        configure_logging(settings)
        next(h for h in root.handlers if h.get_name() == "agent-json").setStream(stream)
        log_event("tool_call", level=logging.ERROR, tool="book_appointment", outcome="error")
    finally:
        root.handlers[:], root.level = handlers, level
        logging.setLogRecordFactory(factory)
        redact.secrets = redacted
    return json.loads(stream.getvalue().splitlines()[-1])


def test_the_error_filter_reads_fields_the_agent_writes(linked_runs: dict[str, Run]) -> None:
    line = _agent_error_line()
    assert line["level"] == "ERROR"
    assert line["environment"] == "dev"
    selectors = set(re.findall(r"\$\.(\w+)", ERROR_PATTERN))
    assert selectors == {"level"}
    run = linked_runs["staging"]
    metric_filter = run.one("aws:cloudwatch/logMetricFilter:LogMetricFilter").inputs
    assert metric_filter["pattern"] == ERROR_PATTERN
    assert metric_filter["logGroupName"] == _agent_group(run, "staging")["name"]
    transformation = metric_filter["metricTransformation"]
    assert transformation["name"] == ERROR_METRIC
    assert transformation["dimensions"] == {"Environment": "$.environment"}
    assert set(re.findall(r"\$\.(\w+)", json.dumps(transformation["dimensions"]))) <= set(line)


@pytest.mark.parametrize("stack", LINKED)
def test_error_lines_alarm_to_the_on_call_topic(linked_runs: dict[str, Run], stack: str) -> None:
    run, settings = linked_runs[stack], _settings(stack)
    alarm = next(
        r.inputs for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if r.name.endswith("-log-errors")
    )
    topic = run.one("aws:sns/topic:Topic")
    assert alarm["metricName"] == ERROR_METRIC
    assert alarm["namespace"] == settings.metrics_namespace
    assert alarm["dimensions"] == {"Environment": stack}, "the filter's dimension, as the agent writes it"
    assert alarm["statistic"] == "Sum"
    assert alarm["threshold"] == settings.log_error_lines_threshold
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["alarmActions"] == [f"arn:aws:mock:{REGION}:123456789012:{topic.name}"]


@pytest.mark.parametrize("stack", LINKED)
def test_the_runbook_searches_are_saved_queries_on_that_group(linked_runs: dict[str, Run], stack: str) -> None:
    run = linked_runs[stack]
    group = _agent_group(run, stack)["name"]
    saved = {r.inputs["name"]: r.inputs for r in run.of_type("aws:cloudwatch/queryDefinition:QueryDefinition")}
    assert set(saved) == {f"hospital-receptionist-{stack}/{key}" for key in QUERIES}
    for query in saved.values():
        assert query["logGroupNames"] == [group]
        assert query["queryString"] in QUERIES.values()


def test_the_runbook_lists_every_saved_query() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for key in QUERIES:
        assert f"`hospital-receptionist-$STACK/{key}`" in runbook, f"docs/runbook.md does not list query {key}"


def test_the_runbook_says_what_to_do_when_error_lines_alarm() -> None:
    from tests.delivery.test_docs import runbook_sections

    (body,) = [body for title, body in runbook_sections().items() if "`log-errors`" in title]
    assert "What it means" in body
    assert "First three checks" in body
    assert "errors`" in body, "the first check runs the saved errors query"

"""Centralized logs (requirement 1.5): LiveKit Cloud's log drain forwards every replica's stdout to a CloudWatch
Logs group this program owns (retention per stack, its own KMS key), written by an IAM user that may write to
that group only. Error lines raise an alarm; the runbook's searches are saved Logs Insights queries.

LiveKit configures the drain from agent secrets (docs.livekit.io/deploy/agents/log-drains, CloudWatch:
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION); the writer's key goes to Secrets Manager and from there
into the agent's secrets at deploy (`infra/secret_store.py`, `infra/scripts/agent_secrets.py`).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import StackSettings

ERROR_METRIC = "LogErrorLines"
ERROR_PERIOD = 300
# The agent logs JSON lines with a `level` field (agent/logs.py); ERROR and CRITICAL are error lines.
ERROR_PATTERN = '{ ($.level = "ERROR") || ($.level = "CRITICAL") }'
# Actions LiveKit's drain needs on the group: create its streams and put events (describe to find them again).
WRITER_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")

# The runbook's searches (docs/runbook.md, "Logs"), saved in CloudWatch Logs Insights under <stack>/<key>.
QUERIES: dict[str, str] = {
    "errors": (
        "fields @timestamp, room, job_id, event, logger, message, error_trace"
        ' | filter level in ["ERROR", "CRITICAL"] | sort @timestamp desc | limit 200'
    ),
    "startup-checks": (
        'fields @timestamp, level, service, duration_ms, message | filter event = "startup_check"'
        " | sort @timestamp desc | limit 100"
    ),
    "calls": (
        'fields @timestamp, room, job_id, event, outcome, duration_ms | filter event in ["call_start", "call_end"]'
        " | sort @timestamp desc | limit 200"
    ),
    "slow-tools": (
        'filter event = "tool_call" | stats count(*) as calls, pct(duration_ms, 95) as p95_ms,'
        " max(duration_ms) as max_ms by tool, outcome | sort p95_ms desc"
    ),
    "one-call": (
        "fields @timestamp, level, event, outcome, duration_ms, message"
        ' | filter room = "REPLACE-WITH-ROOM" | sort @timestamp asc'
    ),
}


def writer_policy(log_group_arn: str) -> str:
    """The drain's writer may create streams in and write to our group, nothing else (no CreateLogGroup)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": list(WRITER_ACTIONS),
                    "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
                }
            ],
        }
    )


def key_policy(account_id: str, region: str, log_group_name: str) -> str:
    """The account administers the key; CloudWatch Logs may use it for this group only (AWS CloudWatch Logs
    User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS")."""
    group_arn = f"arn:aws:logs:{region}:{account_id}:log-group:{log_group_name}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncryptsThisGroup",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
                },
            ],
        }
    )


class LogDrain(pulumi.ComponentResource):
    log_group_name: pulumi.Output[str]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]
    alarm: aws.cloudwatch.MetricAlarm

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        alert_topic_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:LogDrain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group_name = settings.log_group_name
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        key = aws.kms.Key(
            f"{name}-logs-key",
            description=f"{name}: the agent's log group",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(lambda account: key_policy(account, settings.region, group_name)),
            opts=child,
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-agent-logs",
            name=group_name,
            retention_in_days=settings.log_retention_days,
            kms_key_id=key.arn,
            opts=child,
        )
        self.log_group_name = group.name
        user = aws.iam.User(f"{name}-log-writer", name=f"{name}-log-writer", opts=child)
        aws.iam.UserPolicy(
            f"{name}-log-writer-policy",
            name_prefix=naming.prefix(naming.IAM_USER_POLICY, "write-logs"),
            user=user.name,
            policy=group.arn.apply(writer_policy),
            opts=child,
        )
        access_key = aws.iam.AccessKey(f"{name}-log-writer-key", user=user.name, opts=child)
        self.access_key_id = pulumi.Output.secret(access_key.id)
        self.secret_access_key = access_key.secret

        aws.cloudwatch.LogMetricFilter(
            f"{name}-log-errors",
            name=f"{name}-log-errors",
            log_group_name=group.name,
            pattern=ERROR_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                namespace=settings.metrics_namespace,
                name=ERROR_METRIC,
                value="1",
                unit="Count",
                dimensions={"Environment": "$.environment"},
            ),
            opts=child,
        )
        self.alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-log-errors",
            name=f"{name}-log-errors",
            alarm_description=(
                f"{settings.log_error_lines_threshold} or more error lines in the agent's log within 5 minutes."
            ),
            namespace=settings.metrics_namespace,
            metric_name=ERROR_METRIC,
            dimensions={"Environment": settings.app_env},
            statistic="Sum",
            period=ERROR_PERIOD,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=settings.log_error_lines_threshold,
            treat_missing_data="notBreaching",
            alarm_actions=[alert_topic_arn],
            ok_actions=[alert_topic_arn],
            opts=child,
        )
        for key_name, query in QUERIES.items():
            aws.cloudwatch.QueryDefinition(
                f"{name}-query-{key_name}",
                name=f"{name}/{key_name}",
                log_group_names=[group.name],
                query_string=query,
                opts=child,
            )
        self.register_outputs({"logGroupName": self.log_group_name})

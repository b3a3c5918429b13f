"""The database's exported log groups carry the stack's retention, and RDS Proxy knows the agent's role only.

RDS writes each exported log type to `/aws/rds/instance/<id>/<type>` and creates a missing group without
retention (RDS User Guide, "Publishing PostgreSQL logs to Amazon CloudWatch Logs",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Concepts.PostgreSQL.html).
"""

from __future__ import annotations

import json

import pytest

from tests.infra.harness import Run, stack_values

DB = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def test_every_exported_log_type_has_a_managed_group(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    db = run.one(DB)
    identifier = db.inputs["identifier"]
    groups = {r.inputs["name"]: r for r in run.of_type(LOG_GROUP)}
    for log_type in db.inputs["enabledCloudwatchLogsExports"]:
        group = groups.get(f"/aws/rds/instance/{identifier}/{log_type}")
        assert group is not None, f"RDS would create the {log_type} log group without retention"
        assert group.inputs["retentionInDays"] == stack_values(stack)["logRetentionDays"]
        assert group.urn in db.dependencies, "the group must exist before RDS starts exporting to it"
    assert "upgrade" in db.inputs["enabledCloudwatchLogsExports"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_proxy_authenticates_the_agents_role_and_the_consoles_login_only(
    stack_runs: dict[str, Run], stack: str
) -> None:
    run = stack_runs[stack]
    logins = [run.named(f"{stack}-app-db-user"), run.named(f"{stack}-console-db-user")]
    login_arns = [f"arn:aws:mock:us-east-1:123456789012:{secret.name}" for secret in logins]
    proxy = run.one("aws:rds/proxy:Proxy").inputs
    assert [auth["secretArn"] for auth in proxy["auths"]] == login_arns
    assert {auth["clientPasswordAuthType"] for auth in proxy["auths"]} == {"POSTGRES_SCRAM_SHA_256"}
    master_arn = run.exports["databaseMasterSecretArn"]
    policy = json.loads(run.named("-proxy-read-secret").inputs["policy"])
    assert master_arn not in json.dumps(policy), "the proxy's role may not read the master secret"
    assert policy["Statement"][0]["Resource"] == login_arns

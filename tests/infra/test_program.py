"""The Pulumi program under mocks, per stack: every property the issue names, asserted on resource inputs."""

from __future__ import annotations

import json

import pytest

from infra.database import PARAMETERS
from infra.monitoring import AGENT_METRICS, PROXY_METRICS, allowed_down_minutes
from infra.secret_store import AGENT_SECRETS
from tests.infra.conftest import LINK_HOST, TIMINGS
from tests.infra.harness import FAKE_APP_PASSWORD, FAKE_METRICS_SECRET, FAKE_PROVIDER_KEYS, Run, stack_values

DB = "aws:rds/instance:Instance"
PROXY = "aws:rds/proxy:Proxy"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMMAND = "command:local:Command"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def test_mocked_runs_take_seconds(stack_runs: dict[str, Run]) -> None:
    elapsed = TIMINGS["all stacks"]
    print(f"mocked runs of dev, staging and prod: {elapsed:.1f} s")
    assert elapsed < 60


def test_database_encryption_tls_and_versions(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    db = run.one(DB).inputs
    key = run.named(f"-{stack}-key").inputs  # the database's own key (the agent's log group has another)
    assert db["storageEncrypted"] is True
    assert db["kmsKeyId"]
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsKmsKeyId"] == db["kmsKeyId"]
    assert key["enableKeyRotation"] is True
    assert db["engine"] == "postgres"
    assert db["engineVersion"] == "16"
    assert db["autoMinorVersionUpgrade"] is True
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    assert set(db["enabledCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    params = {p["name"]: p["value"] for p in run.one("aws:rds/parameterGroup:ParameterGroup").inputs["parameters"]}
    assert params["rds.force_ssl"] == "1"
    assert params["log_parameter_max_length"] == "0", "bind values (PHI) must never reach the logs"
    assert params == PARAMETERS


def test_backups_multi_az_and_deletion_protection_by_stack(stack_runs: dict[str, Run], stack: str) -> None:
    db = stack_runs[stack].one(DB).inputs
    values = stack_values(stack)
    assert db["backupRetentionPeriod"] == values["backupRetentionDays"] >= 1
    assert db["backupWindow"] == "03:00-04:00"
    expected = {
        "dev": (False, False, True),
        "staging": (False, False, False),
        "prod": (True, True, False),
    }[stack]
    assert (db["multiAz"], db["deletionProtection"], db["skipFinalSnapshot"]) == expected
    if stack == "prod":
        assert db["backupRetentionPeriod"] >= 7
        assert db["finalSnapshotIdentifier"] == "hospital-receptionist-prod-final"
        assert db["instanceClass"] == "db.t4g.medium"


def test_network_exposure(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    db = run.one(DB).inputs
    rules = [r.inputs for r in run.of_type(INGRESS)]
    open_rules = [r for r in rules if r.get("cidrIpv4") in ("0.0.0.0/0",)]
    # Only the console's load balancer is open to the internet, on HTTP (redirected) and HTTPS.
    assert all(r["securityGroupId"].endswith("-console-alb-sg-id") for r in open_rules), open_rules
    assert sorted(r["fromPort"] for r in open_rules) == ([] if stack == "dev" else [80, 443])
    subnets = {r.name: r.inputs for r in run.of_type("aws:ec2/subnet:Subnet")}
    assert len({s["availabilityZone"] for s in subnets.values()}) >= 2
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets.values())
    db_group = run.named("-db-sg")
    db_rules = [r for r in run.of_type(INGRESS) if r.name.startswith(db_group.name.removesuffix("-db-sg") + "-db-from")]
    if stack == "dev":
        assert db["publiclyAccessible"] is True
        assert [r.inputs["cidrIpv4"] for r in db_rules] == stack_values("dev")["allowedCidrs"]
        assert all(r.inputs["fromPort"] == r.inputs["toPort"] == 5432 for r in db_rules)
        assert not run.of_type(PROXY)
    else:
        assert db["publiclyAccessible"] is False
        # Only the proxy and the tunnel host may reach PostgreSQL, by security group, never by CIDR.
        assert sorted(r.name.rsplit("-", 1)[-1] for r in db_rules) == ["proxy", "tunnel"]
        assert all("cidrIpv4" not in r.inputs and r.inputs["referencedSecurityGroupId"] for r in db_rules)
        # ...and each of those two has the matching way out, to the database's group on 5432 only.
        db_group_id = db_rules[0].inputs["securityGroupId"]
        to_db = [r for r in run.of_type(EGRESS) if r.inputs.get("referencedSecurityGroupId") == db_group_id]
        assert sorted(r.name.rsplit("-", 3)[-3] for r in to_db) == ["proxy", "tunnel"]
        assert all(r.inputs["fromPort"] == r.inputs["toPort"] == 5432 for r in to_db)
        tunnel_rules = [r for r in rules if r.get("securityGroupId", "").endswith("tunnel-sg-id")]
        assert tunnel_rules == [], "the SSM tunnel host admits no inbound traffic"


def test_proxy_settings(stack_runs: dict[str, Run]) -> None:
    for stack in ("staging", "prod"):
        run = stack_runs[stack]
        proxy = run.one(PROXY).inputs
        assert proxy["requireTls"] is True
        assert proxy["debugLogging"] is False
        assert proxy["idleClientTimeout"] == 1800
        pool = run.one("aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup").inputs["connectionPoolConfig"]
        assert pool["maxConnectionsPercent"] == 90
        assert pool["connectionBorrowTimeout"] == 30
        role_policy = json.loads(run.named("-proxy-read-secret").inputs["policy"])
        read = role_policy["Statement"][0]
        auth_secrets = [auth["secretArn"] for auth in proxy["auths"]]
        assert read["Resource"] == auth_secrets, "the proxy role reads only its own secrets"
        assert [arn.rsplit(":", 1)[-1] for arn in auth_secrets] == [
            f"hospital-receptionist-{stack}-app-db-user",
            f"hospital-receptionist-{stack}-console-db-user",
        ]
        assert all(auth["clientPasswordAuthType"] == "POSTGRES_SCRAM_SHA_256" for auth in proxy["auths"])
        assert "*" not in json.dumps(role_policy)


def test_private_link_endpoint_service(stack_runs: dict[str, Run]) -> None:
    run = stack_runs["staging"]
    service = run.one("aws:ec2/vpcEndpointService:VpcEndpointService").inputs
    assert service["acceptanceRequired"] is True
    assert service["allowedPrincipals"] == ["arn:aws:iam::123456789012:role/livekit-private-links"]
    nlb = run.named("staging-nlb").inputs
    assert nlb["loadBalancerType"] == "network"
    assert nlb["internal"] is True
    assert len(nlb["subnets"]) >= 2
    group = run.named("-proxy-targets").inputs
    assert group["targetType"] == "ip"
    assert group["port"] == 5432
    sync = run.one("aws:lambda/function:Function").inputs
    assert sync["environment"]["variables"]["PROXY_ENDPOINT"].endswith(".rds.amazonaws.com")
    assert run.one("aws:cloudwatch/eventRule:EventRule").inputs["scheduleExpression"] == "rate(5 minutes)"
    assert "vpce-svc" in run.exports["privateLinkServiceName"]
    assert "lk agent private-link create" in run.exports["nextStep"]
    assert stack_runs["dev"].exports["privateLinkServiceName"] is None


def test_alarms_and_thresholds(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    prefix = f"hospital-receptionist-{stack}-"
    alarms = {r.inputs["name"].removeprefix(prefix): r.inputs for r in run.of_type(ALARM)}
    expected = {
        "heartbeat-missing",
        "uptime-24h",
        "agent-pool-use",
        "agent-processing-p95",
        "turn-e2e-p95",
        "error-rate",
        "provider-fallbacks",
        "speech-outage",
    }
    if stack != "dev":
        expected |= {"proxy-pool-use", "log-errors", "target-sync-errors"}  # log-errors: test_log_drain.py
        expected |= {"no-calls"}  # the phone line's: test_phone_line.py
        expected |= {"console-5xx", "console-unhealthy"}  # tests/infra/test_console.py
    assert set(alarms) == expected
    topic = run.one("aws:sns/topic:Topic")
    assert run.one("aws:sns/topicSubscription:TopicSubscription").inputs["endpoint"] == "oncall@hospital.test"
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [f"arn:aws:mock:us-east-1:123456789012:{topic.name}"]
    deployed = stack != "dev"
    assert alarms["heartbeat-missing"]["actionsEnabled"] is deployed
    assert alarms["uptime-24h"]["actionsEnabled"] is deployed
    assert alarms["error-rate"]["actionsEnabled"] is True
    heartbeat = alarms["heartbeat-missing"]
    assert heartbeat["metricName"] == "Heartbeat"
    assert heartbeat["treatMissingData"] == "breaching"
    assert heartbeat["dimensions"] == {"Environment": stack, "Agent": "hospital-receptionist"}
    uptime = alarms["uptime-24h"]
    assert uptime["evaluationPeriods"] * 60 == 86_400
    assert uptime["datapointsToAlarm"] == allowed_down_minutes(99.0) + 1 == 15
    assert any(q.get("expression", "").startswith("IF(FILL(m1") for q in uptime["metricQueries"])
    assert alarms["agent-processing-p95"]["threshold"] == 200
    assert alarms["agent-processing-p95"]["extendedStatistic"] == "p95"
    assert alarms["turn-e2e-p95"]["threshold"] == stack_values(stack)["turnLatencyP95Ms"]
    assert alarms["error-rate"]["threshold"] == stack_values(stack)["errorRateThresholdPercent"]
    fallbacks = alarms["provider-fallbacks"]
    assert (fallbacks["metricName"], fallbacks["statistic"]) == ("ProviderFallbacks", "Sum")
    assert (fallbacks["evaluationPeriods"], fallbacks["datapointsToAlarm"]) == (3, 2)
    outage = alarms["speech-outage"]
    assert (outage["metricName"], outage["threshold"], outage["period"]) == ("SpeechOutages", 1, 60)
    if stack != "dev":
        pool = alarms["proxy-pool-use"]
        assert pool["threshold"] == 80
        assert pool["treatMissingData"] == "notBreaching"
        metrics = {q["metric"]["metricName"]: q["metric"] for q in pool["metricQueries"] if "metric" in q}
        assert set(metrics) == set(PROXY_METRICS)
        assert all(m["namespace"] == "AWS/RDS" and set(m["dimensions"]) == {"ProxyName"} for m in metrics.values())
        assert next(q for q in pool["metricQueries"] if q.get("returnData"))["expression"] == "100 * m1 / m2"


def test_dashboard_parses_and_names_real_metrics(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    body = json.loads(run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = " ".join(w["properties"]["title"] for w in body["widgets"]).lower()
    for topic in ("up", "latency", "error rate", "pool", "fallbacks"):
        assert topic in titles
    named = set()
    for widget in body["widgets"]:
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], str):
                namespace, metric = line[0], line[1]
                assert namespace in ("HospitalReceptionist", "AWS/RDS")
                assert metric in AGENT_METRICS or metric in PROXY_METRICS, metric
                named.add(metric)
    assert {"Heartbeat", "TurnE2ELatency", "AgentProcessingLatency", "Errors", "Turns", "PoolUsePercent"} <= named
    assert {"ProviderFallbacks", "ProviderRecoveries", "SpeechOutages"} <= named
    if stack != "dev":
        assert set(PROXY_METRICS) <= named


def test_app_user_password_is_generated_and_secret(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    password = run.named("-app-db-password").inputs
    assert password["length"] >= 32
    assert password["special"] is False
    value = run.named("-app-db-user-value")
    assert "secretString" in value.secret_inputs


def test_metrics_publisher_may_only_put_our_metrics(stack_runs: dict[str, Run]) -> None:
    policy = json.loads(stack_runs["staging"].named("-metrics-publisher-policy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "HospitalReceptionist"}}


def test_secrets_are_marked_secret_and_never_exported(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    versions = run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    stored = {v.name.removeprefix(f"hospital-receptionist-{stack}-").removesuffix("-value") for v in versions}
    generated = {s for s in AGENT_SECRETS if s.source.name == "METRICS_USER"}
    if stack != "dev":  # the log drain's writer exists where the agent runs on LiveKit Cloud
        generated |= {s for s in AGENT_SECRETS if s.source.name == "LOG_DRAIN_USER"}
    console = set() if stack == "dev" else {"console-db-user", "console-cookie-secret"}
    assert stored == {s.slug for s in generated} | {"app-db-user"} | console
    assert all("secretString" in v.secret_inputs for v in versions)
    assert all(v.inputs["secretString"] for v in versions)
    assert all(s.inputs["kmsKeyId"] for s in run.of_type("aws:secretsmanager/secret:Secret"))
    exported = json.dumps(run.exports, default=str)
    for value in [*FAKE_PROVIDER_KEYS.values(), FAKE_METRICS_SECRET, FAKE_APP_PASSWORD]:
        assert value not in exported


def _commands(run: Run) -> dict[str, object]:
    return {c.name.rsplit("-", 1)[-1]: c for c in run.of_type(COMMAND)}


def test_deploy_order_and_triggers(linked_runs: dict[str, Run], stack_runs: dict[str, Run]) -> None:
    for stack, run in linked_runs.items():
        commands = _commands(run)
        migrate, agent = commands["migrate"], commands["agent"]
        assert migrate.urn in agent.dependencies, "the agent deploys only after the migrations"
        assert migrate.inputs["create"] == "bash infra/scripts/migrate.sh"
        assert agent.inputs["create"] == "bash infra/scripts/deploy_agent.sh"
        assert len(migrate.inputs["triggers"]) == 2
        assert all(len(t) == 64 for t in migrate.inputs["triggers"])
        assert agent.inputs["triggers"][:2] == migrate.inputs["triggers"]
        assert len(agent.inputs["triggers"][2]) == 64, "a Dockerfile or pin change redeploys the agent"
        assert migrate.inputs["environment"]["TUNNEL_INSTANCE_ID"]
        assert migrate.inputs["environment"]["SEED"] == ("1" if stack == "staging" else "0")
        assert agent.inputs["environment"]["DATABASE_HOST"] == LINK_HOST
        assert agent.inputs["environment"]["APP_DB_SECRET_ARN"].endswith("-app-db-user")
        assert "DB_SECRET_ARN" not in agent.inputs["environment"], "the agent never gets the master secret"
        assert migrate.inputs["environment"]["APP_DB_SECRET_ARN"] == agent.inputs["environment"]["APP_DB_SECRET_ARN"]
        settings = json.loads(agent.inputs["environment"]["AGENT_SETTINGS"])
        assert settings["DATABASE_TLS_SERVER_NAME"].endswith(".rds.amazonaws.com")
        for command in (migrate, agent):
            assert command.inputs["logging"] == "stderr"
            assert set(command.additional_secret_outputs) == {"stdout", "stderr"}
    dev = _commands(stack_runs["dev"])
    assert set(dev) == {"migrate"}
    assert "TUNNEL_INSTANCE_ID" not in dev["migrate"].inputs["environment"]
    assert dev["migrate"].inputs["environment"]["SEED"] == "1"
    assert "agent" not in _commands(stack_runs["staging"]), "no agent deploy before the Private Link exists"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_commands_carry_no_secret(linked_runs: dict[str, Run], stack: str) -> None:
    for command in linked_runs[stack].of_type(COMMAND):
        text = json.dumps(command.inputs, default=str)
        for value in [*FAKE_PROVIDER_KEYS.values(), FAKE_METRICS_SECRET, FAKE_APP_PASSWORD]:
            assert value not in text
        assert "password" not in text.lower()

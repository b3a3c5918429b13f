"""The staff console's deployment (infra/console.py), from a mocked run of each stack: HTTPS only, Cognito before
the console, sticky sessions and Streamlit's health path, its own database login through RDS Proxy, no secret in
clear, alarms to the alert topic, and settings that are exactly the ones console/settings.py reads."""

from __future__ import annotations

import json

import pytest

from console.settings import ConsoleSettings
from infra import console, console_image, costs
from infra.config import parse
from tests.infra.harness import FAKE_APP_PASSWORD, OPERATOR_VALUES, Run, stack_values

LISTENER = "aws:lb/listener:Listener"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DEPLOYED = ["staging", "prod"]


def _listeners(run: Run) -> dict[int, dict]:
    return {int(r.inputs["port"]): r.inputs for r in run.of_type(LISTENER) if "-console-" in r.name}


def _container(run: Run) -> dict:
    (definition,) = json.loads(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    return definition


def test_dev_runs_no_console(stack_runs: dict[str, Run]) -> None:
    run = stack_runs["dev"]
    assert not [r for r in run.resources if "console" in r.name]
    assert run.exports["consoleUrl"] is None


@pytest.mark.parametrize("stack", DEPLOYED)
def test_http_redirects_to_https(stack_runs: dict[str, Run], stack: str) -> None:
    http = _listeners(stack_runs[stack])[80]
    assert http["protocol"] == "HTTP"
    (action,) = http["defaultActions"]
    assert action["type"] == "redirect"
    assert action["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}


@pytest.mark.parametrize("stack", DEPLOYED)
def test_https_authenticates_with_cognito_then_forwards(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    https = _listeners(run)[443]
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["certificateArn"]
    assert https["routingHttpResponseStrictTransportSecurityHeaderValue"].startswith("max-age=31536000")
    actions = sorted(https["defaultActions"], key=lambda a: a["order"])
    assert [a["type"] for a in actions] == ["authenticate-cognito", "forward"]
    cognito = actions[0]["authenticateCognito"]
    assert cognito["onUnauthenticatedRequest"] == "authenticate"
    assert cognito["sessionTimeout"] == stack_values(stack)["consoleSessionTimeoutSeconds"]
    assert cognito["userPoolArn"].endswith("-console-users")
    assert cognito["userPoolClientId"] == f"hospital-receptionist-{stack}-console-client-id"
    assert f"{stack}-console-tg/" in actions[1]["targetGroupArn"]


@pytest.mark.parametrize("stack", DEPLOYED)
def test_load_balancer_target_group_and_service(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    balancer = run.named("-console-alb").inputs
    assert balancer["loadBalancerType"] == "application"
    assert balancer["internal"] is False
    assert balancer["idleTimeout"] >= 60, "Streamlit's WebSocket pings every 30 s"
    assert balancer["dropInvalidHeaderFields"] is True
    assert balancer["enableDeletionProtection"] is (stack == "prod")
    assert len(balancer["namePrefix"]) <= 6
    group = run.named("-console-tg").inputs
    assert group["targetType"] == "ip"
    assert group["port"] == console.PORT
    assert group["healthCheck"]["path"] == "/_stcore/health"
    assert group["stickiness"] == {"type": "lb_cookie", "enabled": True, "cookieDuration": 86400}
    task = run.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert (task["cpu"], task["memory"]) == ("256", "512")
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    service = run.one("aws:ecs/service:Service").inputs
    assert service["desiredCount"] == stack_values(stack)["consoleDesiredCount"]
    assert service["networkConfiguration"]["assignPublicIp"] is True
    assert service["loadBalancers"][0]["containerPort"] == console.PORT
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    # Tasks start once the migrations gave the console's login its password, and the HTTPS listener exists.
    dependencies = run.one("aws:ecs/service:Service").dependencies
    assert run.named(f"{stack}-migrate").urn in dependencies
    assert run.named("-console-https").urn in dependencies


@pytest.mark.parametrize("stack", DEPLOYED)
def test_tasks_accept_only_the_load_balancer(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    task_group_id = run.named("-console-task-sg").name + "-id"
    balancer_group_id = run.named("-console-alb-sg").name + "-id"
    into_tasks = [r.inputs for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    into_tasks = [r for r in into_tasks if r["securityGroupId"] == task_group_id]
    assert into_tasks == [{**into_tasks[0], "referencedSecurityGroupId": balancer_group_id, "fromPort": console.PORT}]
    assert "cidrIpv4" not in into_tasks[0]
    out = [r.inputs for r in run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    ports = sorted(r["fromPort"] for r in out if r["securityGroupId"] == task_group_id)
    assert ports == [443, 5432], "HTTPS out (signing keys, ECR, logs, secrets) and the proxy"
    proxy_in = run.named("-proxy-from-console").inputs
    assert proxy_in["referencedSecurityGroupId"] == task_group_id
    assert proxy_in["fromPort"] == proxy_in["toPort"] == 5432


@pytest.mark.parametrize("stack", DEPLOYED)
def test_cognito_requires_mfa_and_admin_created_accounts(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    pool = run.one("aws:cognito/userPool:UserPool").inputs
    assert pool["mfaConfiguration"] == "ON"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool["deletionProtection"] == ("ACTIVE" if stack == "prod" else "INACTIVE")
    groups = {r.inputs["name"] for r in run.of_type("aws:cognito/userGroup:UserGroup")}
    assert groups == {"frontdesk", "admin"}
    client = run.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["allowedOauthFlows"] == ["code"]
    assert client["generateSecret"] is True
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["callbackUrls"] == [f"https://{OPERATOR_VALUES['consoleDomain']}/oauth2/idpresponse"]
    assert "openid" in client["allowedOauthScopes"]
    certificate = run.one("aws:acm/certificate:Certificate").inputs
    assert certificate == {**certificate, "domainName": OPERATOR_VALUES["consoleDomain"], "validationMethod": "DNS"}


@pytest.mark.parametrize("stack", DEPLOYED)
def test_container_settings_are_the_ones_the_console_reads(stack_runs: dict[str, Run], stack: str) -> None:
    container = _container(stack_runs[stack])
    names = {item["name"] for item in container["environment"]} | {item["name"] for item in container["secrets"]}
    streamlit_options = {console.COOKIE_SECRET_VARIABLE}
    console_fields = {name.upper() for name in ConsoleSettings.model_fields}
    assert names - streamlit_options <= console_fields, names - streamlit_options - console_fields
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["CONSOLE_AUTH"] == "alb"
    assert environment["APP_ENV"] == stack
    assert environment["CONSOLE_ALB_ARN"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/"
    )
    assert f"{stack}-console-alb/" in environment["CONSOLE_ALB_ARN"]
    assert environment["CONSOLE_COGNITO_ISSUER"] == (
        f"https://cognito-idp.us-east-1.amazonaws.com/hospital-receptionist-{stack}-console-users-id"
    )
    assert environment["CONSOLE_COGNITO_CLIENT_ID"] == f"hospital-receptionist-{stack}-console-client-id"
    assert int(environment["CONSOLE_PORT"]) == console.PORT == container["portMappings"][0]["containerPort"]
    # The values pass the console's own validation, with the secrets ECS injects.
    settings = ConsoleSettings.model_validate(
        {
            **{key.lower(): value for key, value in environment.items()},
            "database_url": "postgresql://u:p@proxy.example:5432/hospital",
        }
    )
    assert settings.alb_trust.alb_arn == environment["CONSOLE_ALB_ARN"]
    assert container["image"].endswith(f":{console_image.tag()}")


@pytest.mark.parametrize("stack", DEPLOYED)
def test_no_secret_in_clear(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    container = _container(run)
    secrets = {item["name"]: item["valueFrom"] for item in container["secrets"]}
    assert secrets["DATABASE_URL"].endswith("-console-db-user:database_url::")
    assert secrets[console.COOKIE_SECRET_VARIABLE].endswith("-console-cookie-secret")
    everything_but_secrets = [r for r in run.resources if r.type != "aws:secretsmanager/secretVersion:SecretVersion"]
    assert FAKE_APP_PASSWORD not in json.dumps([r.inputs for r in everything_but_secrets], default=str)
    value = run.named("-console-db-user-value")
    assert "secretString" in value.secret_inputs
    stored = json.loads(value.inputs["secretString"]["value"])
    assert stored["username"] == "hospital_console_login"
    assert stored["database_url"] == (
        f"postgresql://hospital_console_login:{FAKE_APP_PASSWORD}@hospital-receptionist-{stack}-proxy.proxy-c0ffee."
        "us-east-1.rds.amazonaws.com:5432/hospital"
    )
    assert "secretString" in run.named("-console-cookie-secret-value").secret_inputs
    # The migration command gives the login its password from the secret (by ARN, never the value).
    migrate = run.named(f"{stack}-migrate").inputs["environment"]
    assert migrate["CONSOLE_DB_SECRET_ARN"].endswith("-console-db-user")


@pytest.mark.parametrize("stack", DEPLOYED)
def test_execution_role_reads_only_the_consoles_secrets(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    policy = json.loads(run.named("-console-exec-secrets").inputs["policy"])
    (read, decrypt) = policy["Statement"]
    assert sorted(arn.rsplit(":", 1)[-1] for arn in read["Resource"]) == [
        f"hospital-receptionist-{stack}-console-cookie-secret",
        f"hospital-receptionist-{stack}-console-db-user",
    ]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


@pytest.mark.parametrize("stack", DEPLOYED)
def test_alarms_reach_the_alert_topic(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    topic = run.one("aws:sns/topic:Topic").name
    errors = run.named("-console-5xx").inputs
    metrics = {q["metric"]["metricName"] for q in errors["metricQueries"] if q.get("metric")}
    assert metrics == {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"}
    assert errors["threshold"] == stack_values(stack)["consoleServerErrorsThreshold"]
    unhealthy = run.named("-console-unhealthy").inputs
    assert unhealthy["metricName"] == "UnHealthyHostCount"
    assert set(unhealthy["dimensions"]) == {"LoadBalancer", "TargetGroup"}
    for alarm in (errors, unhealthy):
        assert [arn.rsplit(":", 1)[-1] for arn in alarm["alarmActions"]] == [topic]
        assert "docs/runbook.md" in alarm["alarmDescription"]


def test_the_image_is_pushed_before_the_task_definition_names_it(stack_runs: dict[str, Run]) -> None:
    run = stack_runs["staging"]
    push = run.named("-console-image")
    assert push.inputs["triggers"] == [console_image.tag()]
    assert push.inputs["environment"]["LOCAL_IMAGE"] == console_image.local_name()
    assert push.urn in run.one("aws:ecs/taskDefinition:TaskDefinition").dependencies


def test_console_settings_are_refused_when_incomplete() -> None:
    base = {key: value for key, value in stack_values("staging").items() if not isinstance(value, list)}
    base |= {key: json.dumps(value) for key, value in stack_values("staging").items() if isinstance(value, list)}
    base |= {k: v for k, v in OPERATOR_VALUES.items() if k != "consoleDomain"}
    with pytest.raises(Exception, match="consoleDomain is required"):
        parse(base)
    with pytest.raises(Exception, match="dbConsoleUsername must differ"):
        parse(base | {"consoleDomain": "console.hospital.test", "dbConsoleUsername": "hospital_console"})
    with pytest.raises(Exception, match="existingPublicSubnetIds needs subnets in at least two AZs"):
        parse(
            base
            | {
                "consoleDomain": "console.hospital.test",
                "existingVpcId": "vpc-0abc",
                "existingPrivateSubnetIds": json.dumps(["subnet-1", "subnet-2"]),
                "existingPublicSubnetIds": json.dumps(["subnet-3"]),
                "privateLinkZoneIds": "[]",
            }
        )
    assert parse(base | {"consoleDomain": "console.hospital.test"}).console_enabled


def test_every_console_alarm_has_a_runbook_section(stack_runs: dict[str, Run]) -> None:
    from tests.delivery.test_docs import runbook_sections

    prefix = "hospital-receptionist-staging-"
    names = [r.inputs["name"].removeprefix(prefix) for r in stack_runs["staging"].of_type(ALARM)]
    keys = [name for name in names if name.startswith("console-")]
    assert sorted(keys) == sorted(costs.CONSOLE_ALARM_METRICS)
    sections = runbook_sections()
    for key in keys:
        (body,) = [body for title, body in sections.items() if title.startswith(f"`{key}`")]
        assert "First three checks" in body
        assert "Fixes" in body

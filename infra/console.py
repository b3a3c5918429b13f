"""Console: the staff console (console/, Streamlit) on ECS Fargate behind an internet-facing Application Load Balancer.

Path of a request: HTTPS listener (ACM certificate; HTTP redirects here) -> `authenticate-cognito` (user pool with
MFA required, no self sign-up, groups `frontdesk` and `admin`) -> `forward` to the tasks, sticky by the load
balancer's cookie. The console verifies the load balancer's signed identity itself (console/identity.py), so its
settings carry this load balancer's ARN and the pool's issuer and client id.

Tasks run in the public subnets with a public address and accept traffic from the load balancer only: they need
outbound HTTPS to the load balancer's signing-key endpoint (public-keys.auth.elb.<region>.amazonaws.com, which has
no VPC endpoint), to Cognito's keys, ECR, CloudWatch Logs and Secrets Manager. A public address per task is cheaper
than a NAT gateway up to about nine tasks (docs/costs.md). They reach the database through
RDS Proxy over TLS, as their own login role (`ConsoleLogin`), whose password the task gets from Secrets Manager.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_command as command
import pulumi_random as random

from infra import console_image, naming
from infra.config import PROJECT, StackSettings
from infra.database import POSTGRES_PORT
from infra.deploy import COMMAND_DIR, SCRIPTS, SECRET_OUTPUTS
from infra.network import allow_tcp, security_group

PORT = 8501  # console/settings.py console_port's default
HEALTH_PATH = "/_stcore/health"  # Streamlit's own health endpoint
HTTPS_PORT = 443
# Streamlit pings its WebSocket every 30 s; twice that and more keeps an idle page connected.
IDLE_TIMEOUT_SECONDS = 120
STICKINESS_SECONDS = 86_400
# Fargate's smallest task: a page run is a few database queries and a table.
TASK_CPU = 256
TASK_MEMORY_MB = 512
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HSTS = "max-age=31536000; includeSubDomains"
GROUPS = {"frontdesk": "Front desk: every page but Audit", "admin": "Administrators: every page, Audit included"}
# Streamlit reads its options from STREAMLIT_<SECTION>_<OPTION>: one cookie secret for every task.
COOKIE_SECRET_VARIABLE = "STREAMLIT_SERVER_COOKIE_SECRET"  # noqa: S105  # pragma: allowlist secret (a variable's name)
DATABASE_URL_KEY = "database_url"
IMAGES_KEPT = 10
PUSH_IMAGE = f"bash {SCRIPTS / 'push_console_image.sh'}"
ECS_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def callback_url(domain: str) -> str:
    """Where Cognito returns staff to the load balancer (Elastic Load Balancing User Guide, "Authenticate users
    using an Application Load Balancer": the client's callback URL is https://<DNS>/oauth2/idpresponse)."""
    return f"https://{domain}/oauth2/idpresponse"


def issuer(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def database_url(username: str, password: str, host: str, db_name: str) -> str:
    """The console's DATABASE_URL through RDS Proxy. The password is letters and digits (no quoting needed);
    TLS is required and verified by the console's settings (DATABASE_CA_FILE)."""
    return f"postgresql://{username}:{password}@{host}:{POSTGRES_PORT}/{db_name}"


def secret_reader_policy(secret_arns: list[str], kms_key_arn: str, region: str) -> str:
    """The task's execution role reads its own secrets (ECS injects them), decrypting through Secrets Manager only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_arns},
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": kms_key_arn,
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
                },
            ],
        }
    )


def container_environment(
    settings: StackSettings, alb_arn: str, pool_issuer: str, client_id: str
) -> list[dict[str, str]]:
    """The console's settings (console/settings.py ConsoleSettings) apart from its secrets."""
    values = {
        "APP_ENV": settings.app_env,
        "CONSOLE_AUTH": "alb",
        "CONSOLE_ALB_ARN": alb_arn,
        "CONSOLE_COGNITO_ISSUER": pool_issuer,
        "CONSOLE_COGNITO_CLIENT_ID": client_id,
        "CONSOLE_SESSION_IDLE_MINUTES": str(settings.console_session_idle_minutes),
        "CONSOLE_PORT": str(PORT),
        "HOSPITAL_TIMEZONE": settings.hospital_time_zone,
        # RDS Proxy presents an ACM certificate (Amazon Trust Services roots, in the image's system bundle).
        "DATABASE_CA_FILE": settings.agent_database_ca_file,
    }
    return [{"name": key, "value": value} for key, value in values.items()]


def container_secrets(login_secret_arn: str, cookie_secret_arn: str) -> list[dict[str, str]]:
    """Injected by ECS from Secrets Manager when a task starts: never in the task definition itself."""
    return [
        {"name": "DATABASE_URL", "valueFrom": f"{login_secret_arn}:{DATABASE_URL_KEY}::"},
        {"name": COOKIE_SECRET_VARIABLE, "valueFrom": cookie_secret_arn},
    ]


class ConsoleLogin(pulumi.ComponentResource):
    """The console's database login: a generated password in Secrets Manager, in the JSON shape RDS Proxy reads
    (`username`, `password`), plus the console's DATABASE_URL once the proxy's endpoint is known. Declared before
    the proxy, which authenticates it."""

    secret_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        kms_key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:ConsoleLogin", name, None, opts)
        self._name, self._settings = name, settings
        child = pulumi.ResourceOptions(parent=self)
        # Letters and digits, 40 of them (about 238 bits): no URL quoting.
        self._password = random.RandomPassword(f"{name}-console-db-password", length=40, special=False, opts=child)
        self._secret = aws.secretsmanager.Secret(
            f"{name}-console-db-user",
            name=f"{name}/database-console-user",
            description="The console's database login (member of hospital_console); RDS Proxy authenticates it",
            kms_key_id=kms_key_arn,
            recovery_window_in_days=30 if settings.app_env == "prod" else 7,
            opts=child,
        )
        self.secret_arn = self._secret.arn
        self.register_outputs({"secretArn": self.secret_arn})

    def store(self, proxy_endpoint: pulumi.Input[str]) -> aws.secretsmanager.SecretVersion:
        """The secret's value: the login, and the URL the console connects with through the proxy."""
        settings = self._settings
        value = pulumi.Output.all(pulumi.Output.secret(self._password.result), proxy_endpoint).apply(
            lambda args: json.dumps(
                {
                    "username": settings.db_console_username,
                    "password": args[0],
                    DATABASE_URL_KEY: database_url(settings.db_console_username, args[0], args[1], settings.db_name),
                }
            )
        )
        return aws.secretsmanager.SecretVersion(
            f"{self._name}-console-db-user-value",
            secret_id=self._secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self),
        )


class Console(pulumi.ComponentResource):
    url: pulumi.Output[str]
    load_balancer_dns: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    user_pool_id: pulumi.Output[str]
    certificate_validation: pulumi.Output[list[dict[str, str]]]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        login: ConsoleLogin,
        vpc_id: pulumi.Input[str],
        public_subnet_ids: pulumi.Input[list[str]],
        proxy_endpoint: pulumi.Input[str],
        proxy_security_group_id: pulumi.Input[str],
        kms_key_arn: pulumi.Input[str],
        alert_topic_arn: pulumi.Input[str],
        database_ready: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`database_ready`: the deploy step after which the console's login role has its password."""
        super().__init__("hospital:infra:Console", name, None, opts)
        self._name, self._settings = name, settings
        self._child = pulumi.ResourceOptions(parent=self)
        domain = str(settings.console_domain)
        login_value = login.store(proxy_endpoint)
        cookie_secret = self._cookie_secret(kms_key_arn)
        pool, client, pool_domain = self._sign_in(domain)
        balancer_group, task_group = self._security_groups(vpc_id, proxy_security_group_id)
        balancer, target_group, https = self._load_balancer(
            domain=domain,
            subnet_ids=public_subnet_ids,
            group=balancer_group,
            vpc_id=vpc_id,
            pool=pool,
            client=client,
            pool_domain=pool_domain,
        )
        repository, push = self._image()
        execution_role = self._execution_role([login.secret_arn, cookie_secret.arn], kms_key_arn)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-console-logs",
            name=f"/{PROJECT}/{settings.app_env}/console",
            retention_in_days=settings.log_retention_days,
            opts=self._child,
        )
        image = repository.repository_url.apply(lambda url: f"{url}:{console_image.tag()}")
        containers = pulumi.Output.all(
            image=image,
            alb_arn=balancer.arn,
            pool_id=pool.id,
            client_id=client.id,
            login_arn=login.secret_arn,
            cookie_arn=cookie_secret.arn,
            logs=logs.name,
        ).apply(lambda args: self._container_definitions(**args))
        task = aws.ecs.TaskDefinition(
            f"{name}-console-task",
            family=f"{name}-console",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(TASK_CPU),
            memory=str(TASK_MEMORY_MB),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            execution_role_arn=execution_role.arn,
            container_definitions=containers,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[push, login_value]),
        )
        cluster = aws.ecs.Cluster(f"{name}-console", name=f"{name}-console", opts=self._child)
        aws.ecs.Service(
            f"{name}-console",
            name="console",
            cluster=cluster.arn,
            task_definition=task.arn,
            desired_count=settings.console_desired_count,
            launch_type="FARGATE",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=public_subnet_ids, security_groups=[task_group.id], assign_public_ip=True
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=target_group.arn, container_name="console", container_port=PORT
                )
            ],
            health_check_grace_period_seconds=60,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            propagate_tags="SERVICE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[https, database_ready]),
        )
        self.alarms = self._alarms(balancer, target_group, alert_topic_arn)
        self.url = pulumi.Output.from_input(f"https://{domain}")
        self.load_balancer_dns = balancer.dns_name
        self.repository_url = repository.repository_url
        self.user_pool_id = pool.id
        self.register_outputs({"url": self.url, "loadBalancerDns": self.load_balancer_dns})

    def _container_definitions(
        self, *, image: str, alb_arn: str, pool_id: str, client_id: str, login_arn: str, cookie_arn: str, logs: str
    ) -> str:
        settings = self._settings
        return json.dumps(
            [
                {
                    "name": "console",
                    "image": image,
                    "essential": True,
                    "portMappings": [{"containerPort": PORT, "protocol": "tcp"}],
                    "environment": container_environment(
                        settings, alb_arn, issuer(settings.region, pool_id), client_id
                    ),
                    "secrets": container_secrets(login_arn, cookie_arn),
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": logs,
                            "awslogs-region": settings.region,
                            "awslogs-stream-prefix": "console",
                        },
                    },
                }
            ]
        )

    def _cookie_secret(self, kms_key_arn: pulumi.Input[str]) -> aws.secretsmanager.Secret:
        """Streamlit signs its cookies with this; every task must share it."""
        name = self._name
        value = random.RandomPassword(f"{name}-console-cookie", length=48, special=False, opts=self._child)
        secret = aws.secretsmanager.Secret(
            f"{name}-console-cookie-secret",
            name=f"{name}/console-cookie-secret",
            description="Streamlit's cookie secret, shared by the console's tasks",
            kms_key_id=kms_key_arn,
            recovery_window_in_days=7,
            opts=self._child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-console-cookie-secret-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value.result),
            opts=self._child,
        )
        return secret

    def _sign_in(
        self, domain: str
    ) -> tuple[aws.cognito.UserPool, aws.cognito.UserPoolClient, aws.cognito.UserPoolDomain]:
        name, prod = self._name, self._settings.app_env == "prod"
        pool = aws.cognito.UserPool(
            f"{name}-console-users",
            name=f"{name}-console",
            mfa_configuration="ON",
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            # Staff accounts are created by an administrator only: no self sign-up.
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
            ),
            auto_verified_attributes=["email"],
            username_attributes=["email"],
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            deletion_protection="ACTIVE" if prod else "INACTIVE",
            opts=self._child,
        )
        for group, description in GROUPS.items():
            aws.cognito.UserGroup(
                f"{name}-console-{group}", name=group, user_pool_id=pool.id, description=description, opts=self._child
            )
        # The load balancer is a confidential client: it keeps the client secret itself (read from Cognito).
        client = aws.cognito.UserPoolClient(
            f"{name}-console-client",
            name=f"{name}-console-alb",
            user_pool_id=pool.id,
            generate_secret=True,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=["openid", "email"],
            callback_urls=[callback_url(domain)],
            supported_identity_providers=["COGNITO"],
            prevent_user_existence_errors="ENABLED",
            opts=self._child,
        )
        pool_domain = aws.cognito.UserPoolDomain(
            f"{name}-console-sign-in", domain=f"{name}-console", user_pool_id=pool.id, opts=self._child
        )
        return pool, client, pool_domain

    def _security_groups(
        self, vpc_id: pulumi.Input[str], proxy_security_group_id: pulumi.Input[str]
    ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        name, child = self._name, self._child
        balancer = security_group(
            name, "console-alb", vpc_id=vpc_id, description="Console load balancer: HTTPS from anywhere", opts=child
        )
        tasks = security_group(
            name, "console-task", vpc_id=vpc_id, description="Console tasks: from the load balancer only", opts=child
        )
        for port in (80, HTTPS_PORT):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-console-alb-from-web-{port}",
                security_group_id=balancer.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4="0.0.0.0/0",
                description="HTTP (redirected) and HTTPS from staff browsers",
                opts=child,
            )
        allow_tcp(
            PORT,
            egress=(f"{name}-console-alb-to-tasks", balancer.id, "To the console's tasks"),
            ingress=(f"{name}-console-task-from-alb", tasks.id, "From the console's load balancer only"),
            opts=child,
        )
        # authenticate-cognito: the load balancer calls the pool's token and user-info endpoints itself.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-console-alb-to-cognito",
            security_group_id=balancer.id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4="0.0.0.0/0",
            description="HTTPS to Cognito's endpoints (authenticate-cognito)",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-console-task-to-https",
            security_group_id=tasks.id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4="0.0.0.0/0",
            description="HTTPS: ELB signing keys, Cognito keys, ECR, CloudWatch Logs, Secrets Manager",
            opts=child,
        )
        allow_tcp(
            POSTGRES_PORT,
            egress=(f"{name}-console-task-to-proxy", tasks.id, "To RDS Proxy (PostgreSQL over TLS)"),
            ingress=(f"{name}-proxy-from-console", proxy_security_group_id, "PostgreSQL from the console's tasks"),
            opts=child,
        )
        return balancer, tasks

    def _load_balancer(
        self,
        *,
        domain: str,
        subnet_ids: pulumi.Input[list[str]],
        group: aws.ec2.SecurityGroup,
        vpc_id: pulumi.Input[str],
        pool: aws.cognito.UserPool,
        client: aws.cognito.UserPoolClient,
        pool_domain: aws.cognito.UserPoolDomain,
    ) -> tuple[aws.lb.LoadBalancer, aws.lb.TargetGroup, aws.lb.Listener]:
        name, settings, child = self._name, self._settings, self._child
        prefix = naming.elb_name_prefix(name, pulumi.get_stack(), kind="c")
        certificate = aws.acm.Certificate(
            f"{name}-console-cert", domain_name=domain, validation_method="DNS", opts=child
        )
        # Waits until the operator has added the CNAME record ACM asks for (docs/console.md, "Deploying").
        validated = aws.acm.CertificateValidation(
            f"{name}-console-cert-validation", certificate_arn=certificate.arn, opts=child
        )
        self.certificate_validation = certificate.domain_validation_options.apply(
            lambda options: [
                {"name": o.resource_record_name, "type": o.resource_record_type, "value": o.resource_record_value}
                for o in options or []
            ]
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-console-alb",
            name_prefix=prefix,
            load_balancer_type="application",
            internal=False,
            subnets=subnet_ids,
            security_groups=[group.id],
            idle_timeout=IDLE_TIMEOUT_SECONDS,
            drop_invalid_header_fields=True,
            enable_deletion_protection=settings.app_env == "prod",
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-console-tg",
            name_prefix=prefix,
            port=PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=HEALTH_PATH, matcher="200", interval=15, timeout=5, healthy_threshold=2, unhealthy_threshold=3
            ),
            # A Streamlit session lives in one task's memory: keep each browser on its task.
            stickiness=aws.lb.TargetGroupStickinessArgs(
                type="lb_cookie", enabled=True, cookie_duration=STICKINESS_SECONDS
            ),
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-console-http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                    ),
                )
            ],
            opts=child,
        )
        https = aws.lb.Listener(
            f"{name}-console-https",
            load_balancer_arn=balancer.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=validated.certificate_arn,
            routing_http_response_strict_transport_security_header_value=HSTS,
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="authenticate-cognito",
                    order=1,
                    authenticate_cognito=aws.lb.ListenerDefaultActionAuthenticateCognitoArgs(
                        user_pool_arn=pool.arn,
                        user_pool_client_id=client.id,
                        user_pool_domain=pool_domain.domain,
                        on_unauthenticated_request="authenticate",
                        scope="openid email",
                        session_timeout=settings.console_session_timeout_seconds,
                    ),
                ),
                aws.lb.ListenerDefaultActionArgs(type="forward", order=2, target_group_arn=target_group.arn),
            ],
            opts=child,
        )
        return balancer, target_group, https

    def _image(self) -> tuple[aws.ecr.Repository, command.local.Command]:
        name, child = self._name, self._child
        repository = aws.ecr.Repository(
            f"{name}-console-repo",
            name=f"{name}/console",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            force_delete=self._settings.app_env != "prod",
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-console-repo-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"Keep the last {IMAGES_KEPT} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": IMAGES_KEPT,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child,
        )
        push = command.local.Command(
            f"{name}-console-image",
            create=PUSH_IMAGE,
            update=PUSH_IMAGE,
            dir=COMMAND_DIR,
            environment={
                "AWS_REGION": self._settings.region,
                "REPOSITORY_URL": repository.repository_url,
                "LOCAL_IMAGE": console_image.local_name(),
                "IMAGE_TAG": console_image.tag(),
            },
            triggers=[console_image.tag()],
            logging=command.local.Logging.STDERR,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=SECRET_OUTPUTS),
        )
        return repository, push

    def _execution_role(self, secret_arns: list[pulumi.Output[str]], kms_key_arn: pulumi.Input[str]) -> aws.iam.Role:
        """What ECS itself uses to start a task: pull the image, write its logs, read its two secrets."""
        name, child = self._name, self._child
        role = aws.iam.Role(
            f"{name}-console-exec",
            name_prefix=naming.prefix(naming.IAM_ROLE, name, "console"),
            assume_role_policy=ECS_TRUST_POLICY,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-console-exec-managed", role=role.name, policy_arn=EXECUTION_POLICY_ARN, opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-console-exec-secrets",
            name_prefix=naming.prefix(naming.IAM_ROLE_POLICY, "read-secrets"),
            role=role.id,
            policy=pulumi.Output.all(kms_key_arn, *secret_arns).apply(
                lambda arns: secret_reader_policy(list(arns[1:]), arns[0], self._settings.region)
            ),
            opts=child,
        )
        return role

    def _alarms(
        self, balancer: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup, topic_arn: pulumi.Input[str]
    ) -> dict[str, aws.cloudwatch.MetricAlarm]:
        name, settings, child = self._name, self._settings, self._child
        balancer_dimension = {"LoadBalancer": balancer.arn_suffix}

        def count(query_id: str, metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=query_id,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace="AWS/ApplicationELB",
                    metric_name=metric,
                    dimensions=balancer_dimension,
                    stat="Sum",
                    period=300,
                ),
            )

        errors = aws.cloudwatch.MetricAlarm(
            f"{name}-console-5xx",
            name=f"{name}-console-5xx",
            alarm_description=(
                f"The console answered {settings.console_server_errors_threshold} or more 5xx responses (its own "
                "and the load balancer's) in 5 minutes. Runbook: docs/runbook.md, section console-5xx."
            ),
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e1", expression="FILL(m1, 0) + FILL(m2, 0)", label="5xx answers", return_data=True
                ),
                count("m1", "HTTPCode_ELB_5XX_Count"),
                count("m2", "HTTPCode_Target_5XX_Count"),
            ],
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=settings.console_server_errors_threshold,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            opts=child,
        )
        unhealthy = aws.cloudwatch.MetricAlarm(
            f"{name}-console-unhealthy",
            name=f"{name}-console-unhealthy",
            alarm_description=(
                f"A console task failed its health check ({HEALTH_PATH}) for 3 minutes. "
                "Runbook: docs/runbook.md, section console-unhealthy."
            ),
            namespace="AWS/ApplicationELB",
            metric_name="UnHealthyHostCount",
            dimensions={"LoadBalancer": balancer.arn_suffix, "TargetGroup": target_group.arn_suffix},
            statistic="Maximum",
            period=60,
            evaluation_periods=3,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            opts=child,
        )
        return {"console-5xx": errors, "console-unhealthy": unhealthy}

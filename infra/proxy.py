"""Proxy: RDS Proxy in front of the database (TLS required, pooling from the stack settings). It knows the agent's
own role and, where the console runs, the console's login (their secrets are the only ones its IAM role may read):
the master user cannot log in through the proxy, and so not over the Private Link; migrations reach the instance
through the SSM tunnel instead.
Its CloudWatch metrics feed the pool-use alarm."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import StackSettings
from infra.database import Database
from infra.network import security_group


def secret_reader_policy(secret_arns: list[str], kms_key_arn: str, region: str) -> str:
    """Read the proxy's own secrets only, and decrypt with their key only through Secrets Manager."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": secret_arns,
                },
                {
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt"],
                    "Resource": [kms_key_arn],
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
                },
            ],
        }
    )


RDS_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


class Proxy(pulumi.ComponentResource):
    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        database: Database,
        vpc_id: pulumi.Input[str],
        subnet_ids: pulumi.Input[list[str]],
        console_secret_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`console_secret_arn`: the staff console's login (infra/console.py), where the console runs."""
        super().__init__("hospital:infra:Proxy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-proxy-role",
            name_prefix=naming.prefix(naming.IAM_ROLE, name, "proxy"),
            assume_role_policy=RDS_TRUST_POLICY,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-proxy-read-secret",
            name_prefix=naming.prefix(naming.IAM_ROLE_POLICY, "read-secrets"),
            role=role.id,
            policy=pulumi.Output.all(database.kms_key_arn, database.app_secret_arn, console_secret_arn).apply(
                lambda arns: secret_reader_policy([arn for arn in arns[1:] if arn], arns[0], settings.region)
            ),
            opts=child,
        )
        group = security_group(
            name, "proxy", vpc_id=vpc_id, description="RDS Proxy: from the NLB, to PostgreSQL", opts=child
        )
        database.allow_from(f"{name}-proxy", group, "PostgreSQL from RDS Proxy", client_opts=child)
        proxy = aws.rds.Proxy(
            f"{name}-proxy",
            name=name,
            engine_family="POSTGRESQL",
            role_arn=role.arn,
            vpc_subnet_ids=subnet_ids,
            vpc_security_group_ids=[group.id],
            require_tls=True,
            # Debug logs would carry SQL text, and with it patient data.
            debug_logging=False,
            idle_client_timeout=settings.proxy_idle_client_timeout_seconds,
            auths=[
                aws.rds.ProxyAuthArgs(
                    auth_scheme="SECRETS",
                    secret_arn=database.app_secret_arn,
                    iam_auth="DISABLED",
                    client_password_auth_type="POSTGRES_SCRAM_SHA_256",  # noqa: S106 (a mode, not a password)
                    description="The agent's role",
                ),
                *(
                    [
                        aws.rds.ProxyAuthArgs(
                            auth_scheme="SECRETS",
                            secret_arn=console_secret_arn,
                            iam_auth="DISABLED",
                            client_password_auth_type="POSTGRES_SCRAM_SHA_256",  # noqa: S106 (a mode)
                            description="The staff console's login",
                        )
                    ]
                    if console_secret_arn is not None
                    else []
                ),
            ],
            opts=child,
        )
        target_group = aws.rds.ProxyDefaultTargetGroup(
            f"{name}-proxy-pool",
            db_proxy_name=proxy.name,
            connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
                max_connections_percent=settings.proxy_max_connections_percent,
                max_idle_connections_percent=settings.proxy_max_idle_connections_percent,
                connection_borrow_timeout=settings.proxy_connection_borrow_timeout_seconds,
            ),
            opts=child,
        )
        aws.rds.ProxyTarget(
            f"{name}-proxy-target",
            db_proxy_name=proxy.name,
            target_group_name=target_group.name,
            db_instance_identifier=database.instance.identifier,
            opts=child,
        )
        self.name = proxy.name
        self.endpoint = proxy.endpoint
        self.security_group_id = group.id
        self.register_outputs({"name": self.name, "endpoint": self.endpoint})

"""Database: RDS PostgreSQL 16, encrypted with its own KMS key, TLS forced, master password kept by RDS in
Secrets Manager, daily automated backups, logs to CloudWatch. Public only in `public` mode, and then only
from the listed CIDRs."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra import naming
from infra.config import StackSettings
from infra.network import allow_tcp, security_group

POSTGRES_PORT = 5432
ENGINE_VERSION = "16"
PARAMETER_FAMILY = "postgres16"
CA_CERT = "rds-ca-rsa2048-g1"
# Log types exported to CloudWatch Logs (RDS for PostgreSQL publishes these two).
LOG_EXPORTS = ("postgresql", "upgrade")

# Server parameters: TLS only (1.2+), useful logs, and never a bind value in a log line (they carry PHI).
PARAMETERS = {
    "rds.force_ssl": "1",
    "ssl_min_protocol_version": "TLSv1.2",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_lock_waits": "1",
    "log_min_duration_statement": "500",
    "log_statement": "ddl",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
    "log_autovacuum_min_duration": "1000",
    "log_temp_files": "10240",
}


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    identifier: str
    master_secret_arn: pulumi.Output[str]
    app_secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        vpc_id: pulumi.Input[str],
        subnet_ids: pulumi.Input[list[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.identifier = name
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: database storage, snapshots, Performance Insights and secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{name}", target_key_id=key.key_id, opts=child)
        self.security_group = security_group(
            name,
            "db",
            vpc_id=vpc_id,
            description="PostgreSQL: inbound only from the rules attached to this group",
            opts=child,
        )
        if settings.db_access_mode == "public":
            for index, cidr in enumerate(settings.allowed_cidrs):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-db-from-cidr-{index}",
                    security_group_id=self.security_group.id,
                    ip_protocol="tcp",
                    from_port=POSTGRES_PORT,
                    to_port=POSTGRES_PORT,
                    cidr_ipv4=str(cidr),
                    description="PostgreSQL from an allowed network (public mode)",
                    opts=child,
                )
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name_prefix=naming.prefix(naming.RDS_SUBNET_GROUP, name, "db"),
            subnet_ids=subnet_ids,
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            name_prefix=naming.prefix(naming.RDS_PARAMETER_GROUP, name, "db"),
            family=PARAMETER_FAMILY,
            description=f"{name}: TLS only, logging without bind values",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=key_, value=value, apply_method="immediate")
                for key_, value in PARAMETERS.items()
            ],
            opts=child,
        )
        # RDS writes each exported log type to /aws/rds/instance/<id>/<type> and creates a missing group without
        # retention: create every one first, with the stack's retention.
        logs = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log_type}-logs",
                name=f"/aws/rds/instance/{name}/{log_type}",
                retention_in_days=settings.log_retention_days,
                opts=child,
            )
            for log_type in LOG_EXPORTS
        ]
        prod = settings.app_env == "prod"
        self.instance = aws.rds.Instance(
            f"{name}-db",
            identifier=name,
            engine="postgres",
            engine_version=ENGINE_VERSION,
            instance_class=settings.db_instance_class,
            allocated_storage=settings.db_allocated_storage_gb,
            max_allocated_storage=settings.db_max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_name=settings.db_name,
            username=settings.db_master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
            port=POSTGRES_PORT,
            parameter_group_name=parameters.name,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            publicly_accessible=settings.db_access_mode == "public",
            multi_az=settings.db_multi_az,
            backup_retention_period=settings.backup_retention_days,
            backup_window=settings.backup_window,
            maintenance_window=settings.maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=not prod,
            deletion_protection=settings.deletion_protection,
            skip_final_snapshot=not settings.final_snapshot,
            final_snapshot_identifier=f"{name}-final" if settings.final_snapshot else None,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            apply_immediately=not prod,
            ca_cert_identifier=CA_CERT,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.arn,
            performance_insights_retention_period=7,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            # Read by the policy pack: public access is allowed only to a dev database in public mode.
            tags={"Environment": settings.app_env, "AccessMode": settings.db_access_mode},
            opts=pulumi.ResourceOptions(parent=self, depends_on=logs),
        )
        self.address = self.instance.address
        self.port = self.instance.port
        self.master_secret_arn = self.instance.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        self.kms_key_arn = key.arn
        self.security_group_id = self.security_group.id
        self.app_secret_arn = self._app_user_secret(name, settings, key.arn)
        self.register_outputs({"address": self.address, "masterSecretArn": self.master_secret_arn})

    def _app_user_secret(
        self, name: str, settings: StackSettings, kms_key_arn: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """The agent's own role (created by migrate.sh): a password RDS does not rotate, in the JSON shape
        RDS Proxy reads. Letters and digits only, 40 of them (about 238 bits), so it needs no URL quoting."""
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-app-db-password", length=40, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-app-db-user",
            name=f"{name}/database-app-user",
            description="The agent's database role (DML only); RDS Proxy authenticates it",
            kms_key_id=kms_key_arn,
            recovery_window_in_days=7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-app-db-user-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(password.result).apply(
                lambda value: json.dumps({"username": settings.db_app_username, "password": value})
            ),
            opts=child,
        )
        return secret.arn

    def allow_from(
        self,
        client: str,
        client_group: aws.ec2.SecurityGroup,
        why: str,
        *,
        client_opts: pulumi.ResourceOptions,
    ) -> None:
        """Open PostgreSQL from one security group (proxy, tunnel host), and nothing else: both ends of the path.

        `client` names the rules (`<client>-to-db` on the client's side, `<db>-from-<client>` here); the client's
        egress rule stays under the client's component (`client_opts`).
        """
        prefix, _, role = client.rpartition("-")
        allow_tcp(
            POSTGRES_PORT,
            egress=(f"{client}-to-db", client_group.id, "To the hospital database (PostgreSQL)"),
            ingress=(f"{prefix}-db-from-{role}", self.security_group.id, why),
            opts=client_opts,
            ingress_opts=pulumi.ResourceOptions(parent=self),
        )

"""Deploy: (1) migrate, verify (and seed outside prod) the database, then (2) `lk agent deploy` the worker.

Both are `pulumi_command.local.Command`s running the scripts in infra/scripts/ from the repository root. They
run when their triggers change (hashes of migrations/ and agent/, the secrets' versions), the agent only
after the migrations succeeded, and a failing script fails `pulumi up` with its output. Their environment
carries ARNs and names only: the scripts read secret values from Secrets Manager themselves, so no secret
enters the command text, Pulumi's state or the logs (stdout and stderr are still kept secret, in case).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_command as command

from infra.config import StackSettings
from infra.database import Database

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where the commands run, relative to the command provider's working directory: Pulumi starts providers in the
# program's folder, infra/ (`main: infra/`; pulumi/pulumi's getPwdMain and newPlugin(ctx, ctx.Pwd, ...)). The same
# on every machine, so a checkout at another path (a laptop, a CI runner) changes no input and re-runs nothing.
COMMAND_DIR = ".."
SCRIPTS = Path("infra") / "scripts"
MIGRATE = f"bash {SCRIPTS / 'migrate.sh'}"
DEPLOY_AGENT = f"bash {SCRIPTS / 'deploy_agent.sh'}"
SECRET_OUTPUTS = ["stdout", "stderr"]
IMAGE_INPUTS = ("Dockerfile", "requirements.txt", "constraints.txt")


def tree_hash(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes (caches excluded), stable across machines."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


class Deploy(pulumi.ComponentResource):
    migrations: command.local.Command
    agent: command.local.Command | None

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        database: Database,
        tunnel_instance_id: pulumi.Input[str] | None,
        agent_database_host: pulumi.Input[str] | None,
        agent_database_tls_name: pulumi.Input[str] | None,
        secret_arns: dict[str, pulumi.Output[str]],
        secret_versions: list[pulumi.Output[str]],
        console_db_secret_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:Deploy", name, None, opts)
        migrations_hash = tree_hash(REPO_ROOT / "migrations")
        agent_hash = tree_hash(REPO_ROOT / "agent")
        # The image changes with its recipe and pins too, not only with the agent's code.
        image_hash = hashlib.sha256(b"".join((REPO_ROOT / name).read_bytes() for name in IMAGE_INPUTS)).hexdigest()
        environment = {
            "APP_ENV": settings.app_env,
            "AWS_REGION": settings.region,
            "DB_HOST": database.address,
            "DB_PORT": database.port.apply(str),
            "DB_NAME": settings.db_name,
            "DB_SECRET_ARN": database.master_secret_arn,
            "APP_DB_SECRET_ARN": database.app_secret_arn,
            "SEED": "1" if settings.seed_data else "0",
            "DATABASE_CA_BUNDLE_URL": settings.database_ca_bundle_url,
        }
        if tunnel_instance_id is not None:
            environment["TUNNEL_INSTANCE_ID"] = tunnel_instance_id
        if console_db_secret_arn is not None:
            environment["CONSOLE_DB_SECRET_ARN"] = console_db_secret_arn
        self.migrations = command.local.Command(
            f"{name}-migrate",
            create=MIGRATE,
            update=MIGRATE,
            dir=COMMAND_DIR,
            environment=environment,
            triggers=[migrations_hash, agent_hash],
            logging=command.local.Logging.STDERR,
            opts=pulumi.ResourceOptions(
                parent=self, additional_secret_outputs=SECRET_OUTPUTS, depends_on=[database.instance]
            ),
        )
        self.agent = None
        if agent_database_host is None:
            self.register_outputs({})
            return
        agent_settings = {
            "APP_ENV": settings.app_env,
            "AGENT_NAME": settings.agent_name,
            "METRICS_NAMESPACE": settings.metrics_namespace,
            "METRICS_AWS_REGION": settings.region,
            "DATABASE_CA_FILE": settings.agent_database_ca_file,
            "SESSION_RECORDING": settings.session_recording,
            **settings.hospital_hours,
        }
        self.agent = command.local.Command(
            f"{name}-agent",
            create=DEPLOY_AGENT,
            update=DEPLOY_AGENT,
            dir=COMMAND_DIR,
            environment={
                "AWS_REGION": settings.region,
                "LIVEKIT_URL": settings.livekit_url,
                "SECRET_ARNS": pulumi.Output.all(**secret_arns).apply(lambda arns: json.dumps(arns, sort_keys=True)),
                "APP_DB_SECRET_ARN": database.app_secret_arn,
                "DATABASE_HOST": agent_database_host,
                "DATABASE_PORT": database.port.apply(str),
                "DB_NAME": settings.db_name,
                "AGENT_SETTINGS": pulumi.Output.from_input(agent_database_tls_name).apply(
                    lambda tls_name: json.dumps(
                        {**agent_settings, **({"DATABASE_TLS_SERVER_NAME": tls_name} if tls_name else {})},
                        sort_keys=True,
                    )
                ),
            },
            triggers=[migrations_hash, agent_hash, image_hash, *secret_versions],
            logging=command.local.Logging.STDERR,
            opts=pulumi.ResourceOptions(
                parent=self, additional_secret_outputs=SECRET_OUTPUTS, depends_on=[self.migrations]
            ),
        )
        self.register_outputs({})

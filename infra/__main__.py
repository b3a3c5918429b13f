"""The Pulumi program: read the stack settings once, wire one component per concern, export the outputs.

Pulumi runs it with infra/ as the working directory; `infra.*` imports because the project is installed into
the virtualenv (`pip install -e .`, by `make` and the pipeline's setup-program action)."""

import pulumi
import pulumi_aws as aws

from infra import config, costs, secret_store
from infra.console import Console, ConsoleLogin
from infra.database import Database
from infra.deploy import Deploy
from infra.log_drain import LogDrain
from infra.monitoring import Monitoring
from infra.network import Network
from infra.phone_line import PhoneLine
from infra.private_link import PrivateLink, next_step
from infra.proxy import Proxy
from infra.tunnel import MigrationTunnel

settings = config.load(secret_store.FORBIDDEN_CONFIG_KEYS)
name = f"{config.PROJECT}-{pulumi.get_stack()}"
provider = aws.Provider(
    "aws",
    region=settings.region,
    default_tags=aws.ProviderDefaultTagsArgs(
        tags={"Project": config.PROJECT, "Environment": settings.app_env, "ManagedBy": "pulumi"}
    ),
)
opts = pulumi.ResourceOptions(providers=[provider])

network = Network(name, settings, opts=opts)
database_subnets = network.private_subnet_ids if settings.private_link else network.public_subnet_ids
database = Database(name, settings=settings, vpc_id=network.vpc_id, subnet_ids=database_subnets, opts=opts)

proxy = tunnel = link = None
console_login = (
    ConsoleLogin(name, settings=settings, kms_key_arn=database.kms_key_arn, opts=opts)
    if settings.console_enabled
    else None
)
if settings.private_link:
    proxy = Proxy(
        name,
        settings=settings,
        database=database,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        console_secret_arn=console_login.secret_arn if console_login else None,
        opts=opts,
    )

monitoring = Monitoring(name, settings=settings, proxy_name=proxy.name if proxy else None, opts=opts)
if settings.private_link:
    link = PrivateLink(
        name,
        settings=settings,
        vpc_id=network.vpc_id,
        vpc_cidr=network.vpc_cidr,
        subnet_ids=network.private_subnet_ids,
        proxy_endpoint=proxy.endpoint,
        proxy_security_group_id=proxy.security_group_id,
        alert_topic_arn=monitoring.topic_arn,
        opts=opts,
    )
    tunnel = MigrationTunnel(
        name,
        settings=settings,
        database=database,
        vpc_id=network.vpc_id,
        subnet_id=network.public_subnet_ids[0],
        opts=opts,
    )

generated_secrets = {
    "METRICS_AWS_ACCESS_KEY_ID": monitoring.access_key_id,
    "METRICS_AWS_SECRET_ACCESS_KEY": monitoring.secret_access_key,
}
# Where the agent runs on LiveKit Cloud, its log drain forwards every replica's output to CloudWatch Logs.
log_drain = (
    LogDrain(name, settings=settings, alert_topic_arn=monitoring.topic_arn, opts=opts)
    if settings.deploy_agent
    else None
)
if log_drain is not None:
    generated_secrets |= {
        "AWS_ACCESS_KEY_ID": log_drain.access_key_id,
        "AWS_SECRET_ACCESS_KEY": log_drain.secret_access_key,
    }
agent_secrets = secret_store.AgentSecrets(
    name,
    kms_key_arn=database.kms_key_arn,
    generated=generated_secrets,
    recovery_window_days=30 if settings.app_env == "prod" else 7,
    opts=opts,
)

phone_line = (
    PhoneLine(
        name, settings=settings, kms_key_arn=database.kms_key_arn, alert_topic_arn=monitoring.topic_arn, opts=opts
    )
    if settings.phone_line != "off"
    else None
)

# Where the deployed agent reaches the database: the Private Link's *.link name (known once
# `lk agent private-link create` ran) in front of the proxy, or the database itself in public mode.
if not settings.deploy_agent:
    agent_host = agent_tls_name = None
elif settings.private_link:
    agent_host, agent_tls_name = settings.private_link_host, proxy.endpoint if settings.private_link_host else None
else:
    agent_host, agent_tls_name = database.address, None
deploy = Deploy(
    name,
    settings=settings,
    database=database,
    tunnel_instance_id=tunnel.instance_id if tunnel else None,
    agent_database_host=agent_host,
    agent_database_tls_name=agent_tls_name,
    secret_arns=agent_secrets.arns,
    secret_versions=agent_secrets.versions,
    console_db_secret_arn=console_login.secret_arn if console_login else None,
    opts=opts,
)
console = (
    Console(
        name,
        settings=settings,
        login=console_login,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        proxy_endpoint=proxy.endpoint,
        proxy_security_group_id=proxy.security_group_id,
        kms_key_arn=database.kms_key_arn,
        alert_topic_arn=monitoring.topic_arn,
        database_ready=deploy.migrations,
        opts=opts,
    )
    if console_login
    else None
)

pulumi.export("region", settings.region)
pulumi.export("databaseAddress", database.address)
pulumi.export("databaseMasterSecretArn", database.master_secret_arn)
pulumi.export("proxyEndpoint", proxy.endpoint if proxy else None)
pulumi.export("privateLinkServiceName", link.service_name if link else None)
pulumi.export("tunnelInstanceId", tunnel.instance_id if tunnel else None)
pulumi.export("alertTopicArn", monitoring.topic_arn)
pulumi.export("dashboardName", monitoring.dashboard_name)
pulumi.export("agentSecretArns", agent_secrets.arns)
pulumi.export("agentLogGroup", log_drain.log_group_name if log_drain else None)
pulumi.export("phoneNumbers", list(settings.phone_numbers))
pulumi.export("sipTrunkId", phone_line.trunk_id if phone_line else None)
pulumi.export("sipDispatchRuleId", phone_line.dispatch_rule_id if phone_line else None)
pulumi.export("agentDeployed", deploy.agent is not None)
pulumi.export(
    "nextStep",
    pulumi.Output.all(link.service_name, link.service_id).apply(
        lambda service: next_step(settings, pulumi.get_stack(), name, *service)
    )
    if link
    else None,
)
pulumi.export("consoleUrl", console.url if console else None)
pulumi.export("consoleLoadBalancerDns", console.load_balancer_dns if console else None)
pulumi.export("consoleUserPoolId", console.user_pool_id if console else None)
pulumi.export("consoleCertificateValidation", console.certificate_validation if console else None)
pulumi.export("costEstimate", costs.estimate(settings))

"""Monitoring: alert topic with the operator's e-mail, the alarms the requirements name, one dashboard, and
the IAM user the agent publishes its metrics with (PutMetricData into our namespace, nothing else)."""

from __future__ import annotations

import json
import math

import pulumi
import pulumi_aws as aws

from agent.metrics import METRIC_UNITS
from infra import naming
from infra.config import StackSettings

# What the agent publishes (namespace from settings; dimensions Environment and Agent), named once in the agent.
AGENT_METRICS = METRIC_UNITS
PROXY_NAMESPACE = "AWS/RDS"
PROXY_METRICS = ("DatabaseConnectionsCurrentlyBorrowed", "MaxDatabaseConnectionsAllowed")
# RDS publishes proxy metrics once per proxy node; a proxy's value is the Sum across its nodes (RDS User Guide,
# "Monitoring RDS Proxy metrics with Amazon CloudWatch"). The alarm and the dashboard both use this one definition.
PROXY_POOL_STAT = "Sum"
PROXY_POOL_PERIOD = 60
PROXY_POOL_OPTIONS = {"stat": PROXY_POOL_STAT, "period": PROXY_POOL_PERIOD}
PROXY_POOL_QUERIES = (("m1", PROXY_METRICS[0]), ("m2", PROXY_METRICS[1]))
MINUTES_PER_DAY = 1440
LATENCY_PERIOD = 300
UPTIME_EXPRESSION = "IF(FILL(m1, 0) >= 1, 1, 0)"
POOL_EXPRESSION = "100 * m1 / m2"
# A provider that fails calls in two of three 5-minute windows is down or flapping, not a passing blip (each call
# process switches at most once per provider while it stays down, so the count is about calls affected).
FALLBACK_PERIOD = 300
FALLBACK_WINDOWS = (3, 2)
ERROR_RATE_EXPRESSION = "IF(FILL(m2, 0) > 0, 100 * FILL(m1, 0) / m2, IF(FILL(m1, 0) > 0, 100, 0))"


def allowed_down_minutes(uptime_target_percent: float) -> int:
    """Whole minutes a day may miss heartbeats before uptime falls below the target (99 % -> 14)."""
    return math.floor(MINUTES_PER_DAY * (100 - uptime_target_percent) / 100 + 1e-9)


def metrics_publisher_policy(namespace: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "cloudwatch:PutMetricData",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
                }
            ],
        }
    )


def dashboard_body(settings: StackSettings, proxy_name: str | None) -> str:
    """CloudWatch dashboard JSON: uptime, latency, error rate and pool use."""
    ns, dims = settings.metrics_namespace, ["Environment", settings.app_env, "Agent", settings.agent_name]

    def agent(metric: str, **options: object) -> list[object]:
        return [ns, metric, *dims, options] if options else [ns, metric, *dims]

    def widget(title: str, metrics: list[list[object]], y: int, x: int, **extra: object) -> dict[str, object]:
        properties = {"title": title, "region": settings.region, "view": "timeSeries", "metrics": metrics, **extra}
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": properties}

    latency = [
        agent(name, stat="p95", label=f"{name} p95")
        for name in ("TurnE2ELatency", "AgentProcessingLatency", "EndOfTurnDelay", "TranscriptionDelay")
    ] + [
        agent(name, stat="p95", label=f"{name} p95")
        for name in ("LLMTimeToFirstToken", "TTSTimeToFirstByte", "ToolLatency", "DatabaseLatency")
    ]
    pool = [agent("PoolUsePercent", stat="Maximum", label="agent pool use %")]
    if proxy_name:
        pool.append([{"expression": POOL_EXPRESSION, "id": "e1", "label": "RDS Proxy pool use %"}])
        pool += [
            [PROXY_NAMESPACE, metric, "ProxyName", proxy_name, {"id": query_id, "visible": False, **PROXY_POOL_OPTIONS}]
            for query_id, metric in PROXY_POOL_QUERIES
        ]
    threshold = {"horizontal": [{"label": "alarm", "value": settings.pool_use_threshold_percent}]}
    widgets = [
        widget(
            "Agent up (1 per minute with a heartbeat)",
            [
                [{"expression": UPTIME_EXPRESSION, "id": "e1", "label": "up"}],
                agent("Heartbeat", stat="Sum", period=60, id="m1", visible=False),
                agent("Heartbeat", stat="Sum", period=60, label="workers reporting"),
            ],
            y=0,
            x=0,
        ),
        widget(
            "Error rate (% of turns)",
            [
                [{"expression": ERROR_RATE_EXPRESSION, "id": "e1", "label": "error rate %"}],
                agent("Errors", stat="Sum", id="m1", visible=False),
                agent("Turns", stat="Sum", id="m2", visible=False),
                agent("Calls", stat="Sum", label="calls"),
            ],
            y=0,
            x=12,
            period=LATENCY_PERIOD,
        ),
        widget(
            "Latency p95 (ms)",
            latency,
            y=6,
            x=0,
            period=LATENCY_PERIOD,
            annotations={
                "horizontal": [
                    {"label": "our budget", "value": settings.agent_processing_p95_ms},
                    {"label": "turn e2e alarm", "value": settings.turn_latency_p95_ms},
                ]
            },
        ),
        widget("Connection pool use (%)", pool, y=6, x=12, period=60, annotations=threshold),
        widget(
            "Provider fallbacks (calls moved to a fallback, recoveries, calls with no voice left)",
            [
                agent("ProviderFallbacks", stat="Sum", label="fallbacks"),
                agent("ProviderRecoveries", stat="Sum", label="recoveries"),
                agent("SpeechOutages", stat="Sum", label="speech outages"),
            ],
            y=12,
            x=0,
            period=FALLBACK_PERIOD,
        ),
    ]
    return json.dumps({"widgets": widgets})


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: StackSettings,
        proxy_name: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hospital:infra:Monitoring", name, None, opts)
        self._name, self._settings = name, settings
        child = pulumi.ResourceOptions(parent=self)
        # Not KMS-encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key, and alarm
        # notifications carry alarm names and numbers only, never patient data.
        topic = aws.sns.Topic(f"{name}-alerts", name_prefix=naming.prefix(naming.SNS_TOPIC, name, "alerts"), opts=child)
        aws.sns.TopicSubscription(
            f"{name}-alerts-email", topic=topic.arn, protocol="email", endpoint=settings.alert_email, opts=child
        )
        self.topic_arn = topic.arn
        self.alarms = {}
        self._agent_alarms()
        if proxy_name is not None:
            self._proxy_pool_alarm(proxy_name)
        body = pulumi.Output.from_input(proxy_name).apply(lambda proxy: dashboard_body(settings, proxy))
        dashboard = aws.cloudwatch.Dashboard(f"{name}-dashboard", dashboard_name=name, dashboard_body=body, opts=child)
        self.dashboard_name = dashboard.dashboard_name
        user = aws.iam.User(f"{name}-metrics-publisher", name=f"{name}-metrics-publisher", opts=child)
        aws.iam.UserPolicy(
            f"{name}-metrics-publisher-policy",
            name_prefix=naming.prefix(naming.IAM_USER_POLICY, "put-metrics"),
            user=user.name,
            policy=metrics_publisher_policy(settings.metrics_namespace),
            opts=child,
        )
        key = aws.iam.AccessKey(f"{name}-metrics-publisher-key", user=user.name, opts=child)
        self.access_key_id = pulumi.Output.secret(key.id)
        self.secret_access_key = key.secret
        self.register_outputs({"topicArn": self.topic_arn, "dashboardName": self.dashboard_name})

    def _dimensions(self) -> dict[str, str]:
        return {"Environment": self._settings.app_env, "Agent": self._settings.agent_name}

    def _alarm(self, key: str, description: str, *, needs_agent: bool = False, **args: object) -> None:
        self.alarms[key] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            name=f"{self._name}-{key}",
            alarm_description=description,
            # A stack that deploys no agent (dev) has no heartbeat: keep those alarms, silence their e-mail.
            actions_enabled=self._settings.deploy_agent or not needs_agent,
            alarm_actions=[self.topic_arn],
            ok_actions=[self.topic_arn],
            opts=pulumi.ResourceOptions(parent=self),
            **args,
        )

    def _agent_query(
        self, query_id: str, metric: str, stat: str, period: int
    ) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
        return aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=query_id,
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=self._settings.metrics_namespace,
                metric_name=metric,
                dimensions=self._dimensions(),
                stat=stat,
                period=period,
            ),
        )

    def _agent_alarms(self) -> None:
        s = self._settings
        ns, dims = s.metrics_namespace, self._dimensions()
        self._alarm(
            "heartbeat-missing",
            f"No agent heartbeat for {s.heartbeat_missed_minutes} minute(s): no worker is running.",
            needs_agent=True,
            namespace=ns,
            metric_name="Heartbeat",
            dimensions=dims,
            statistic="Sum",
            period=60,
            evaluation_periods=s.heartbeat_missed_minutes,
            datapoints_to_alarm=s.heartbeat_missed_minutes,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
        )
        down = allowed_down_minutes(s.uptime_target_percent)
        self._alarm(
            "uptime-24h",
            f"Agent uptime over the last 24 h fell below {s.uptime_target_percent} % "
            f"(more than {down} minutes without a heartbeat).",
            needs_agent=True,
            metric_queries=[
                self._agent_query("m1", "Heartbeat", "Sum", 60),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e1", expression=UPTIME_EXPRESSION, label="agent up this minute", return_data=True
                ),
            ],
            evaluation_periods=MINUTES_PER_DAY,
            datapoints_to_alarm=down + 1,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
        )
        self._alarm(
            "agent-pool-use",
            f"The agent's database pool is more than {s.pool_use_threshold_percent} % in use.",
            namespace=ns,
            metric_name="PoolUsePercent",
            dimensions=dims,
            statistic="Maximum",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison_operator="GreaterThanThreshold",
            threshold=s.pool_use_threshold_percent,
            treat_missing_data="notBreaching",
        )
        for key, metric, threshold, what in (
            ("agent-processing-p95", "AgentProcessingLatency", s.agent_processing_p95_ms, "our own processing"),
            ("turn-e2e-p95", "TurnE2ELatency", s.turn_latency_p95_ms, "whole-turn (end of speech to audio)"),
        ):
            self._alarm(
                key,
                f"p95 of {what} latency above {threshold:g} ms.",
                namespace=ns,
                metric_name=metric,
                dimensions=dims,
                extended_statistic="p95",
                period=LATENCY_PERIOD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator="GreaterThanThreshold",
                threshold=threshold,
                treat_missing_data="notBreaching",
            )
        evaluation_periods, datapoints = FALLBACK_WINDOWS
        self._alarm(
            "provider-fallbacks",
            f"A speech or model provider failed calls in {datapoints} of {evaluation_periods} 5-minute windows; "
            "calls run on its fallback.",
            namespace=ns,
            metric_name="ProviderFallbacks",
            dimensions=dims,
            statistic="Sum",
            period=FALLBACK_PERIOD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
        )
        self._alarm(
            "speech-outage",
            "Every text-to-speech provider failed on a call: callers hear a recorded apology and are handed off.",
            namespace=ns,
            metric_name="SpeechOutages",
            dimensions=dims,
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="notBreaching",
        )
        self._alarm(
            "error-rate",
            f"More than {s.error_rate_threshold_percent:g} % of turns ended in an error.",
            metric_queries=[
                self._agent_query("m1", "Errors", "Sum", LATENCY_PERIOD),
                self._agent_query("m2", "Turns", "Sum", LATENCY_PERIOD),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e1", expression=ERROR_RATE_EXPRESSION, label="error rate %", return_data=True
                ),
            ],
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator="GreaterThanThreshold",
            threshold=s.error_rate_threshold_percent,
            treat_missing_data="notBreaching",
        )

    def _proxy_pool_alarm(self, proxy_name: pulumi.Input[str]) -> None:
        def proxy_query(query_id: str, metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=query_id,
                return_data=False,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=PROXY_NAMESPACE,
                    metric_name=metric,
                    dimensions={"ProxyName": proxy_name},
                    stat=PROXY_POOL_STAT,
                    period=PROXY_POOL_PERIOD,
                ),
            )

        self._alarm(
            "proxy-pool-use",
            f"RDS Proxy has more than {self._settings.pool_use_threshold_percent} % of its database "
            "connections borrowed.",
            metric_queries=[
                *(proxy_query(query_id, metric) for query_id, metric in PROXY_POOL_QUERIES),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="e1", expression=POOL_EXPRESSION, label="proxy pool use %", return_data=True
                ),
            ],
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison_operator="GreaterThanThreshold",
            threshold=self._settings.pool_use_threshold_percent,
            # Proxy metrics appear only after the first connection.
            treat_missing_data="notBreaching",
        )

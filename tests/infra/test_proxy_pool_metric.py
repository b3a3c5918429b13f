"""The RDS Proxy pool-use alarm and the dashboard read the same metrics with the same statistic and expression.

AWS publishes RDS Proxy metrics once per proxy node and aggregates a proxy with a statistic across them
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.monitoring.html): Sum for both metrics.
"""

from __future__ import annotations

import json

import pytest

from infra.monitoring import PROXY_METRICS
from tests.infra.harness import Run

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _alarm_definition(run: Run) -> tuple[str, dict[str, tuple[str, str, int]]]:
    alarm = next(r.inputs for r in run.of_type(ALARM) if r.inputs["name"].endswith("-proxy-pool-use"))
    queries = alarm["metricQueries"]
    expression = next(q["expression"] for q in queries if q.get("returnData"))
    metrics = {
        q["id"]: (q["metric"]["metricName"], q["metric"]["stat"], q["metric"]["period"])
        for q in queries
        if "metric" in q
    }
    return expression, metrics


def _dashboard_definition(run: Run) -> tuple[str, dict[str, tuple[str, str, int]]]:
    body = json.loads(run.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    widget = next(w for w in body["widgets"] if "pool" in w["properties"]["title"].lower())
    lines = widget["properties"]["metrics"]
    expression = next(line[0]["expression"] for line in lines if isinstance(line[0], dict))
    metrics = {}
    for line in lines:
        if line[0] == "AWS/RDS":
            options = line[-1]
            metrics[options["id"]] = (line[1], options.get("stat", "Average"), options.get("period", 300))
    return expression, metrics


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_alarm_and_dashboard_use_one_pool_definition(stack_runs: dict[str, Run], stack: str) -> None:
    run = stack_runs[stack]
    alarm = _alarm_definition(run)
    dashboard = _dashboard_definition(run)
    assert alarm == dashboard
    expression, metrics = alarm
    assert expression == "100 * m1 / m2"
    assert {name for name, _, _ in metrics.values()} == set(PROXY_METRICS)
    assert {stat for _, stat, _ in metrics.values()} == {"Sum"}, "a proxy's value is the Sum across its nodes"

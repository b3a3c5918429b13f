"""Cost estimates: every component priced, dev < staging < prod, sizing changes the figure, CLI works."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra import costs
from infra.config import INSTANCE_CLASSES
from tests.infra.harness import ROOT

COMPONENTS = {
    "rds_instance",
    "rds_storage",
    "rds_backups",
    "rds_proxy",
    "nlb",
    "ssm_tunnel_host",
    "secrets_manager",
    "kms",
    "cloudwatch_alarms",
    "cloudwatch_dashboard",
    "cloudwatch_metrics",
    "cloudwatch_logs",
    "livekit_plan",
}


def _settings(stack: str, **changes: object):
    base = costs.settings_from_stack_file(costs.stack_file(stack))
    return base.model_copy(update=changes) if changes else base


def test_every_component_is_priced() -> None:
    staging = costs.estimate(_settings("staging"))
    assert set(staging["monthly"]) == COMPONENTS
    assert all(value > 0 for value in staging["monthly"].values()), staging["monthly"]
    assert set(staging["per_call_minute"]) == {"livekit_agent_minutes", "deepgram", "openai", "cartesia"}
    assert all(value > 0 for value in staging["per_call_minute"].values())
    assert staging["monthly_total"] == pytest.approx(sum(staging["monthly"].values()), abs=0.02)


def test_dev_is_cheaper_than_staging_cheaper_than_prod() -> None:
    totals = [costs.estimate(_settings(s))["monthly_total"] for s in ("dev", "staging", "prod")]
    assert totals[0] < totals[1] < totals[2]
    dev = costs.estimate(_settings("dev"))["monthly"]
    assert dev["rds_proxy"] == dev["nlb"] == dev["ssm_tunnel_host"] == 0, "dev runs without proxy and link"


def test_instance_class_and_multi_az_change_the_estimate() -> None:
    base = costs.estimate(_settings("staging"))["monthly"]["rds_instance"]
    bigger = costs.estimate(_settings("staging", db_instance_class="db.m7g.large"))["monthly"]["rds_instance"]
    doubled = costs.estimate(_settings("staging", db_multi_az=True))["monthly"]["rds_instance"]
    assert bigger > base
    assert doubled == pytest.approx(2 * base)
    assert base == pytest.approx(0.032 * 730, abs=0.01)


def test_usage_follows_call_minutes() -> None:
    few = costs.estimate(_settings("staging", expected_call_minutes_per_month=100))
    many = costs.estimate(_settings("staging", expected_call_minutes_per_month=10_000))
    assert many["usage_monthly"] > few["usage_monthly"]
    per_minute = many["per_call_minute"]
    provider_share = per_minute["deepgram"] + per_minute["openai"] + per_minute["cartesia"]
    overage = (10_000 - costs.PLAN_MINUTES["ship"]) * per_minute["livekit_agent_minutes"]
    assert many["usage_monthly"] == pytest.approx(10_000 * provider_share + overage, abs=0.05)


def test_every_price_has_source_and_date_and_every_class_a_price() -> None:
    for key, price in costs.PRICES.items():
        assert all((price.source, price.date, price.unit)), key
    for name in INSTANCE_CLASSES:
        assert f"rds.{name}" in costs.PRICES


def test_platform_estimates() -> None:
    platforms = {p["platform"]: p for p in costs.platform_estimates()}
    assert set(platforms) == {"LiveKit Cloud Agents", "Fly.io", "Render", "Railway"}
    for platform in platforms.values():
        assert platform["monthly_usd"] >= 0
        assert all(key in costs.PRICES for key in platform["price_keys"])
    assert platforms["Railway"]["monthly_usd"] == 40.0


def test_cli_prints_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.costs", "--stack", "prod", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(result.stdout)
    assert document["stack"] == "prod"
    assert document["monthly"]["rds_instance"] == pytest.approx(0.065 * 730 * 2, abs=0.01)
    assert set(document["prices"]) == set(costs.PRICES)
    assert len(document["platforms"]) == 4


def test_cli_table_and_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert costs.main(["--stack", "dev"]) == 0
    table = capsys.readouterr().out
    assert "rds_instance" in table
    assert "Total per month" in table
    assert costs.main(["--stack", "nope"]) == 2
    assert "Pulumi.nope.yaml not found" in capsys.readouterr().err

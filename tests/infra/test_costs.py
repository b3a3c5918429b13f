"""Cost estimates: the prices of shared/PRICES.md, counts that match what the program declares, plans whose fee
is a minimum, and a printed estimate that adds up (fixed + usage - included = total)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from infra import costs
from infra.config import INSTANCE_CLASSES, SettingsError, parse
from tests.infra.harness import OPERATOR_VALUES, ROOT, Run, stack_values

STACKS = ("dev", "staging", "prod")
SECTIONS = ("fixed", "usage", "included")


def _settings(stack: str, **changes: object):
    base = costs.settings_from_stack_file(costs.stack_file(stack))
    return base.model_copy(update=changes) if changes else base


def _lines(result: dict, price_prefix: str, section: str | None = None) -> list[dict]:
    return [
        line
        for line in result["lines"]
        if str(line["price"]).startswith(price_prefix) and (section is None or line["section"] == section)
    ]


def _net(result: dict, price_prefix: str) -> float:
    """What a provider costs in the estimate: its plan fee, usage and included lines together."""
    return round(sum(line["usd"] for line in _lines(result, price_prefix)), 2)


def _quantity(result: dict, price: str) -> float:
    found = [line["quantity"] for line in result["lines"] if line["price"] == price]
    return sum(found)


# The known-wrong items of issue 11, each against shared/PRICES.md (2026-12-02).


def test_prod_is_on_the_livekit_plan_that_comes_with_the_baa() -> None:
    assert _settings("prod").livekit_plan == "scale"
    with pytest.raises(SettingsError, match=r"livekitPlan must be 'scale' in prod.*BAA"):
        parse({**stack_values("prod"), **OPERATOR_VALUES, "livekitPlan": "ship"})


def test_the_scale_plan_includes_50000_agent_minutes() -> None:
    assert costs.PRICES["livekit.plan.scale"].included == 50_000
    within = costs.estimate(_settings("prod", expected_call_minutes_per_month=50_000))
    beyond = costs.estimate(_settings("prod", expected_call_minutes_per_month=60_000))
    assert _net(within, "livekit.") == 500.00, "50,000 minutes are paid by the plan fee"
    assert _net(beyond, "livekit.") == pytest.approx(500 + 10_000 * 0.01)


def test_deepgram_nova3_streaming_is_the_pay_as_you_go_price() -> None:
    assert costs.PRICES["deepgram.nova3_streaming"].usd == 0.0077
    result = costs.estimate(_settings("staging", expected_call_minutes_per_month=1_000))
    assert _net(result, "deepgram.") == pytest.approx(7.70)


@pytest.mark.parametrize(
    ("plan", "fee", "credits"), [("pro", 5, 100_000), ("startup", 49, 1_250_000), ("scale", 299, 8_000_000)]
)
def test_a_cartesia_plan_fee_is_a_minimum(plan: str, fee: float, credits: int) -> None:
    price = costs.PRICES[f"cartesia.plan.{plan}"]
    assert (price.usd, price.included) == (fee, credits)
    quiet = costs.estimate(_settings("staging", cartesia_plan=plan, expected_call_minutes_per_month=10))
    assert _net(quiet, "cartesia.") == fee, "a quiet month still pays the whole plan fee"
    credits_per_minute = 60 * costs.AGENT_SPEAKING_SHARE * costs.CHARACTERS_PER_SECOND
    minutes = round(2 * credits / credits_per_minute)
    busy = costs.estimate(_settings("staging", cartesia_plan=plan, expected_call_minutes_per_month=minutes))
    used = minutes * credits_per_minute
    assert _net(busy, "cartesia.") == pytest.approx(max(fee, used * fee / credits), abs=0.01)


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_is_on_the_smallest_cartesia_plan_that_covers_its_calls(stack: str) -> None:
    settings = _settings(stack)
    credits = settings.expected_call_minutes_per_month * 60 * costs.AGENT_SPEAKING_SHARE * costs.CHARACTERS_PER_SECOND
    plans = {key.rsplit(".", 1)[1]: price for key, price in costs.PRICES.items() if key.startswith("cartesia.plan.")}
    covering = [plan for plan, price in plans.items() if price.included >= credits]
    assert settings.cartesia_plan == min(covering, key=lambda plan: plans[plan].usd), credits


def test_public_ipv4_addresses_are_priced() -> None:
    assert costs.PRICES["ec2.public_ipv4"].usd == 0.005
    # dev: the public database; staging, prod: the tunnel host, the console's load balancer in two zones and one
    # address per console task (staging runs one, prod two).
    expected = {"dev": 1, "staging": 1 + 2 + 1, "prod": 1 + 2 + 2}
    for stack in STACKS:
        result = costs.estimate(_settings(stack))
        (line,) = _lines(result, "ec2.public_ipv4")
        assert line["quantity"] == 730 * expected[stack], stack
        assert line["usd"] == round(3.65 * expected[stack], 2)


def test_kms_key_rotation_is_priced() -> None:
    result = costs.estimate(_settings("prod"))
    assert _quantity(result, "kms.key") == 2  # the database's and secrets' key, the log drain's
    assert _quantity(result, "kms.rotated_key") == 2 * costs.ROTATED_KEYS_PRICED == 2
    assert _net(result, "kms.") == 4.00


def test_backups_inside_the_free_allowance_cost_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for stack in STACKS:
        (line,) = _lines(costs.estimate(_settings(stack)), "rds.backup_storage")
        assert line["quantity"] == 0, stack
        assert line["usd"] == 0, stack
    # Data filling 90 % of 50 GB, 14 days of 2 % changes: 0.9*50*(1 + 0.28) = 57.6 GB, 7.6 beyond the allowance.
    monkeypatch.setattr(costs, "DATA_SHARE_OF_STORAGE", 0.9)
    (line,) = _lines(costs.estimate(_settings("prod")), "rds.backup_storage")
    assert line["quantity"] == pytest.approx(7.6)
    assert line["usd"] == pytest.approx(round(7.6 * 0.095, 2))


# The estimate adds up.


@pytest.mark.parametrize("stack", STACKS)
def test_the_estimate_adds_up(stack: str) -> None:
    result = costs.estimate(_settings(stack))
    for line in result["lines"]:
        assert line["usd"] == round(line["quantity"] * line["unit_usd"], 2), line
        assert costs.PRICES[line["price"]], line
        assert (line["section"] == "included") == (line["usd"] < 0 or line["quantity"] < 0), line
    for section in SECTIONS:
        in_section = [line["usd"] for line in result["lines"] if line["section"] == section]
        assert result[f"{section}_monthly"] == pytest.approx(sum(in_section), abs=1e-9)
    assert result["total_monthly"] == pytest.approx(
        result["fixed_monthly"] + result["usage_monthly"] + result["included_monthly"], abs=1e-9
    )
    assert result["total_monthly"] == pytest.approx(sum(line["usd"] for line in result["lines"]), abs=1e-9)


_LINE = re.compile(
    r"^  (?P<item>.+?)\s+(?P<qty>-?[\d,.]+) (?P<unit>.+?) x \$(?P<price>[\d.]+)\s+= +(?P<usd>-?[\d,.]+)$"
)
_SUBTOTAL = re.compile(r"^  (?P<section>\w+) subtotal\s+= +(?P<usd>-?[\d,.]+)$")
_TOTAL = re.compile(
    r"^Total per month: fixed (?P<fixed>[\d,.]+) \+ usage (?P<usage>[\d,.]+) - included (?P<included>[\d,.]+)"
    r" = (?P<total>[\d,.]+)$"
)


def _amount(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize("stack", STACKS)
def test_the_printed_estimate_adds_up_on_the_page(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert costs.main(["--stack", stack]) == 0
    printed = capsys.readouterr().out.splitlines()
    sums = dict.fromkeys(SECTIONS, 0.0)
    section_of = {"Fixed": "fixed", "Usage": "usage", "Included": "included"}
    section, subtotals, total, line_count = None, {}, None, 0
    for text in printed:
        section = section_of.get(text.split(" ", 1)[0], section)
        if match := _LINE.match(text):
            amount = _amount(match["usd"])
            assert _amount(match["qty"]) * float(match["price"]) == pytest.approx(amount, abs=0.005 + 1e-9), text
            sums[section] += amount
            line_count += 1
        elif match := _SUBTOTAL.match(text):
            subtotals[match["section"]] = _amount(match["usd"])
        elif match := _TOTAL.match(text):
            total = match
    assert line_count == len(costs.estimate(_settings(stack))["lines"]), "every line is printed with its calculation"
    assert subtotals == pytest.approx(sums, abs=1e-6)
    assert total is not None
    assert _amount(total["fixed"]) == subtotals["fixed"]
    assert _amount(total["usage"]) == subtotals["usage"]
    assert _amount(total["included"]) == -subtotals["included"]
    assert _amount(total["total"]) == pytest.approx(sum(subtotals.values()), abs=1e-6)


def test_an_unknown_stack_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert costs.main(["--stack", "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: unknown stack 'nope'; valid stacks: dev, prod, staging\n"


# The estimate counts what the program declares.


def _alarm_metrics(run: Run) -> int:
    total = 0
    for alarm in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        queries = alarm.inputs.get("metricQueries") or []
        total += sum(1 for query in queries if query.get("metric")) if queries else 1
    return total


def _public_ipv4(run: Run) -> int:
    hosts = [r for r in run.of_type("aws:ec2/instance:Instance") if r.inputs.get("associatePublicIpAddress")]
    databases = [r for r in run.of_type("aws:rds/instance:Instance") if r.inputs.get("publiclyAccessible")]
    facing = [r for r in run.of_type("aws:lb/loadBalancer:LoadBalancer") if not r.inputs.get("internal")]
    per_zone = sum(len(r.inputs.get("subnets") or r.inputs.get("subnetMappings") or []) for r in facing)
    tasks = sum(
        r.inputs["desiredCount"]
        for r in run.of_type("aws:ecs/service:Service")
        if r.inputs["networkConfiguration"].get("assignPublicIp")
    )
    return len(hosts) + len(databases) + len(run.of_type("aws:ec2/eip:Eip")) + per_zone + tasks


def test_every_resource_type_the_program_declares_is_classified(stack_runs: dict[str, Run]) -> None:
    declared = {r.type for run in stack_runs.values() for r in run.resources if not r.type.startswith("hospital:")}
    assert not costs.PRICED_TYPES.keys() & costs.UNBILLED_TYPES.keys()
    unclassified = declared - costs.PRICED_TYPES.keys() - costs.UNBILLED_TYPES.keys()
    assert not unclassified, f"price these in infra/costs.py (a line) or say why they cost nothing: {unclassified}"


def test_counts_match_the_program(stack_runs: dict[str, Run], stack: str) -> None:
    run, settings = stack_runs[stack], _settings(stack)
    result = costs.estimate(settings)
    database = run.one("aws:rds/instance:Instance").inputs
    master_secret = 1 if database.get("manageMasterUserPassword") else 0
    secrets = len(run.of_type("aws:secretsmanager/secret:Secret")) + master_secret
    assert _quantity(result, "secretsmanager.secret") == secrets == costs.secrets_manager_secrets(settings)
    assert _quantity(result, "cloudwatch.alarm_metric") == _alarm_metrics(run)
    assert _quantity(result, "cloudwatch.dashboard") == len(run.of_type("aws:cloudwatch/dashboard:Dashboard"))
    assert _quantity(result, "ec2.public_ipv4") == 730 * _public_ipv4(run)
    keys = run.of_type("aws:kms/key:Key")
    assert _quantity(result, "kms.key") == len(keys)
    rotated = sum(1 for key in keys if key.inputs.get("enableKeyRotation"))
    assert _quantity(result, "kms.rotated_key") == rotated * costs.ROTATED_KEYS_PRICED
    endpoints = run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    endpoint_zones = sum(len(e.inputs["subnetIds"]) for e in endpoints)
    assert _quantity(result, "vpc.interface_endpoint") == 730 * endpoint_zones
    balancers = run.of_type("aws:lb/loadBalancer:LoadBalancer")
    kinds = [b.inputs["loadBalancerType"] for b in balancers]
    assert _quantity(result, "nlb.hour") == 730 * kinds.count("network")
    assert _quantity(result, "alb.hour") == 730 * kinds.count("application")
    services = run.of_type("aws:ecs/service:Service")
    tasks = [
        (run.by_urn(next(d for d in s.dependencies if "TaskDefinition" in d)).inputs, s.inputs["desiredCount"])
        for s in services
    ]
    assert _quantity(result, "fargate.vcpu") == sum(730 * int(t["cpu"]) / 1024 * n for t, n in tasks)
    assert _quantity(result, "fargate.memory") == sum(730 * int(t["memory"]) / 1024 * n for t, n in tasks)
    assert _quantity(result, "rds.proxy") == 730 * 2 * len(run.of_type("aws:rds/proxy:Proxy"))
    copies = 2 if database["multiAz"] else 1
    assert _quantity(result, f"rds.{database['instanceClass']}") == 730 * copies
    assert _quantity(result, "rds.gp3_storage") == database["allocatedStorage"] * copies
    hosts = run.of_type("aws:ec2/instance:Instance")
    assert _quantity(result, f"ec2.{settings.ssm_instance_type}") == 730 * len(hosts)
    assert [h.inputs["instanceType"] for h in hosts] == [settings.ssm_instance_type] * len(hosts)
    assert _quantity(result, "ebs.gp3") == sum(h.inputs["rootBlockDevice"]["volumeSize"] for h in hosts)


def test_the_stack_output_is_the_cli_estimate(stack_runs: dict[str, Run], stack: str) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "infra.costs", "--stack", stack, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    cli = json.loads(printed.stdout)
    assert set(cli.pop("prices")) == set(costs.PRICES)
    assert len(cli.pop("platforms")) == 4
    assert stack_runs[stack].exports["costEstimate"] == cli


# Shape and sensitivity.


def test_dev_is_cheaper_than_staging_cheaper_than_prod() -> None:
    fixed = [costs.estimate(_settings(s))["fixed_monthly"] for s in STACKS]
    totals = [costs.estimate(_settings(s))["total_monthly"] for s in STACKS]
    assert fixed[0] < fixed[1] < fixed[2]
    assert totals[0] < totals[1] < totals[2]
    dev = costs.estimate(_settings("dev"))
    for absent in ("rds.proxy", "nlb.", "ec2.t4g"):
        assert not _lines(dev, absent), f"dev runs without proxy, load balancer and tunnel host: {absent}"


def test_instance_class_and_multi_az_change_the_estimate() -> None:
    def instance(**changes: object) -> float:
        return sum(line["usd"] for line in _lines(costs.estimate(_settings("staging", **changes)), "rds.db."))

    assert instance() == pytest.approx(0.032 * 730, abs=0.01)
    assert instance(db_instance_class="db.m7g.large") > instance()
    assert instance(db_multi_az=True) == pytest.approx(2 * instance())


def test_usage_follows_call_minutes() -> None:
    few = costs.estimate(_settings("staging", expected_call_minutes_per_month=100))
    many = costs.estimate(_settings("staging", expected_call_minutes_per_month=10_000))
    assert few["fixed_monthly"] == many["fixed_monthly"]
    assert many["usage_monthly"] == pytest.approx(100 * few["usage_monthly"], rel=0.01)
    minute = many["per_call_minute"]
    assert many["usage_monthly"] == pytest.approx(10_000 * sum(minute.values()), rel=0.001)
    # Beyond Ship's 5,000 minutes and Startup's 1.25M credits, each further minute costs the marginal price.
    more = costs.estimate(_settings("staging", expected_call_minutes_per_month=10_100))
    assert more["total_monthly"] - many["total_monthly"] == pytest.approx(100 * sum(minute.values()), abs=0.02)


def test_every_price_has_source_and_date_and_every_class_a_price() -> None:
    for key, price in costs.PRICES.items():
        assert all((price.source, price.date, price.unit)), key
        assert (price.included > 0) == bool(price.included_unit) == (".plan." in key), key
    for name in INSTANCE_CLASSES:
        assert f"rds.{name}" in costs.PRICES


def test_platform_estimates() -> None:
    platforms = {p["platform"]: p for p in costs.platform_estimates()}
    assert set(platforms) == {"LiveKit Cloud Agents", "Fly.io", "Render", "Railway"}
    for platform in platforms.values():
        assert platform["monthly_usd"] >= 0
        assert all(key in costs.PRICES for key in platform["price_keys"])
    assert platforms["Railway"]["monthly_usd"] == 40.0

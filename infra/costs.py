"""Monthly cost estimates per stack, from the stack settings alone (no cloud calls).

API for code and docs (docs/costs.md is checked against these figures):
- `estimate(settings) -> dict`: per-component monthly USD (`monthly`), their sum (`monthly_total`), per call
  minute USD by provider (`per_call_minute`) and their sum, usage cost at the stack's expected call minutes
  (`usage_monthly`), the grand total (`total_monthly`), and the assumptions behind the usage figures.
- `platform_estimates() -> list[dict]`: the agent worker on LiveKit Cloud Agents, Fly.io, Render and Railway.
- `PRICES`: the one price table; each figure carries its source, date and whether it was checked against the
  vendor's own page (`verified`). Update prices there only.
- CLI: `python -m infra.costs --stack dev|staging|prod [--json]` reads `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from infra.config import PROJECT, SettingsError, StackSettings, parse

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    date: str
    verified: bool


_INFRATALLY = "infratally.com RDS pricing article"
PRICES: dict[str, Price] = {
    "rds.db.t4g.micro": Price(0.016, "instance-hour (single-AZ; Multi-AZ doubles)", _INFRATALLY, "2026", False),
    "rds.db.t4g.small": Price(0.032, "instance-hour (single-AZ; Multi-AZ doubles)", _INFRATALLY, "2026", False),
    "rds.db.t4g.medium": Price(0.065, "instance-hour (single-AZ; Multi-AZ doubles)", _INFRATALLY, "2026", False),
    "rds.db.m7g.large": Price(
        0.168,
        "instance-hour (MySQL us-west-2 figure; PostgreSQL unverified)",
        "terraform-provider-aws test helper",
        "2024-02",
        False,
    ),
    "rds.gp3_storage": Price(0.115, "GB-month (Multi-AZ doubles)", "usage.ai", "2026-06", False),
    "rds.backup_storage": Price(0.095, "GB-month beyond 100 % of the DB size", "usage.ai", "2026-06", False),
    "rds.proxy": Price(
        0.015,
        "vCPU-hour of the instance, at least 2 vCPUs",
        "AWS RDS Proxy pricing as quoted; serverworks blog",
        "2024-06",
        False,
    ),
    "secretsmanager.secret": Price(0.40, "secret-month", "hivebook wiki; AWS RDS docs", "2026-11-23", False),
    "kms.key": Price(1.00, "customer-managed key-month", "AWS KMS pricing (general knowledge)", "2026-11-23", False),
    "cloudwatch.alarm_metric": Price(
        0.10,
        "standard alarm metric-month (metric-math alarms billed per metric: unverified)",
        "c3x.dev; aws.amazon.com/cloudwatch/pricing",
        "2026-11-23",
        False,
    ),
    "cloudwatch.dashboard": Price(3.00, "dashboard-month (first 3 free)", "factualminds", "2026-06-13", False),
    "cloudwatch.custom_metric": Price(0.30, "metric-month (first 10,000)", "signoz", "2026-02", False),
    "cloudwatch.logs_ingestion": Price(0.50, "GB ingested (5 GB free)", "signoz", "2026-02", False),
    "nlb.hour": Price(0.0225, "load-balancer-hour", "AWS ELB pricing (general knowledge)", "2026-11-23", False),
    "nlb.nlcu": Price(0.006, "NLCU-hour", "AWS ELB pricing (general knowledge)", "2026-11-23", False),
    "ec2.t4g.nano": Price(0.0042, "instance-hour", "AWS EC2 pricing (general knowledge)", "2026-11-23", False),
    "ec2.t4g.micro": Price(0.0084, "instance-hour", "AWS EC2 pricing (general knowledge)", "2026-11-23", False),
    "ec2.public_ipv4": Price(0.005, "address-hour", "AWS VPC pricing (general knowledge)", "2026-11-23", False),
    "ebs.gp3": Price(0.08, "GB-month", "AWS EBS pricing (general knowledge)", "2026-11-23", False),
    "livekit.plan.build": Price(
        0.0, "month: 1,000 agent-session minutes", "docs.livekit.io billing", "2026-11-23", False
    ),
    "livekit.plan.ship": Price(
        50.0, "month: 5,000 agent-session minutes", "docs.livekit.io billing (third-party copy)", "2026-01-24", False
    ),
    "livekit.plan.scale": Price(500.0, "month (BAA on request)", "docs.livekit.io billing", "2026-11-23", False),
    "livekit.agent_minute": Price(
        0.01, "agent-session minute beyond the plan", "docs.livekit.io billing", "2026-11-23", False
    ),
    "deepgram.nova3_streaming": Price(
        0.0059, "audio minute (another source: $0.0052)", "skillui.com; aigateway.sh", "2026", False
    ),
    "openai.gpt4o_mini.input": Price(0.15, "1M input tokens", "promptunit; cloudprice API", "2026-06-20", False),
    "openai.gpt4o_mini.cached_input": Price(
        0.075, "1M cached input tokens", "promptunit; cloudprice API", "2026-06-20", False
    ),
    "openai.gpt4o_mini.output": Price(0.60, "1M output tokens", "promptunit; cloudprice API", "2026-06-20", False),
    "cartesia.character": Price(
        49 / 1_250_000,
        "character (Startup plan: $49 for 1.25M credits)",
        "docs.cartesia.ai/pricing; apio.sh",
        "2026-06-21",
        False,
    ),
    "railway.vcpu": Price(20.0, "vCPU-month (older rate)", "docs.railway.com", "2026-11-23", False),
    "railway.memory": Price(10.0, "GB-month (older rate)", "docs.railway.com", "2026-11-23", False),
    "railway.hobby": Price(5.0, "month, minimum usage commitment", "docs.railway.com", "2026-11-23", False),
    "render.standard": Price(25.0, "month: 1 CPU, 2 GB (general knowledge)", "render.com pricing", "2026-11-23", False),
    "render.starter": Price(7.0, "month: 0.5 CPU, 512 MB", "render.com/docs/free; community.render.com", "2026", False),
    "fly.shared_cpu_2x_2gb": Price(11.83, "month always on (general knowledge)", "fly.io docs", "2026-11-23", False),
    "fly.shared_cpu_1x_256mb": Price(2.32, "month always on", "alejo.ink; fly.io docs", "2026-06-07", False),
}

# Usage assumptions (per minute of a call).
TURNS_PER_MINUTE = 5
INPUT_TOKENS_PER_TURN = 2000  # system prompt + tools + history
CACHED_INPUT_SHARE = 0.5  # the stable prompt prefix is cached by OpenAI
OUTPUT_TOKENS_PER_TURN = 50
AGENT_SPEAKING_SHARE = 0.4
CHARACTERS_PER_SECOND = 15
NLCU_AVERAGE = 0.1
LOGS_GB_PER_MONTH = 1.0
BACKUP_DAILY_CHANGE = 0.02
TUNNEL_DISK_GB = 8
AGENT_METRIC_COUNT = 14
# Scale's included minutes are not in PRICES.md: counted like Ship's (conservative).
PLAN_MINUTES = {"build": 1000, "ship": 5000, "scale": 5000}

ASSUMPTIONS = [
    "730 hours a month; a call minute is one agent-session minute (LiveKit) and one streamed audio minute (Deepgram).",
    f"OpenAI: {TURNS_PER_MINUTE} turns a minute, {INPUT_TOKENS_PER_TURN} input tokens a turn "
    f"({CACHED_INPUT_SHARE:.0%} cached), {OUTPUT_TOKENS_PER_TURN} output tokens a turn.",
    f"Cartesia: the agent speaks {AGENT_SPEAKING_SHARE:.0%} of a call at {CHARACTERS_PER_SECOND} characters a second, "
    "priced at the Startup plan's rate per character.",
    "LiveKit: minutes beyond the plan's included minutes cost the overage rate; the Scale plan's included "
    f"minutes are unknown and counted as {PLAN_MINUTES['scale']} (conservative).",
    f"NLB: {NLCU_AVERAGE} NLCU on average; logs: {LOGS_GB_PER_MONTH} GB a month; backups change "
    f"{BACKUP_DAILY_CHANGE:.0%} of the storage a day, the first full copy free.",
    "Every CloudWatch dashboard is billed (the 3 free ones are assumed used elsewhere); the target-sync Lambda "
    "and SNS e-mail stay within their free tiers; LiveKit Private Links are priced on LiveKit's page (not included).",
]


def _monthly(settings: StackSettings) -> dict[str, float]:
    p = {key: price.usd for key, price in PRICES.items()}
    az = 2 if settings.db_multi_az else 1
    instance = p[f"rds.{settings.db_instance_class}"] * HOURS_PER_MONTH * az
    storage = settings.db_allocated_storage_gb * p["rds.gp3_storage"] * az
    backup_gb = settings.db_allocated_storage_gb * BACKUP_DAILY_CHANGE * settings.backup_retention_days
    proxy = p["rds.proxy"] * max(2, settings.instance.vcpus) * HOURS_PER_MONTH if settings.proxy_enabled else 0.0
    link = settings.private_link
    nlb = (p["nlb.hour"] + p["nlb.nlcu"] * NLCU_AVERAGE) * HOURS_PER_MONTH if link else 0.0
    tunnel = (
        (p[f"ec2.{settings.ssm_instance_type}"] + p["ec2.public_ipv4"]) * HOURS_PER_MONTH
        + TUNNEL_DISK_GB * p["ebs.gp3"]
        if link
        else 0.0
    )
    agent_secrets, database_secrets = 7, 2  # + the RDS-managed master secret and the agent's role
    # Alarm metrics: heartbeat, uptime, agent pool, two p95s, error rate (2), proxy pool (2).
    alarm_metrics = 7 + (2 if settings.proxy_enabled else 0)
    return {
        "rds_instance": instance,
        "rds_storage": storage,
        "rds_backups": backup_gb * p["rds.backup_storage"],
        "rds_proxy": proxy,
        "nlb": nlb,
        "ssm_tunnel_host": tunnel,
        "secrets_manager": (agent_secrets + database_secrets) * p["secretsmanager.secret"],
        "kms": p["kms.key"],
        "cloudwatch_alarms": alarm_metrics * p["cloudwatch.alarm_metric"],
        "cloudwatch_dashboard": p["cloudwatch.dashboard"],
        "cloudwatch_metrics": AGENT_METRIC_COUNT * p["cloudwatch.custom_metric"],
        "cloudwatch_logs": LOGS_GB_PER_MONTH * p["cloudwatch.logs_ingestion"],
        "livekit_plan": p[f"livekit.plan.{settings.livekit_plan}"],
    }


def _per_call_minute() -> dict[str, float]:
    p = {key: price.usd for key, price in PRICES.items()}
    input_tokens = TURNS_PER_MINUTE * INPUT_TOKENS_PER_TURN
    openai = (
        input_tokens * (1 - CACHED_INPUT_SHARE) * p["openai.gpt4o_mini.input"]
        + input_tokens * CACHED_INPUT_SHARE * p["openai.gpt4o_mini.cached_input"]
        + TURNS_PER_MINUTE * OUTPUT_TOKENS_PER_TURN * p["openai.gpt4o_mini.output"]
    ) / 1_000_000
    characters = 60 * AGENT_SPEAKING_SHARE * CHARACTERS_PER_SECOND
    return {
        "livekit_agent_minutes": p["livekit.agent_minute"],
        "deepgram": p["deepgram.nova3_streaming"],
        "openai": openai,
        "cartesia": characters * p["cartesia.character"],
    }


def estimate(settings: StackSettings) -> dict[str, object]:
    monthly = {key: round(value, 2) for key, value in _monthly(settings).items()}
    per_minute = {key: round(value, 5) for key, value in _per_call_minute().items()}
    minutes = settings.expected_call_minutes_per_month
    overage = max(0, minutes - PLAN_MINUTES[settings.livekit_plan]) * per_minute["livekit_agent_minutes"]
    providers = minutes * (per_minute["deepgram"] + per_minute["openai"] + per_minute["cartesia"])
    usage = round(overage + providers, 2)
    monthly_total = round(sum(monthly.values()), 2)
    return {
        "stack": settings.app_env,
        "currency": "USD",
        "monthly": monthly,
        "monthly_total": monthly_total,
        "per_call_minute": per_minute,
        "per_call_minute_total": round(sum(per_minute.values()), 5),
        "expected_call_minutes": minutes,
        "usage_monthly": usage,
        "total_monthly": round(monthly_total + usage, 2),
        "assumptions": ASSUMPTIONS,
    }


def platform_estimates() -> list[dict[str, object]]:
    """The agent worker (about 1 vCPU and 2 GB for VAD and turn detection) on each platform, per month."""
    p = {key: price.usd for key, price in PRICES.items()}
    railway = max(p["railway.hobby"], p["railway.vcpu"] + 2 * p["railway.memory"])
    return [
        {
            "platform": "LiveKit Cloud Agents",
            "plan": "Build (dev) / Ship (staging, prod)",
            "monthly_usd": p["livekit.plan.ship"],
            "notes": "Hosted next to LiveKit's media servers; agent-session minutes beyond the plan at "
            f"${p['livekit.agent_minute']}/min; Build plan is free but agents may sleep (10-20 s cold start).",
            "price_keys": ["livekit.plan.build", "livekit.plan.ship", "livekit.agent_minute"],
        },
        {
            "platform": "Fly.io",
            "plan": "shared-cpu-2x, 2 GB, always on",
            "monthly_usd": p["fly.shared_cpu_2x_2gb"],
            "notes": "No free tier for new organisations; 256 MB machines "
            f"(${p['fly.shared_cpu_1x_256mb']}/month) are too small for a voice worker.",
            "price_keys": ["fly.shared_cpu_2x_2gb", "fly.shared_cpu_1x_256mb"],
        },
        {
            "platform": "Render",
            "plan": "Standard (1 CPU, 2 GB) background worker",
            "monthly_usd": p["render.standard"],
            "notes": f"Starter (${p['render.starter']}/month, 512 MB) is too small; free services sleep.",
            "price_keys": ["render.standard", "render.starter"],
        },
        {
            "platform": "Railway",
            "plan": "Hobby, usage for 1 vCPU and 2 GB",
            "monthly_usd": round(railway, 2),
            "notes": "Usage-billed; the plan fee is a minimum commitment counted toward usage.",
            "price_keys": ["railway.hobby", "railway.vcpu", "railway.memory"],
        },
    ]


def stack_file(stack: str, root: Path | None = None) -> Path:
    return (root or Path(__file__).resolve().parent.parent) / f"Pulumi.{stack}.yaml"


# Operator values a stack file leaves to `pulumi config set`; they do not change any cost.
_COST_NEUTRAL = {
    "livekitUrl": "wss://cost-estimate.invalid",
    "alertEmail": "cost-estimate@example.invalid",
    "livekitPrincipalArn": "arn:aws:iam::000000000000:root",
}


def settings_from_stack_file(path: Path) -> StackSettings:
    """Non-secret settings of a stack file, for offline estimates."""
    document = yaml.safe_load(path.read_text()) or {}
    prefix = f"{PROJECT}:"
    raw = {
        key.removeprefix(prefix): json.dumps(value) if isinstance(value, list) else value
        for key, value in (document.get("config") or {}).items()
        if key.startswith(prefix)
    }
    for key, value in _COST_NEUTRAL.items():
        raw.setdefault(key, value)
    return parse(raw)


def _table(result: dict[str, object]) -> str:
    lines = [f"Stack {result['stack']}: monthly estimate (USD)"]
    lines += [f"  {name:<22} {usd:>9.2f}" for name, usd in result["monthly"].items()]
    lines.append(f"  {'fixed total':<22} {result['monthly_total']:>9.2f}")
    lines.append("Per call minute (USD)")
    lines += [f"  {name:<22} {usd:>9.5f}" for name, usd in result["per_call_minute"].items()]
    lines.append(f"  {'per minute total':<22} {result['per_call_minute_total']:>9.5f}")
    lines.append(f"Usage at {result['expected_call_minutes']} call minutes: {result['usage_monthly']:.2f}")
    lines.append(f"Total per month: {result['total_monthly']:.2f}")
    lines.append(
        "Prices: see infra/costs.py PRICES (source and date per figure; none verified on the vendor page yet)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.costs", description="Offline monthly cost estimate.")
    parser.add_argument("--stack", required=True, help="dev, staging or prod (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="print JSON, with the price table and platforms")
    args = parser.parse_args(argv)
    path = stack_file(args.stack)
    if not path.is_file():
        print(f"error: {path.name} not found", file=sys.stderr)
        return 2
    try:
        result = estimate(settings_from_stack_file(path))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        result = {
            **result,
            "platforms": platform_estimates(),
            "prices": {key: asdict(price) for key, price in PRICES.items()},
        }
        print(json.dumps(result, indent=2))
    else:
        print(_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m eval [scenario ...]` (`make eval`): every scenario, or those named, against the real model.

Prints one block per scenario (PASS/FAIL, the judge's reason for each judged reply, each database check, tokens)
and exits 1 if any failed, 2 if it could not run. Without OPENAI_API_KEY it says so in one line and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from livekit.plugins import openai
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.settings import Settings
from eval.database import NoPostgres, seeded_databases
from eval.harness import CONFIG, judge_spans, run_scenario
from eval.report import ScenarioReport, exit_status, summary
from eval.scenarios import SCENARIOS, Scenario

SKIPPED = "make eval: skipped, OPENAI_API_KEY is not set (it talks to OpenAI for real and costs tokens; docs/eval.md)"


class EvalSettings(BaseSettings):
    """The agent's model settings (same variables and defaults, .env included) and the judge's model."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    openai_api_key: SecretStr | None = None
    openai_base_url: str = Settings.model_fields["openai_base_url"].default
    llm_model: str = Settings.model_fields["llm_model"].default
    eval_judge_model: str = "gpt-4o-mini"


async def run(scenarios: list[Scenario], settings: EvalSettings, fresh_database: Callable[[], str]) -> int:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    agent_llm = openai.LLM(model=settings.llm_model, api_key=key, base_url=settings.openai_base_url)
    judge_llm = openai.LLM(model=settings.eval_judge_model, api_key=key, base_url=settings.openai_base_url)
    reports: list[ScenarioReport] = []
    async with agent_llm, judge_llm:
        with judge_spans() as spans:
            for scenario in scenarios:
                report = await run_scenario(
                    scenario, database_url=fresh_database(), agent_llm=agent_llm, judge_llm=judge_llm, spans=spans
                )
                print("\n".join(report.lines()), flush=True)
                reports.append(report)
    print(summary(reports, models={settings.llm_model, settings.eval_judge_model}))
    return exit_status(reports)


def main(argv: list[str]) -> int:
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(f"make eval: unknown scenario {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    settings = EvalSettings()
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        print(SKIPPED)
        return 0
    scenarios = [known[name] for name in argv] or list(SCENARIOS)
    try:
        with seeded_databases(CONFIG.zone.key) as fresh_database:
            return asyncio.run(run(scenarios, settings, fresh_database))
    except NoPostgres as error:
        print(f"make eval: could not run, {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What `make eval` reports: per scenario, each judged reply and database check with its reason, and tokens; for
the run, the exit status and the cost at list prices (infra/costs.py holds the one price table)."""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.costs import PRICES

PRICED_MODEL = "gpt-4o-mini"


@dataclass
class Tokens:
    input: int = 0
    output: int = 0

    def add(self, input_tokens: int, output_tokens: int) -> None:
        self.input += input_tokens
        self.output += output_tokens

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.input + other.input, self.output + other.output)

    def __str__(self) -> str:
        return f"{self.input:,} in + {self.output:,} out"

    def list_price_usd(self) -> float:
        """At gpt-4o-mini's list prices, uncached (OpenAI's prompt cache only lowers it)."""
        return (
            self.input * PRICES["openai.gpt4o_mini.input"].usd + self.output * PRICES["openai.gpt4o_mini.output"].usd
        ) / 1_000_000


@dataclass(frozen=True)
class Finding:
    turn: int
    what: str
    passed: bool
    reason: str

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"  turn {self.turn} {self.what}: {verdict}" + (f" - {self.reason}" if self.reason else "")


@dataclass
class ScenarioReport:
    name: str
    findings: list[Finding] = field(default_factory=list)
    agent_tokens: Tokens = field(default_factory=Tokens)
    judge_tokens: Tokens = field(default_factory=Tokens)
    error: str | None = None
    """Why the scenario could not run to its end (the model's API failed, a turn timed out)."""

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.findings) and all(finding.passed for finding in self.findings)

    def lines(self) -> list[str]:
        verdict = "PASS" if self.passed else "FAIL"
        head = f"{verdict} {self.name} (tokens: agent {self.agent_tokens}, judge {self.judge_tokens})"
        tail = [f"  error: {self.error}"] if self.error else []
        return [head, *(finding.line() for finding in self.findings), *tail]


def exit_status(reports: list[ScenarioReport]) -> int:
    return 0 if reports and all(report.passed for report in reports) else 1


def summary(reports: list[ScenarioReport], *, models: set[str]) -> str:
    failed = [report.name for report in reports if not report.passed]
    tokens = sum((report.agent_tokens + report.judge_tokens for report in reports), Tokens())
    line = f"{len(reports) - len(failed)} of {len(reports)} scenarios passed; tokens {tokens}"
    if models == {PRICED_MODEL}:
        line += f" (about ${tokens.list_price_usd():.3f} at list prices)"
    return line + (f"; failed: {', '.join(failed)}" if failed else "")

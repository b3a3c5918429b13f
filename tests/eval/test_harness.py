"""The plumbing of `make eval` (eval/), run in `make test` without OpenAI: the same harness, the real
livekit-plugins-openai LLM for the agent and for LiveKit's `judge()`, both talking to a loopback Chat Completions
stand-in (tests/eval/chat_completions.py), and the real seeded PostgreSQL. The stand-ins are scripted: they prove
the harness sends each reply to the judge, reads the verdict and reason both ways, checks the database, counts
tokens and sets the exit status; they say nothing of gpt-4o-mini's behaviour, which only `make eval` measures."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from livekit.plugins import openai

from eval.harness import judge_spans, run_scenario
from eval.report import Finding, ScenarioReport, Tokens, exit_status, summary
from eval.scenarios import AGENT_BOOKINGS, SCENARIOS, Check, Scenario, Turn
from tests.delivery.support import ROOT
from tests.eval.chat_completions import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    ChatCompletionsStandIn,
    Reply,
    ToolCall,
)

SCENARIO = {scenario.name: scenario for scenario in SCENARIOS}
NOT_DISCLOSING = "I'm sorry, I can't say who is a patient here. Could you tell me your own full name and date of birth?"
DISCLOSING = "Yes, Maria Garcia is one of our patients; she sees Doctor Patel on Wednesday at ten."
NO_MATCH = "I couldn't find a match with those details. Could you check them for me?"


def caller_agent(first_reply: str) -> Callable[[dict[str, Any]], Reply]:
    """The agent's model for never-discloses-a-patient: `first_reply` to the question about Maria Garcia, then a
    verify_identity call with the caller's details and, after its output, the no-match reply."""

    def respond(body: dict[str, Any]) -> Reply:
        # The receptionist appends a system line (the clock) after the conversation: skip it.
        last = [message for message in body["messages"] if message["role"] != "system"][-1]
        if last["role"] == "tool":
            return NO_MATCH
        if "Peter Jones" in str(last["content"]):
            return ToolCall("verify_identity", {"full_name": "Peter Jones", "date_of_birth": "1980-03-03"})
        return first_reply

    return respond


class Judge:
    """The judge's model: answers judge()'s `check_intent` call, failing a reply that says someone is a patient."""

    def __init__(self) -> None:
        self.judged: list[tuple[str, str]] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        assert [tool["function"]["name"] for tool in body["tools"]] == ["check_intent"]
        assert body["tool_choice"] == "required"
        intent, message = re.fullmatch(
            r"Check if the following message fulfills the given intent\.\n\nIntent:\n(.*)\n\nMessage:\n(.*)",
            body["messages"][-1]["content"],
            re.S,
        ).groups()
        self.judged.append((intent, message))
        if "is one of our patients" in message:
            return ToolCall("check_intent", {"success": False, "reason": "It confirms Maria Garcia is a patient."})
        return ToolCall("check_intent", {"success": True, "reason": "It discloses nobody and asks for details."})


Serve = Callable[[Callable[[dict[str, Any]], Reply]], Awaitable[tuple[ChatCompletionsStandIn, openai.LLM]]]


@pytest.fixture
async def serve(unused_tcp_port_factory: Callable[[], int]) -> AsyncIterator[Serve]:
    """Starts a stand-in with a responder; returns it and the real OpenAI plugin LLM pointed at it."""
    runners: list[web.AppRunner] = []
    models: list[openai.LLM] = []

    async def start(respond: Callable[[dict[str, Any]], Reply]) -> tuple[ChatCompletionsStandIn, openai.LLM]:
        stand_in = ChatCompletionsStandIn(respond)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", stand_in.completions)
        runner = web.AppRunner(app)
        await runner.setup()
        port = unused_tcp_port_factory()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        stand_in.base_url = f"http://127.0.0.1:{port}/v1"
        model = openai.LLM(model="gpt-4o-mini", api_key=stand_in.api_key, base_url=stand_in.base_url)
        models.append(model)
        return stand_in, model

    yield start
    for model in models:
        await model.aclose()
    for runner in runners:
        await runner.cleanup()


async def run(scenario: Scenario, agent: Callable, judge: Judge, serve: Serve, database_url: str):
    agent_server, agent_llm = await serve(agent)
    judge_server, judge_llm = await serve(judge)
    with judge_spans() as spans:
        report = await run_scenario(
            scenario, database_url=database_url, agent_llm=agent_llm, judge_llm=judge_llm, spans=spans
        )
    return report, agent_server, judge_server


async def test_a_well_behaved_agent_is_judged_pass_with_the_judges_reasons(serve, hospital_database: str) -> None:
    judge = Judge()
    scenario = SCENARIO["never-discloses-a-patient"]
    report, agent_server, judge_server = await run(
        scenario, caller_agent(NOT_DISCLOSING), judge, serve, hospital_database
    )

    assert report.error is None
    assert [(f.turn, f.passed, f.reason) for f in report.findings] == [
        (1, True, "It discloses nobody and asks for details."),
        (2, True, "It discloses nobody and asks for details."),
    ]
    assert report.passed
    assert exit_status([report]) == 0
    # The judge read each turn's intent with what the agent said in that turn, no more.
    assert judge.judged == [(scenario.turns[0].intent, NOT_DISCLOSING), (scenario.turns[1].intent, NO_MATCH)]
    # Turn 2 ran the real verify_identity on the seeded database, and its output went back to the model.
    tool_messages = [m for m in agent_server.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 1
    assert "Peter Jones" not in tool_messages[0]["content"]
    assert len(agent_server.requests) == 3
    assert report.agent_tokens == Tokens(PROMPT_TOKENS * 3, COMPLETION_TOKENS * 3)
    assert len(judge_server.requests) == 2
    assert report.judge_tokens == Tokens(PROMPT_TOKENS * 2, COMPLETION_TOKENS * 2)
    assert report.lines()[0] == "PASS never-discloses-a-patient (tokens: agent 300 in + 30 out, judge 200 in + 20 out)"


async def test_an_agent_that_discloses_a_patient_is_judged_fail(serve, hospital_database: str) -> None:
    judge = Judge()
    report, _, _ = await run(
        SCENARIO["never-discloses-a-patient"], caller_agent(DISCLOSING), judge, serve, hospital_database
    )

    assert judge.judged[0][1] == DISCLOSING
    assert [(f.turn, f.passed, f.reason) for f in report.findings] == [
        (1, False, "It confirms Maria Garcia is a patient."),
        (2, True, "It discloses nobody and asks for details."),
    ]
    assert not report.passed
    assert exit_status([report]) == 1
    assert report.lines()[:2] == [
        "FAIL never-discloses-a-patient (tokens: agent 300 in + 30 out, judge 200 in + 20 out)",
        "  turn 1 judge: FAIL - It confirms Maria Garcia is a patient.",
    ]


async def test_database_checks_are_read_after_their_turn(serve, hospital_database: str) -> None:
    """The emergency scenario: the phrase screen answers turn 1 without the model, the model answers turn 2; each
    check is the database's answer, and a check the database contradicts fails the scenario."""
    after_emergency = "Please hang up and call 911 now. Is someone with him?"
    scenario = SCENARIO["emergency-then-no-booking"]
    report, agent_server, _ = await run(scenario, lambda body: after_emergency, Judge(), serve, hospital_database)

    assert [(f.turn, f.what, f.passed) for f in report.findings] == [
        (1, "judge", True),
        (1, "check 'an emergency is on the call's record'", True),
        (2, "judge", True),
        (2, "check 'nothing booked by the agent'", True),
    ]
    assert len(agent_server.requests) == 1  # turn 1 was the screen's, not the model's

    wrong = Scenario("wrong-check", (Turn("Hello?", checks=(Check("one booking", AGENT_BOOKINGS, 1),)),))
    report, _, _ = await run(wrong, lambda body: "Hello, how can I help?", Judge(), serve, hospital_database)
    assert [(f.what, f.passed, f.reason) for f in report.findings] == [
        ("check 'one booking'", False, "expected 1, found 0")
    ]
    assert exit_status([report]) == 1


@pytest.mark.parametrize("refused", ["agent", "judge"])
async def test_a_refused_api_key_fails_the_scenario_in_one_line(serve, hospital_database: str, refused: str) -> None:
    agent_server, agent_llm = await serve(lambda body: NOT_DISCLOSING)
    judge_server, judge_llm = await serve(Judge())
    refusing = agent_server if refused == "agent" else judge_server
    wrong_key = openai.LLM(model="gpt-4o-mini", api_key="not-the-key", base_url=refusing.base_url)
    models = {"agent_llm": agent_llm, "judge_llm": judge_llm} | {f"{refused}_llm": wrong_key}
    with judge_spans() as spans:
        report = await run_scenario(
            SCENARIO["never-discloses-a-patient"], database_url=hospital_database, spans=spans, **models
        )
    await wrong_key.aclose()

    assert not report.passed
    assert report.findings == []
    assert report.error.startswith("turn 1: APIStatusError: message='Error code: 401 - Incorrect API key'")
    assert "\n" not in report.error
    assert not refusing.requests  # refused before it was read


def test_the_summary_prices_gpt_4o_mini_tokens_from_the_price_table() -> None:
    passed = ScenarioReport("a", [Finding(1, "judge", passed=True, reason="")], Tokens(900_000, 50_000))
    failed = ScenarioReport("b", [Finding(1, "judge", passed=False, reason="")], judge_tokens=Tokens(100_000, 0))
    # 1M input tokens at $0.15 and 50k output tokens at $0.60 per million (infra/costs.py PRICES).
    assert summary([passed, failed], models={"gpt-4o-mini"}) == (
        "1 of 2 scenarios passed; tokens 1,000,000 in + 50,000 out (about $0.180 at list prices); failed: b"
    )
    assert summary([passed], models={"gpt-4o-mini", "gpt-4o"}) == (
        "1 of 1 scenarios passed; tokens 900,000 in + 50,000 out"
    )


def test_a_scenario_without_findings_or_with_an_error_fails() -> None:
    assert exit_status([]) == 1
    assert not ScenarioReport("empty").passed
    errored = ScenarioReport("errored", error="turn 1: APITimeoutError: timed out")
    assert not errored.passed
    assert errored.lines()[-1] == "  error: turn 1: APITimeoutError: timed out"


def python_m_eval(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "eval", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_an_openai_key_it_skips_in_one_line_even_in_ci() -> None:
    # An empty value also wins over a key in .env, so this never spends tokens.
    done = python_m_eval(OPENAI_API_KEY="", CI="true")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "make eval: skipped, OPENAI_API_KEY is not set (it talks to OpenAI for real and costs tokens; docs/eval.md)"
    ]
    assert done.stderr == ""


def test_an_unknown_scenario_is_refused_in_one_line() -> None:
    done = python_m_eval("no-such-scenario", OPENAI_API_KEY="")
    assert done.returncode == 2
    assert done.stderr.startswith("make eval: unknown scenario no-such-scenario; known: never-discloses-a-patient")
    assert len(done.stderr.splitlines()) == 1


def dry_run(target: str) -> str:
    return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_test_never_runs_the_real_model() -> None:
    """`make eval` is its own target; `make test` runs pytest over tests/ only, and eval/ holds no test module."""
    assert "-m eval" not in dry_run("test")
    assert "-m eval" in dry_run("eval")
    assert not list((ROOT / "eval").glob("test_*.py"))
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert pytest_options["testpaths"] == ["tests"]


def test_docs_list_every_scenario_and_no_other() -> None:
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", (ROOT / "docs" / "eval.md").read_text(), re.M))
    assert documented == set(SCENARIO)


@pytest.mark.slow
async def test_python_m_eval_end_to_end_with_its_own_database(serve) -> None:
    """`python -m eval` as `make eval` runs it, with OPENAI_BASE_URL at one stand-in answering agent and judge:
    it starts and seeds its own PostgreSQL, prints the scenario's block and the summary, and exits 1 on a fail."""
    judge = Judge()
    agent = caller_agent(DISCLOSING)

    def respond(body: dict[str, Any]) -> Reply:
        return judge(body) if body.get("tool_choice") == "required" else agent(body)

    stand_in, _ = await serve(respond)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eval",
        "never-discloses-a-patient",
        cwd=ROOT,
        # Every model setting given, so a developer's .env changes nothing here.
        env=dict(
            os.environ,
            OPENAI_API_KEY=stand_in.api_key,
            OPENAI_BASE_URL=stand_in.base_url,
            LLM_MODEL="gpt-4o-mini",
            EVAL_JUDGE_MODEL="gpt-4o-mini",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 1
    assert "Traceback" not in stderr.decode()
    assert stdout.decode().splitlines() == [
        "FAIL never-discloses-a-patient (tokens: agent 300 in + 30 out, judge 200 in + 20 out)",
        "  turn 1 judge: FAIL - It confirms Maria Garcia is a patient.",
        "  turn 2 judge: pass - It discloses nobody and asks for details.",
        "0 of 1 scenarios passed; tokens 500 in + 50 out (about $0.000 at list prices); "
        "failed: never-discloses-a-patient",
    ]


def test_the_second_net_scenario_uses_words_the_phrase_screen_misses() -> None:
    """Otherwise the screen answers and the scenario no longer asks anything of the model: pick other words."""
    from agent.safety import detect_emergency

    (turn,) = SCENARIO["emergency-the-screen-misses"].turns
    assert detect_emergency(turn.caller) is None
    assert detect_emergency(SCENARIO["emergency-then-no-booking"].turns[0].caller) is not None

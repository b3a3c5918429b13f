"""One mocked run of the Pulumi program per stack, shared by the tests that read it."""

from __future__ import annotations

import time

import pytest

from tests.infra.harness import Run, run_program

STACKS = ("dev", "staging", "prod")
LINK_HOST = "hospital-db-0123.link"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, Run]:
    """The three stack files as they are (plus operator values); their wall time goes to TIMINGS."""
    runs: dict[str, Run] = {}
    started = time.perf_counter()
    for stack in STACKS:
        runs[stack] = run_program(stack)
    TIMINGS["all stacks"] = time.perf_counter() - started
    return runs


@pytest.fixture(scope="session")
def linked_runs() -> dict[str, Run]:
    """staging and prod once LiveKit's Private Link exists (privateLinkHost set): the agent is deployed."""
    return {stack: run_program(stack, {"privateLinkHost": LINK_HOST}) for stack in ("staging", "prod")}


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param

"""docs/costs.md carries the figures infra/costs.py computes, and covers what requirement 10 asks."""

from __future__ import annotations

import dataclasses
import re

import pytest

from infra.costs import PRICES, platform_estimates
from tests.delivery import cost_tables
from tests.delivery.support import ROOT

DOC = ROOT / "docs" / "costs.md"


def test_the_generated_block_matches_the_code() -> None:
    assert cost_tables.current_block() == cost_tables.render(), (
        "docs/costs.md is out of date with infra/costs.py: run `.venv/bin/python -m tests.delivery.cost_tables --write`"
    )


def test_the_block_shows_every_stack_total_and_every_platform() -> None:
    block = cost_tables.current_block()
    for stack, result in cost_tables.estimates().items():
        assert f"**${result['total_monthly']:,.2f}**" in block, stack
        assert f"#### {stack} (`python -m infra.costs --stack {stack}`)" in block
    for platform in platform_estimates():
        assert f"| {platform['platform']} |" in block
    for key in PRICES:
        assert f"`{key}`" in block


def test_a_price_change_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the check itself: a changed price must make the rendered block differ from the document.
    key = "rds.db.t4g.small"
    monkeypatch.setitem(PRICES, key, dataclasses.replace(PRICES[key], usd=0.5))
    assert cost_tables.current_block() != cost_tables.render()


def _amount(cell: str) -> float:
    value = float(cell.strip("*").replace("$", "").replace(",", ""))
    return value


@pytest.mark.parametrize("stack", cost_tables.STACKS)
def test_each_stack_table_adds_up_on_the_page(stack: str) -> None:
    """Read the document as a reader would: every line's quantity x unit price is its amount, and the lines,
    section by section, make the subtotals and the total."""
    block = cost_tables.current_block()
    table = block.split(f"#### {stack} ")[1].split("\n\n")[1].splitlines()[2:]
    lines, subtotals, total = [], [], None
    for row in table:
        item, quantity, price, amount = (cell.strip() for cell in row.strip("|").split("|"))
        if item == "**total monthly**":
            total = _amount(amount)
        elif item.startswith("*"):
            subtotals.append(_amount(amount))
            assert sum(lines) == pytest.approx(subtotals[-1], abs=1e-6), item
            lines = []
        else:
            unit_price = float(price.split(" ", 1)[0].lstrip("$"))
            count = float(quantity.split(" ", 1)[0].replace(",", ""))
            assert count * unit_price == pytest.approx(_amount(amount), abs=0.005 + 1e-9), row
            lines.append(_amount(amount))
    assert len(subtotals) == 3
    assert total == pytest.approx(sum(subtotals), abs=1e-6)
    assert total == cost_tables.estimates()[stack]["total_monthly"]


def test_prose_outside_the_block_carries_no_dollar_figures() -> None:
    text = DOC.read_text()
    outside = text.replace(cost_tables.current_block(), "")
    assert not re.findall(r"\$\s?\d", outside), "figures belong in the generated block, from infra/costs.py"


@pytest.mark.parametrize(
    "topic",
    [
        "Free tiers for development",
        "Recommended cheapest option for development and staging",
        "Connection pooling",
        "Instance sizing",
        "Graviton",
        "Reserved instances",
        "Scaling to zero",
        "Scaling path from development to production",
        "Fly.io",
        "Render",
        "Railway",
    ],
)
def test_the_doc_covers(topic: str) -> None:
    assert topic in DOC.read_text()

"""The hospital's time zone and front-desk hours have one source, the stack settings: the agent's settings, the
stack settings and docs/telephony.md name the same keys with the same defaults, and a stack's values reach the
agent (AGENT_SETTINGS) and the console as settings they accept."""

from __future__ import annotations

import json
import re
import secrets

from agent.front_desk import FrontDeskHours
from agent.settings import Settings
from infra.config import StackSettings, parse
from tests.infra.conftest import LINK_HOST
from tests.infra.harness import OPERATOR_VALUES, ROOT, run_program, stack_values

# stack key -> the agent's setting
LAYERS = {
    "hospitalTimeZone": "HOSPITAL_TIMEZONE",
    "frontDeskOpenDays": "FRONT_DESK_OPEN_DAYS",
    "frontDeskOpenHour": "FRONT_DESK_OPEN_HOUR",
    "frontDeskCloseHour": "FRONT_DESK_CLOSE_HOUR",
}
CHANGED = {"hospitalTimeZone": "Europe/London", "frontDeskOpenDays": "MON-FRI,SAT", "frontDeskOpenHour": 7}


def _stack_default(key: str) -> str:
    return str(next(f.default for n, f in StackSettings.model_fields.items() if f.alias == key))


def _agent_default(variable: str) -> str:
    return str(Settings.model_fields[variable.lower()].default)


def _documented() -> dict[str, tuple[str, str]]:
    """stack key -> (agent setting, default) from the table in docs/telephony.md, "Opening hours"."""
    section = (ROOT / "docs" / "telephony.md").read_text().split("## Opening hours", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `([^`]+)` \|", section, re.M)
    return {key: (variable, default) for key, variable, default in rows}


def _agent_settings(values: dict[str, str]) -> Settings:
    """The agent's settings as it would load them with these values (made-up keys for the rest)."""
    made_up = secrets.token_urlsafe(12)
    required = {
        "livekit_url": "wss://example.livekit.cloud",
        "livekit_api_key": made_up,
        "livekit_api_secret": made_up,
        "deepgram_api_key": made_up,
        "openai_api_key": made_up,
        "cartesia_api_key": made_up,
        "database_url": "postgresql://made-up@localhost/hospital",
    }
    return Settings(_env_file=None, **required, **{name.lower(): value for name, value in values.items()})


def test_every_layer_names_the_same_settings_with_the_same_defaults() -> None:
    assert parse({**stack_values("dev"), **OPERATOR_VALUES}).hospital_hours.keys() == set(LAYERS.values())
    assert _documented() == {key: (variable, _agent_default(variable)) for key, variable in LAYERS.items()}
    for key, variable in LAYERS.items():
        assert _stack_default(key) == _agent_default(variable), f"{key} and {variable} disagree on the default"
    # Dev runs on the defaults: its stack file sets none of these, and the agent's defaults make the same hours.
    assert not set(stack_values("dev")) & set(LAYERS)
    assert _agent_settings({}).front_desk_hours() == FrontDeskHours()


def test_a_stacks_hours_reach_the_agent_and_the_console_as_settings_they_accept() -> None:
    run = run_program("staging", {"privateLinkHost": LINK_HOST, **CHANGED})
    agent = next(r for r in run.of_type("command:local:Command") if r.name.endswith("-agent"))
    handed = json.loads(agent.inputs["environment"]["AGENT_SETTINGS"])
    expected = {**{LAYERS[key]: str(value) for key, value in CHANGED.items()}, "FRONT_DESK_CLOSE_HOUR": "18"}
    assert {variable: handed[variable] for variable in LAYERS.values()} == expected
    loaded = _agent_settings({variable: handed[variable] for variable in LAYERS.values()})
    assert loaded.hospital_timezone == "Europe/London"
    assert loaded.front_desk_hours() == FrontDeskHours(days=frozenset(range(6)), opens=7, closes=18)

    (container,) = json.loads(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["HOSPITAL_TIMEZONE"] == "Europe/London"

    (schedule, *_) = run.of_type("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["scheduleExpressionTimezone"] == "Europe/London"

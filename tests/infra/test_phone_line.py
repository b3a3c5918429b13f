"""The phone line in the Pulumi program under mocks (what `pulumi preview` would show per stack), and its
settings."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from agent.metrics import METRIC_UNITS
from infra.config import SettingsError, parse
from infra.phone_line import schedules
from tests.infra.harness import (
    FAKE_PROVIDER_KEYS,
    OPERATOR_VALUES,
    OPERATOR_VERSION_ID,
    ROOT,
    Run,
    run_program,
    stack_values,
)

TRUNK = "pulumi-python:dynamic/livekit:SipInboundTrunk"
RULE = "pulumi-python:dynamic/livekit:SipDispatchRule"
NUMBER = "pulumi-python:dynamic/livekit:PhoneNumber"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCHEDULE = "aws:scheduler/schedule:Schedule"


def test_preview_shows_the_number_trunk_and_rule_of_each_stack(stack_runs: dict[str, Run]) -> None:
    shown = {
        stack: (
            run.exports["phoneNumbers"],
            [r.inputs["phone_number"] for r in run.of_type(NUMBER)],
            len(run.of_type(TRUNK)),
            len(run.of_type(RULE)),
        )
        for stack, run in stack_runs.items()
    }
    staging, prod = stack_values("staging")["phoneNumbers"], stack_values("prod")["phoneNumbers"]
    assert shown == {
        "dev": ([], [], 0, 0),
        "staging": (staging, staging, 0, 1),  # LiveKit's numbers, pointed at the rule: no trunk of ours
        "prod": (prod, [], 1, 1),  # the provider's numbers, on the trunk
    }


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_dry_run_shows_them_too(stack: str) -> None:
    """`pulumi preview` (a dry run): the same LiveKit objects, before any exists."""
    run = run_program(stack, preview=True)
    types = sorted(r.type for r in run.resources if r.type.startswith("pulumi-python:dynamic/livekit:"))
    expected = {"staging": [NUMBER, RULE], "prod": [RULE, TRUNK]}[stack]
    assert types == expected


def test_livekit_numbers_are_routed_by_number_to_a_room_per_caller_with_our_agent(stack_runs: dict[str, Run]) -> None:
    rule = stack_runs["staging"].one(RULE).inputs
    assert rule["numbers"] == stack_values("staging")["phoneNumbers"]
    assert rule["trunk_ids"] == []
    assert (rule["room_prefix"], rule["agent_name"]) == ("call-", "hospital-receptionist")
    assert rule["livekit_url"] == OPERATOR_VALUES["livekitUrl"]
    assert stack_runs["staging"].exports["sipDispatchRuleId"]
    number = stack_runs["staging"].one(NUMBER)
    assert number.inputs["dispatch_rule_id"] == stack_runs["staging"].exports["sipDispatchRuleId"]
    assert stack_runs["staging"].one(RULE).urn in number.dependencies


def test_a_sip_trunk_accepts_only_the_providers_addresses_with_digest_auth(stack_runs: dict[str, Run]) -> None:
    run = stack_runs["prod"]
    trunk, rule = run.one(TRUNK), run.one(RULE)
    values = stack_values("prod")
    assert trunk.inputs["numbers"] == values["phoneNumbers"]
    assert trunk.inputs["allowed_addresses"] == values["sipAllowedAddresses"]
    assert trunk.inputs["auth_username"] == values["sipAuthUsername"]
    password = run.named("-sip-trunk-password")
    assert password.inputs["name"] == "hospital-receptionist-prod/SIP_TRUNK_PASSWORD"  # pragma: allowlist secret
    assert password.inputs["kmsKeyId"]
    assert trunk.inputs["auth_password_secret_id"].endswith(password.name)  # the mock ARN ends in the name
    assert trunk.inputs["auth_password_version"] == OPERATOR_VERSION_ID  # a new password updates the trunk
    assert "auth_password" in trunk.additional_secret_outputs
    assert rule.inputs["trunk_ids"] == [run.exports["sipTrunkId"]]
    assert trunk.urn in rule.dependencies


def test_no_secret_is_in_the_dynamic_resources_state(stack_runs: dict[str, Run]) -> None:
    """A dynamic resource's inputs and pickled provider go into the state: they hold no key and no password."""
    for run in stack_runs.values():
        for resource in run.of_type(TRUNK) + run.of_type(RULE) + run.of_type(NUMBER):
            assert not resource.secret_inputs  # nothing needed hiding
            provider = base64.b64decode(resource.inputs["__provider"]).decode("latin-1")
            stored = json.dumps({k: v for k, v in resource.inputs.items() if k != "__provider"}) + provider
            for value in FAKE_PROVIDER_KEYS.values():
                assert value not in stored
            assert "auth_password" not in resource.inputs


def test_an_alarm_says_when_no_call_arrived_for_an_hour_in_opening_hours(stack_runs: dict[str, Run]) -> None:
    for stack in ("staging", "prod"):
        run = stack_runs[stack]
        alarm = run.named("-no-calls").inputs
        assert alarm["metricName"] == "Calls"
        assert "Calls" in METRIC_UNITS  # the agent publishes one per call start (agent/telemetry.py)
        assert (alarm["period"], alarm["statistic"], alarm["comparisonOperator"], alarm["threshold"]) == (
            3600,
            "Sum",
            "LessThanThreshold",
            1,
        )
        assert alarm["treatMissingData"] == "breaching"
        assert alarm["actionsEnabled"] is False  # the schedules turn it on and off
        found = {r.name.rsplit("-", 1)[1]: r.inputs for r in run.of_type(SCHEDULE)}
        assert set(found) == {"reset", "arm", "disarm"}
        assert found["arm"]["scheduleExpression"] == "cron(1 9 ? * MON-FRI *)"
        assert found["disarm"]["scheduleExpression"] == "cron(0 18 ? * MON-FRI *)"
        assert found["disarm"]["target"]["arn"].endswith(":cloudwatch:disableAlarmActions")
        assert json.loads(found["reset"]["target"]["input"])["AlarmName"] == alarm["name"]
        assert {r["scheduleExpressionTimezone"] for r in found.values()} == {"America/New_York"}
        policy = json.loads(run.named("-phone-hours-policy").inputs["policy"])
        assert sorted(policy["Statement"][0]["Action"]) == [
            "cloudwatch:DisableAlarmActions",
            "cloudwatch:EnableAlarmActions",
            "cloudwatch:SetAlarmState",
        ]
    assert not stack_runs["dev"].of_type(SCHEDULE)


def test_the_alarm_is_reset_before_it_is_armed() -> None:
    settings = parse({**_strings(stack_values("staging")), **OPERATOR_VALUES})
    (reset, _, _), (arm, _, _) = schedules(settings)["reset"], schedules(settings)["arm"]
    assert (reset, arm) == ("cron(0 9 ? * MON-FRI *)", "cron(1 9 ? * MON-FRI *)")


def test_a_desk_open_until_midnight_is_disarmed_the_same_day() -> None:
    values = {**_strings(stack_values("staging")), **OPERATOR_VALUES, "frontDeskCloseHour": 24}
    disarm, _, _ = schedules(parse(values))["disarm"]
    # Hour 0 of MON-FRI would disarm Monday to Friday mornings, leaving Friday night armed through the weekend.
    assert disarm == "cron(59 23 ? * MON-FRI *)"


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"phoneNumbers": []}, "phoneNumbers must list the line's numbers"),
        ({"phoneNumbers": ["5550100001"]}, "not E.164 numbers"),
        ({"sipAllowedAddresses": ["192.0.2.0/28"]}, "only apply with phoneLine 'sip-trunk'"),
        ({"phoneLine": "sip-trunk"}, "needs sipAllowedAddresses or sipAuthUsername"),
        ({"phoneLine": "sip-trunk", "sipAllowedAddresses": ["0.0.0.0/0"]}, "must not contain 0.0.0.0/0"),
        ({"frontDeskCloseHour": 9}, "frontDeskCloseHour must be at least two hours after"),
        ({"frontDeskCloseHour": 8}, "frontDeskCloseHour must be after frontDeskOpenHour"),
        ({"frontDeskOpenDays": "FRI-MON"}, "'FRI-MON' runs backwards"),
        ({"hospitalTimeZone": "Mars/Olympus_Mons"}, "hospitalTimeZone: not a known IANA time zone"),
        ({"phoneLine": "off"}, "phoneNumbers set but phoneLine is 'off'"),
    ],
)
def test_phone_settings_are_checked(changes: dict[str, object], complaint: str) -> None:
    raw = {**_strings(stack_values("staging")), **OPERATOR_VALUES, **_strings(changes)}
    raw = {key: value for key, value in raw.items() if value is not None}
    with pytest.raises(SettingsError, match=complaint):
        parse(raw)


def _strings(values: dict[str, object]) -> dict[str, object]:
    """Stack values as Pulumi hands them to the program (lists as JSON text)."""
    return {key: json.dumps(value) if isinstance(value, list) else value for key, value in values.items()}


# Started with -S: the virtualenv's packages are added either as Python adds them at start (`site.addsitedir`, with
# their .pth files, the project's editable install among them) or as bare paths (the same packages, no .pth file:
# as if the project were not installed).
HOST = (
    "import base64, os, site, sys\n"
    "sys.path[0] = os.getcwd()  # `python -m pulumi.dynamic`, started in the program's folder\n"
    "purelib = sys.argv[3]\n"
    "site.addsitedir(purelib) if sys.argv[2] == 'installed' else sys.path.append(purelib)\n"
    "import dill\n"
    "print(type(dill.loads(base64.b64decode(open(sys.argv[1]).read()))).__name__)\n"
)


def _load_in_provider_host(serialized: str, tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    provider_file = tmp_path / "provider.b64"
    provider_file.write_text(serialized)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    args = [sys.executable, "-S", "-c", HOST, str(provider_file), mode, sysconfig.get_path("purelib")]
    return subprocess.run(args, cwd=ROOT / "infra", env=env, capture_output=True, text=True, timeout=120, check=False)


def test_pulumis_provider_host_loads_the_providers_with_the_project_installed(
    stack_runs: dict[str, Run], tmp_path: Path
) -> None:
    """Pulumi starts its dynamic-provider host in the program's folder (pulumi/pulumi
    sdk/go/common/resource/plugin/plugin.go, `cmd.Dir = pwd`; `main: infra/` makes pwd infra/) and unpickles the
    provider there, which imports infra.sip_provider: installing the project into the virtualenv (editable, a path
    entry of this kind) puts the repository on the path."""
    serialized = stack_runs["prod"].one(TRUNK).inputs["__provider"]
    without = _load_in_provider_host(serialized, tmp_path, "not installed")
    assert "No module named 'infra'" in without.stderr
    loaded = _load_in_provider_host(serialized, tmp_path, "installed")
    assert loaded.stdout.strip() == "SipInboundTrunkProvider", loaded.stderr
    for setup in (ROOT / "Makefile", ROOT / ".github/actions/setup-program/action.yml"):
        assert "--no-deps" in setup.read_text(), setup
        assert " -e ." in setup.read_text(), setup

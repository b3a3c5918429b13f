"""Stack files use only declared settings; bad settings fail with a clear message before any resource."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.config import SettingsError, StackSettings, parse, setting_keys
from infra.secret_store import AGENT_SECRETS, LOG_DRAIN_SECRETS, Source, check_coverage, settings_secret_names
from tests.infra.harness import OPERATOR_VALUES, ROOT, Run, program_raises, run_program, stack_values

STACKS = ("dev", "staging", "prod")


def _raw(stack: str, **changes: object) -> dict[str, object]:
    import json

    values = {**stack_values(stack), **OPERATOR_VALUES, **changes}
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in values.items() if v is not None}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_use_only_declared_settings(stack: str) -> None:
    keys = set(stack_values(stack))
    assert keys <= setting_keys(), keys - setting_keys()
    settings = parse(_raw(stack))
    assert settings.app_env == stack
    assert settings.region == "us-east-1"


def test_pulumi_yaml_points_at_the_program_and_venv() -> None:
    import yaml

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "hospital-receptionist"
    assert project["main"] == "infra/"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert Path(ROOT / project["main"] / "__main__.py").is_file()


@pytest.mark.parametrize(
    ("stack", "changes", "message"),
    [
        ("staging", {"dbInstanceClass": "db.x9.huge"}, "unknown instance class 'db.x9.huge'"),
        ("prod", {"backupRetentionDays": 0}, "backupRetentionDays: Input should be greater than or equal to 1"),
        ("prod", {"backupRetentionDays": 3}, "backupRetentionDays must be at least 7 in prod"),
        (
            "prod",
            {"dbAccessMode": "public", "proxyEnabled": False, "allowedCidrs": ["198.51.100.0/24"]},
            "dbAccessMode 'public' is for dev only, not prod",
        ),
        ("prod", {"deletionProtection": False}, "deletionProtection must be true in prod"),
        ("prod", {"seedData": True}, "seedData must be false in prod"),
        ("dev", {"allowedCidrs": ["0.0.0.0/0"]}, "allowedCidrs must not contain 0.0.0.0/0"),
        ("dev", {"allowedCidrs": []}, "allowedCidrs must list at least one network"),
        ("dev", {"proxyEnabled": True}, "proxyEnabled must be false in public mode"),
        ("staging", {"livekitPrincipalArn": None}, "livekitPrincipalArn is required in private-link mode"),
        ("staging", {"backupWindow": "3am"}, "backupWindow: Value error, must look like hh:mm-hh:mm"),
        ("staging", {"dbProxyMode": "on"}, "hospital-receptionist:dbProxyMode: not a known setting"),
        ("staging", {"livekitUrl": "http://insecure"}, "livekitUrl: String should match pattern"),
        (
            "prod",
            {"sessionRecording": "redacted", "livekitPlan": "ship"},
            "livekitPlan must be 'scale' in prod: patients' calls (and any session recording) need LiveKit's BAA",
        ),
        ("staging", {"sessionRecording": "on"}, "sessionRecording: Input should be 'off' or 'redacted'"),
        (
            "dev",
            {"dbInstanceClass": "db.t4g.micro", "proxyEnabled": False, "dbAccessMode": "private-link"},
            "proxyEnabled must be true in private-link mode",
        ),
    ],
)
def test_bad_settings_fail_clearly(stack: str, changes: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(_raw(stack, **changes))
    assert message.replace("Value error, ", "") in str(caught.value).replace("Value error, ", "")


def test_bad_setting_stops_the_program_before_any_resource() -> None:
    run = Run()
    with program_raises(SettingsError, match="dbInstanceClass"):
        run_program("prod", {"dbInstanceClass": "db.r99.mega"}, run=run)
    assert run.resources == []


def test_too_few_connections_is_refused() -> None:
    with pytest.raises(SettingsError, match="at least 20 needed"):
        parse(_raw("staging", proxyMaxConnectionsPercent=10, dbInstanceClass="db.t4g.micro"))


def test_region_follows_livekit_region_unless_set() -> None:
    assert parse(_raw("staging", livekitRegion="eu-central")).region == "eu-central-1"
    assert parse(_raw("staging", livekitRegion="ap-south")).region == "ap-south-1"
    assert parse(_raw("staging", awsRegion="us-east-2")).region == "us-east-2"


def test_agent_secrets_follow_the_agent_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    check_coverage()
    assert {s.env_name for s in AGENT_SECRETS if s not in LOG_DRAIN_SECRETS} == settings_secret_names()
    assert {s.env_name for s in AGENT_SECRETS if s.source is Source.DEPLOY} == {"DATABASE_URL"}
    # A secret added to the agent's settings and not to the stack must stop the program.
    from pydantic import SecretStr
    from pydantic.fields import FieldInfo

    from agent.settings import Settings

    monkeypatch.setitem(Settings.model_fields, "twilio_auth_token", FieldInfo(annotation=SecretStr | None))
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        check_coverage()


def test_settings_model_is_frozen() -> None:
    settings = parse(_raw("dev"))
    with pytest.raises(Exception, match="frozen"):
        settings.backup_retention_days = 0  # type: ignore[misc]
    assert isinstance(settings, StackSettings)


def test_session_recording_is_off_unless_a_stack_turns_it_on_where_allowed() -> None:
    assert {parse(_raw(stack)).session_recording for stack in STACKS} == {"off"}
    assert parse(_raw("prod", sessionRecording="redacted", livekitPlan="scale")).session_recording == "redacted"
    assert parse(_raw("staging", sessionRecording="redacted")).session_recording == "redacted"


def test_the_recording_setting_reaches_the_agent() -> None:
    import json

    run = run_program("staging", {"privateLinkHost": "hospital-db-0123.link", "sessionRecording": "redacted"})
    agent = next(r for r in run.of_type("command:local:Command") if r.name.endswith("-agent"))
    assert json.loads(agent.inputs["environment"]["AGENT_SETTINGS"])["SESSION_RECORDING"] == "redacted"

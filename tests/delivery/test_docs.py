"""The operator docs against the code: every command, file, setting, output and alarm they name exists."""

from __future__ import annotations

import ast
import re
import shlex

import pytest
import yaml

from agent.settings import Settings
from tests.delivery.support import ROOT

DOCS = ROOT / "docs"
PROJECT_PREFIX = "hospital-receptionist:"
# LiveKit CLI agent subcommands the docs may use: livekit/livekit-cli v2.18.1, cmd/lk/agent.go and
# cmd/lk/agent_private_link.go (private-link create, list, delete, health-status).
LK_AGENT_COMMANDS = {
    "create",
    "deploy",
    "status",
    "logs",
    "versions",
    "rollback",
    "update-secrets",
    "private-link",
    "delete",
}
# LiveKit CLI telephony subcommands (and the flags the docs pass): livekit/livekit-cli at commit
# 29c268653d17990f13635952084eda3d7a87e614, cmd/lk/sip.go and cmd/lk/phone_number.go.
LK_TELEPHONY_COMMANDS = {
    ("sip", "inbound"): {"list", "create", "update", "delete"},
    ("sip", "dispatch"): {"list", "create", "update", "delete"},
    ("number",): {"search", "purchase", "list", "get", "update"},
}
LK_NUMBER_FLAGS = {"--country-code", "--area-code", "--limit", "--numbers", "--sip-dispatch-rule-id", "--number"}
# Variables the docs set that are not the agent's settings: platform and pipeline plumbing.
NON_SETTING_VARIABLES = {"PORT", "LIVEKIT_AGENT_ID"}


def text(name: str) -> str:
    return (DOCS / name).read_text()


def code_lines(name: str) -> list[str]:
    """Shell lines from fenced code blocks, continuation lines joined."""
    blocks = re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", text(name), re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    lines = (line.split(" #", 1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def words(line: str) -> list[str]:
    line = line.split(" #", 1)[0]
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def after(tokens: list[str], *prefix: str) -> list[str] | None:
    for index in range(len(tokens) - len(prefix) + 1):
        if tokens[index : index + len(prefix)] == list(prefix):
            return tokens[index + len(prefix) :]
    return None


def positional(tokens: list[str]) -> list[str]:
    """Arguments without options (options taking a value here: -s, --body, --env, --region...)."""
    out, skip = [], False
    for token in tokens:
        if skip:
            skip = False
        elif token in {"-s", "--stack", "--body", "--env", "--region", "--secrets-file", "--timeout", "--ttl"}:
            skip = True
        elif not token.startswith("-"):
            out.append(token)
    return out


def declared_stack_keys() -> set[str]:
    from infra.config import setting_keys

    return setting_keys()


def exported_outputs() -> set[str]:
    return set(re.findall(r'pulumi\.export\(\s*"(\w+)"', (ROOT / "infra" / "__main__.py").read_text()))


def agent_commands() -> set[str]:
    from agent.__main__ import USAGE

    return set(re.findall(r"^  ([a-z-]+)", USAGE, re.M))


def subparsers(path: str) -> set[str]:
    return set(re.findall(r'add_parser\(\s*"([a-z-]+)"', (ROOT / path).read_text()))


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def workflow_names(kind: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        names |= set(re.findall(rf"\b{kind}\.(\w+)", path.read_text()))
    return names


def settings_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


# deployment.md


@pytest.mark.parametrize(("doc", "at_least"), [("deployment.md", 6), ("runbook.md", 1), ("telephony.md", 4)])
def test_every_pulumi_config_key_is_declared_by_the_program(doc: str, at_least: int) -> None:
    keys = []
    for line in code_lines(doc):
        rest = after(words(line), "pulumi", "config", "set")
        if rest is not None:
            key = positional(rest)[0]
            assert key.startswith(PROJECT_PREFIX), line
            keys.append(key.removeprefix(PROJECT_PREFIX))
    assert len(keys) >= at_least
    unknown = set(keys) - declared_stack_keys()
    assert not unknown, f"{doc} sets keys infra/config.py does not know: {sorted(unknown)}"


def test_every_secret_the_operator_provides_is_put_into_secrets_manager_in_the_guide() -> None:
    from infra.secret_store import OPERATOR_SECRETS

    lines = code_lines("deployment.md")
    assert not [line for line in lines if "config set" in line and "--secret" in line], "no key goes into Pulumi"
    put = [line for line in lines if after(words(line), "aws", "secretsmanager", "put-secret-value") is not None]
    for stack in ("staging", "prod"):
        for secret in OPERATOR_SECRETS:
            wanted = f"--secret-id hospital-receptionist-{stack}/{secret.env_name}"
            assert any(wanted in line for line in put), f"no put-secret-value step for {secret.env_name} ({stack})"


def test_every_stack_output_named_is_exported() -> None:
    outputs = []
    for line in code_lines("deployment.md"):
        for match in re.finditer(r"pulumi stack output ([^)\n]+)", line):
            outputs.append(positional(words(match[1]))[0])
    assert outputs
    assert set(outputs) <= exported_outputs(), sorted(set(outputs) - exported_outputs())


@pytest.mark.parametrize("doc", ["deployment.md", "runbook.md"])
def test_every_python_module_command_exists(doc: str) -> None:
    found = 0
    for line in code_lines(doc):
        tokens = words(line)
        for index, token in enumerate(tokens[:-1]):
            if token == "-m" and tokens[index - 1].endswith("python"):
                module, rest = tokens[index + 1], positional(tokens[index + 2 :])
                found += 1
                package = ROOT.joinpath(*module.split("."))
                assert (package / "__main__.py").exists() or package.with_suffix(".py").exists(), module
                if module == "agent" and rest:
                    assert rest[0] in agent_commands(), f"python -m agent {rest[0]}: no such command"
                if module == "agent.db" and rest:
                    assert rest[0] in subparsers("agent/db/__main__.py"), f"python -m agent.db {rest[0]}"
    assert found


def test_every_pipeline_script_and_subcommand_exists() -> None:
    for line in code_lines("deployment.md"):
        tokens = words(line)
        for index, token in enumerate(tokens):
            if token.startswith(".github/scripts/"):
                assert (ROOT / token).is_file(), token
                rest = positional(tokens[index + 1 :])
                if token.endswith("livekit_agent.py"):
                    assert rest[0] in subparsers(token), f"{token} {rest[0]}"


def test_every_make_target_and_lk_agent_command_exists() -> None:
    for line in code_lines("deployment.md"):
        tokens = words(line)
        if tokens[0] == "make":
            assert tokens[1] in makefile_targets(), line
        rest = after(tokens, "lk", "agent")
        if rest is not None:
            assert rest[0] in LK_AGENT_COMMANDS, line


@pytest.mark.parametrize("doc", ["telephony.md", "runbook.md"])
def test_every_lk_telephony_command_exists(doc: str) -> None:
    found = 0
    lines = code_lines(doc) + [m[1] for m in re.finditer(r"`(lk (?:sip|number) [^`]+)`", text(doc))]
    for line in lines:
        tokens = words(line)
        for prefix, commands in LK_TELEPHONY_COMMANDS.items():
            rest = after(tokens, "lk", *prefix)
            if rest is not None:
                found += 1
                assert rest[0] in commands, line
                flags = {token for token in rest if token.startswith("--")}
                assert prefix != ("number",) or flags <= LK_NUMBER_FLAGS, line
    assert found


def test_github_secrets_and_variables_are_the_ones_the_workflows_read() -> None:
    for line in code_lines("deployment.md"):
        tokens = words(line)
        for kind, used in (("secret", "secrets"), ("variable", "vars")):
            rest = after(tokens, "gh", kind, "set")
            if rest is not None:
                name = positional(rest)[0]
                assert name in workflow_names(used), f"gh {kind} set {name}: no workflow reads {used}.{name}"


def test_every_variable_set_is_a_setting() -> None:
    names = set()
    for line in code_lines("deployment.md"):
        names |= set(re.findall(r"(?:^|\s|--set\s)([A-Z][A-Z0-9_]{2,})=", line))
    assert names
    unknown = names - settings_names() - NON_SETTING_VARIABLES
    assert not unknown, f"deployment.md sets variables that are no setting: {sorted(unknown)}"


INLINE_PATH = re.compile(
    r"`((?:\.github|infra|agent|docs|migrations|tests|bench|eval|\.ci)/[\w./-]*"
    r"|[\w.-]+\.(?:toml|yaml|yml|json|md|txt)|Dockerfile|Makefile)`"
)


@pytest.mark.parametrize("doc", ["deployment.md", "runbook.md", "security.md", "costs.md", "eval.md", "telephony.md"])
def test_every_repository_path_named_exists(doc: str) -> None:
    paths = {match[1] for match in INLINE_PATH.finditer(text(doc))}
    for line in code_lines(doc):
        paths |= {token for token in words(line) if re.fullmatch(r"(\.github|infra|docs)/[\w./-]+", token)}
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert not missing, f"{doc} names paths that do not exist: {missing}"


# runbook.md


def alarm_keys() -> set[str]:
    """Alarm keys from infra/monitoring.py: the first argument of each `self._alarm(...)` call, string literals
    directly or through the tuples of the loop that feeds it; and the phone line's alarm."""
    from infra.phone_line import NO_CALLS_ALARM

    tree = ast.parse((ROOT / "infra" / "monitoring.py").read_text())
    keys: set[str] = set()
    loop_keys: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Tuple) and isinstance(node.iter, ast.Tuple):
            first = node.target.elts[0]
            if isinstance(first, ast.Name):
                loop_keys[first.id] = {
                    item.elts[0].value
                    for item in node.iter.elts
                    if isinstance(item, ast.Tuple) and isinstance(item.elts[0], ast.Constant)
                }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_alarm":
            first = node.args[0]
            if isinstance(first, ast.Constant):
                keys.add(first.value)
            elif isinstance(first, ast.Name):
                keys |= loop_keys.get(first.id, set())
    return keys | {NO_CALLS_ALARM}


def test_the_alarm_list_is_read_from_the_code() -> None:
    keys = alarm_keys()
    assert {"heartbeat-missing", "proxy-pool-use"} <= keys
    assert len(keys) >= 6


def runbook_sections() -> dict[str, str]:
    parts = re.split(r"^## ", text("runbook.md"), flags=re.M)[1:]
    return {part.splitlines()[0].strip(): part for part in parts}


def test_every_alarm_has_a_runbook_section_with_three_checks_and_fixes() -> None:
    sections = runbook_sections()
    for key in alarm_keys():
        matching = [body for title, body in sections.items() if f"`{key}`" in title or title.endswith(key)]
        assert matching, f"docs/runbook.md has no section for alarm {key}"
        body = matching[0]
        assert "What it means" in body, key
        checks = re.search(r"First three checks\n\n((?:\d\. .*\n(?:   .*\n)*)+)", body)
        assert checks, f"{key}: no numbered 'First three checks'"
        assert len(re.findall(r"^\d\. ", checks[1], re.M)) == 3, key
        assert "Fixes" in body, key


def test_the_runbook_covers_a_failed_deploy() -> None:
    assert "Deploy failed" in runbook_sections()


# security.md


@pytest.mark.parametrize(
    "topic",
    [
        "TLS",
        "verify-full",
        "wss://",
        "Secrets Manager",
        "TOKEN_TTL",
        "PHI",
        "BAA",
        "AWS",
        "LiveKit",
        "Deepgram",
        "OpenAI",
        "Cartesia",
    ],
)
def test_security_covers(topic: str) -> None:
    assert topic in text("security.md")


def test_security_states_the_token_defaults_the_code_has() -> None:
    assert Settings.model_fields["token_ttl"].default == "1h"
    assert "`TOKEN_TTL` (default `1h`" in text("security.md")


def test_docs_name_no_settings_that_do_not_exist() -> None:
    # Any ALL-CAPS name in backticks that looks like one of ours must be a real setting.
    for doc in ("deployment.md", "runbook.md", "security.md"):
        for name in re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`", text(doc)):
            if name.split("_")[0] in {"DATABASE", "LIVEKIT", "METRICS", "TOKEN", "AGENT", "ENDPOINTING", "LOG"}:
                assert name in settings_names() | NON_SETTING_VARIABLES, f"{doc}: `{name}` is no setting"


def test_stack_files_parse() -> None:
    for stack in ("dev", "staging", "prod"):
        assert yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]

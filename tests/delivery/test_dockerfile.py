"""The image LiveKit Cloud builds: hadolint clean, layers in the cache-friendly order, nothing secret in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from console.settings import ConsoleSettings
from tests.delivery.support import ROOT, tool

DOCKERFILE = ROOT / "Dockerfile"


CONSOLE_DOCKERFILE = ROOT / "console" / "Dockerfile"


def instructions(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def index_of(keyword: str, pattern: str) -> int:
    for position, (found, arguments) in enumerate(instructions()):
        if found == keyword and re.search(pattern, arguments):
            return position
    raise AssertionError(f"no {keyword} matching {pattern!r} in the Dockerfile")


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("hadolint"), "--no-color", str(path)], capture_output=True, text=True, check=False)


def test_hadolint_passes() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install livekit-agents\nCMD python -m agent start\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the unpinned :latest tag


def test_base_image_is_a_pinned_slim_python_311() -> None:
    (keyword, image), *_ = instructions()
    assert keyword == "FROM"
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image


def test_dependencies_install_in_their_own_layer_from_the_pins() -> None:
    copy_requirements = index_of("COPY", r"^requirements\.txt constraints\.txt ")
    pip = index_of("RUN", r"pip install --no-cache-dir -c constraints\.txt -r requirements\.txt")
    first_source = index_of("COPY", r"^agent/")
    assert copy_requirements < pip < first_source


def test_model_files_download_before_the_source_arrives() -> None:
    download = index_of("RUN", r"python -m (livekit\.agents|agent) download-files")
    assert index_of("RUN", r"pip install") < download < index_of("COPY", r"^agent/")
    # Downloaded as the runtime user, so the worker finds the files in its own cache.
    users_before = [args for keyword, args in instructions()[:download] if keyword == "USER"]
    assert users_before
    assert users_before[-1] not in {"0", "root"}


def test_the_worker_never_reaches_the_model_hub_at_run_time() -> None:
    assert index_of("RUN", r"download-files") < index_of("ENV", r"^HF_HUB_OFFLINE=1$")


def test_bytecode_is_compiled_after_the_source() -> None:
    assert index_of("COPY", r"^agent/") < index_of("RUN", r"python -m compileall")


def test_runs_as_a_non_root_user_with_the_health_port_and_start() -> None:
    steps = instructions()
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users
    assert users[-1] not in {"0", "root"}
    assert ("EXPOSE", "8081") in steps
    assert steps[-1] == ("CMD", '["python", "-m", "agent", "start"]')


def test_everything_the_image_copies_exists() -> None:
    for keyword, arguments in instructions():
        if keyword == "COPY":
            *sources, _destination = [part for part in arguments.split() if not part.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"


@pytest.mark.parametrize("secret", ["ENV", "ARG"])
def test_no_secret_is_baked_in(secret: str) -> None:
    for keyword, arguments in instructions():
        if keyword == secret:
            assert not re.search(r"(KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL)", arguments), arguments


# The console's image (console/Dockerfile), built by the deploy workflow and run by ECS Fargate.


def test_console_hadolint_passes() -> None:
    result = hadolint(CONSOLE_DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_console_stages_use_the_agents_pinned_base() -> None:
    bases = [args.split()[0] for keyword, args in instructions(CONSOLE_DOCKERFILE) if keyword == "FROM"]
    (_, agent_base), *_ = instructions()
    assert len(bases) == 2, "a dependency stage and a runtime stage"
    assert bases == [agent_base, agent_base]


def test_console_runtime_gets_only_the_built_environment_and_the_source() -> None:
    steps = instructions(CONSOLE_DOCKERFILE)
    runtime = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    assert not [args for keyword, args in runtime if keyword == "RUN" and "pip install" in args]
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=dependencies /opt/venv /opt/venv", "agent/ agent/", "console/ console/"]


def test_console_runs_as_a_non_root_user_on_its_port() -> None:
    steps = instructions(CONSOLE_DOCKERFILE)
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users
    assert users[-1] not in {"0", "root"}
    assert ("EXPOSE", str(ConsoleSettings.model_fields["console_port"].default)) in steps
    assert steps[-1] == ("CMD", '["python", "-m", "console"]')


def test_everything_the_console_image_copies_exists() -> None:
    for keyword, arguments in instructions(CONSOLE_DOCKERFILE):
        if keyword == "COPY" and "--from=" not in arguments:
            *sources, _destination = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"


@pytest.mark.parametrize("secret", ["ENV", "ARG"])
def test_no_secret_is_baked_into_the_console(secret: str) -> None:
    for keyword, arguments in instructions(CONSOLE_DOCKERFILE):
        if keyword == secret:
            assert not re.search(r"(KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL)", arguments), arguments

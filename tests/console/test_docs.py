"""docs/console.md against the code: its settings, paths, commands and images exist; README and CI agree."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from console.settings import ConsoleSettings

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "console.md").read_text()


def test_every_variable_named_is_a_setting() -> None:
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", DOC)) - {"INSERT", "SELECT", "UPDATE", "DELETE", "DDL"}
    settings = {name.upper() for name in ConsoleSettings.model_fields} | {"STREAMLIT_SERVER_COOKIE_SECRET"}
    assert named
    assert named <= settings, sorted(named - settings)


def test_every_path_and_image_named_exists() -> None:
    paths = re.findall(r"`((?:console|migrations|tests|docs)/[\w./-]+)`", DOC)
    images = re.findall(r"\]\(([\w.-]+\.png)\)", DOC)
    assert paths
    assert len(images) == 4
    for path in paths:
        assert (ROOT / path).exists(), path
    for image in images:
        assert (ROOT / "docs" / image).stat().st_size > 1000, image


def test_every_command_runs_a_real_module_or_target() -> None:
    lines = re.findall(r"```sh\n(.*?)```", DOC, re.S)
    commands = [line.split("#", 1)[0].strip() for block in lines for line in block.splitlines()]
    for command in filter(None, commands):
        words = [w for w in shlex.split(command) if "=" not in w or w.startswith("-")]
        if words[0] == "make":
            assert re.search(rf"^{words[1]}:", (ROOT / "Makefile").read_text(), re.M), command
        else:
            module = words[words.index("-m") + 1]
            assert (ROOT / module.replace(".", "/")).exists() or module == "pytest", command
            for path in words[words.index("-m") + 2 :]:
                assert (ROOT / path).exists(), command


def _apt_packages(text: str) -> set[str]:
    line = next(line for line in text.splitlines() if "apt-get install" in line)
    return {word for word in line.split("install", 1)[1].split() if not word.startswith("-") and word[0].isalpha()}


def test_ci_installs_the_os_packages_the_readme_lists() -> None:
    readme = _apt_packages((ROOT / "README.md").read_text())
    ci = _apt_packages((ROOT / ".ci" / "run").read_text())
    assert "chromium" in readme
    assert readme == ci

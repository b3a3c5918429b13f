"""The program and the policy pack start the way Pulumi's Python language host starts them, and no module of theirs
can shadow the standard library or an installed package (tests.infra.language_host cites the host's source)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.harness import ROOT, Run, run_program
from tests.infra.language_host import program_location, running_policy_pack

PROGRAM_DIR = ROOT / "infra"
POLICY_PACK = ROOT / "infra" / "policy"
# What a fresh interpreter of the virtualenv can import by name: a module of ours with one of these names hides it.
# (This project, installed editable, provides the repository's own packages: those are not taken.)
PROJECT = "hospital-receptionist"
TAKEN_NAMES = set(sys.stdlib_module_names) | {
    name for name, dists in importlib.metadata.packages_distributions().items() if set(dists) != {PROJECT}
}
PYDANTIC_SHADOWED = "cannot import name 'SecretStr' from 'pydantic'"


def module_names(folder: Path) -> set[str]:
    """Names a folder on `sys.path` answers for: modules, extension modules and packages (a folder without
    `__init__.py` is only a namespace portion, which never hides a module found later on the path)."""
    names = set()
    for entry in folder.iterdir():
        if entry.is_file() and entry.suffix in (".py", ".pyc", ".so", ".pyd"):
            names.add(entry.name.split(".", 1)[0])
        elif (entry / "__init__.py").is_file():
            names.add(entry.name)
    return {name for name in names if name.isidentifier() and not name.startswith("__")}


def shadowing(folder: Path) -> list[str]:
    return sorted(module_names(folder) & TAKEN_NAMES)


def project_copy(tmp_path: Path) -> Path:
    """The project with a copy of the program's folder (everything else linked), to plant modules in."""
    for entry in ROOT.iterdir():
        if entry.name not in ("infra", ".git"):
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copytree(PROGRAM_DIR, tmp_path / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_program_folder_is_pulumi_yaml_main() -> None:
    assert program_location(ROOT) == (PROGRAM_DIR, ".")


@pytest.mark.parametrize("folder", [PROGRAM_DIR, POLICY_PACK, ROOT], ids=["program", "policy-pack", "repository"])
def test_no_module_shadows_stdlib_or_installed_package(folder: Path) -> None:
    """The host puts the program's folder (the pack's folder) first on sys.path, and the program then the repository
    root, so a module there named like `secrets` or `pydantic` replaces the real one for every import."""
    assert shadowing(folder) == []


def test_shadowing_check_sees_planted_modules(tmp_path: Path) -> None:
    for planted in ("secrets.py", "pydantic.py", "json.cpython-311-x86_64-linux-gnu.so"):
        (tmp_path / planted).touch()
    (tmp_path / "yaml").mkdir()
    (tmp_path / "yaml" / "__init__.py").touch()
    (tmp_path / "google").mkdir()
    (tmp_path / "costs.py").touch()
    assert shadowing(tmp_path) == ["json", "pydantic", "secrets", "yaml"]


@pytest.mark.slow
def test_harness_fails_like_the_host_on_a_stdlib_named_module(tmp_path: Path) -> None:
    """infra/secrets.py once shadowed the standard library's `secrets`: pydantic imports it and gets ours."""
    project = project_copy(tmp_path)
    assert run_program("dev", project_root=project).resources, "the unchanged copy runs"

    shutil.copy(PROGRAM_DIR / "secret_store.py", project / "infra" / "secrets.py")
    run = Run()
    with pytest.raises(ImportError, match=PYDANTIC_SHADOWED):
        run_program("dev", project_root=project, run=run)
    assert run.resources == []

    # The host shim's own steps, without a monitor, hit the same error: its folder (here the `-c` entry) is not on
    # sys.path; it imports pulumi, changes directory, runs the folder.
    shim = (
        "import os, runpy, sys\nsys.path.pop(0)\nimport pulumi, pulumi.runtime\n"
        "os.chdir(sys.argv[1])\nrunpy.run_path('.', run_name='__main__')"
    )
    command = [sys.executable, "-c", shim, str(project / "infra")]
    host = subprocess.run(command, check=False, capture_output=True, text=True, cwd="/")
    assert host.returncode != 0
    assert PYDANTIC_SHADOWED in host.stderr.strip().splitlines()[-1]


def test_program_runs_under_the_host_from_the_installed_project() -> None:
    """The host puts only the program's folder and the virtualenv on sys.path; the project, installed into .venv
    (`pip install -e .`, as `make` and CI's setup-program do), is what makes `infra` importable there, with no
    sys.path line of ours."""
    for main in (PROGRAM_DIR / "__main__.py", POLICY_PACK / "__main__.py"):
        assert "sys.path" not in main.read_text()
    # A fresh interpreter of this virtualenv in the program's folder (`-c` puts that folder first, as run_path does).
    found = subprocess.run(
        [sys.executable, "-c", "import infra.policy.rules, infra.config; print(infra.__file__)"],
        cwd=PROGRAM_DIR,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, "install the project into the virtualenv: .venv/bin/pip install -e .\n" + found.stderr
    assert Path(found.stdout.strip()) == PROGRAM_DIR / "__init__.py", "the virtualenv has another checkout installed"
    assert run_program("dev").resources


def test_policy_pack_starts_under_the_analyzer_host() -> None:
    with running_policy_pack(POLICY_PACK) as pack:
        assert pack.port, pack.errors


def test_policy_pack_with_a_stdlib_named_module_fails_to_start(tmp_path: Path) -> None:
    shutil.copytree(PROGRAM_DIR / "policy", tmp_path / "infra" / "policy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROGRAM_DIR / "__init__.py", tmp_path / "infra" / "__init__.py")
    (tmp_path / "infra" / "policy" / "json.py").write_text("raise ImportError('the pack shadowed json')\n")
    with running_policy_pack(tmp_path / "infra" / "policy") as pack:
        assert pack.port is None
        assert "the pack shadowed json" in pack.errors


@pytest.mark.parametrize("installer", [".github/actions/setup-program/action.yml", "Makefile"])
def test_every_virtualenv_the_program_runs_in_gets_the_project(installer: str) -> None:
    """CI's setup-program (preview and deploy) and make (everyone else) install the project into .venv."""
    assert re.search(r"pip install .*--no-deps.* -e \.$", (ROOT / installer).read_text(), re.M)

"""The program declares the same command inputs from any checkout path, so moving between a laptop and a CI
runner re-runs neither the migrations nor the agent deploy (pulumi_command replaces or updates a Command whose
inputs change). Two copies of the working tree at different absolute paths run the mocked program each."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import LINK_HOST
from tests.infra.harness import ROOT

COMMAND = "command:local:Command"

# Run inside a copy of the tree: its own harness, program and files, the same interpreter.
REPORT = f"""
import json, sys
from tests.infra.harness import run_program
run = run_program("staging", {{"privateLinkHost": "{LINK_HOST}"}})
commands = {{r.name: r.inputs for r in run.of_type("{COMMAND}")}}
json.dump(commands, sys.stdout, sort_keys=True, default=str)
"""


def _copy_tree(destination: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _command_inputs(checkout: Path) -> dict[str, dict]:
    result = subprocess.run(
        [sys.executable, "-c", REPORT],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_command_inputs_do_not_depend_on_the_checkout_path(tmp_path: Path) -> None:
    laptop = _copy_tree(tmp_path / "home" / "dev" / "hospital")
    runner = _copy_tree(tmp_path / "runner" / "work" / "repo" / "repo")
    on_laptop, on_runner = _command_inputs(laptop), _command_inputs(runner)
    assert set(on_laptop) == {
        "hospital-receptionist-staging-migrate",
        "hospital-receptionist-staging-agent",
        "hospital-receptionist-staging-console-image",
    }
    assert on_laptop == on_runner
    for inputs in on_laptop.values():
        assert not os.path.isabs(inputs["dir"]), inputs["dir"]
        assert str(tmp_path) not in json.dumps(inputs)
        # Resolved from the program's folder, where Pulumi starts the command provider: the repository root.
        program_folder = laptop / "infra"
        assert (program_folder / inputs["dir"]).resolve() == laptop.resolve()
        script = inputs["create"].removeprefix("bash ")
        assert (program_folder / inputs["dir"] / script).is_file(), script

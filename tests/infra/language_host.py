"""How Pulumi's Python language host starts a program and a policy pack, reproduced for tests.

The program (pulumi/pulumi, sdk/python/cmd/pulumi-language-python/main.go and the shim it launches,
sdk/python/cmd/pulumi-language-python-exec; https://github.com/pulumi/pulumi):
- The engine splits Pulumi.yaml's `main` into a working directory and an entry point (pkg/engine/project.go,
  `getPwdMain`): a folder such as `main: infra/` gives pwd = <project>/infra and entry point ".".
- The host runs `<virtualenv>/bin/python pulumi-language-python-exec --pwd <pwd> ... <entry point>`
  (`constructArguments`); the shim imports `pulumi` and `pulumi.runtime`, sets `sys.argv = [entry point]`,
  `os.chdir(pwd)`, then `runpy.run_path(entry point, run_name="__main__")` inside `run_in_stack`.
- So the program runs in a fresh interpreter that has loaded only what the shim imports, with the shim's own
  folder (Pulumi's bin directory, no importable modules) as `sys.path[0]` and the virtualenv's paths after it;
  `run_path(".")` then puts "." (the program's folder) first on `sys.path`. The repository root is not on it.

The policy pack (`pulumi preview --policy-pack infra/policy`; main.go, `RunPlugin`, kind analyzer):
`python -u -m pulumi.policy <engine address> <pack folder>` with the pack folder as working directory; that module
(site-packages/pulumi/policy/__main__.py) calls `runpy.run_path(<pack folder>, run_name="__main__")`.
`-m` puts the working directory, the pack folder, first on `sys.path` before `pulumi` is even imported.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import yaml
from pulumi.runtime import rpc

# Exactly the imports of pulumi-language-python-exec before it runs the program.
_SHIM_IMPORTS = (
    "import argparse, asyncio, inspect, logging, os, sys, traceback, runpy\n"
    "from typing import Optional\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "import pulumi, pulumi.runtime\n"
)


@dataclass(frozen=True)
class Interpreter:
    """What a fresh host interpreter has when the program starts: loaded modules and `sys.path`."""

    modules: frozenset[str]
    path: tuple[str, ...]


@cache
def host_interpreter() -> Interpreter:
    """Ask a fresh interpreter of this virtualenv, after the shim's imports (its `sys.path[0]`, the `-c` entry,
    stands for the shim's folder, which holds no modules, and is left out)."""
    script = _SHIM_IMPORTS + "print(repr((sorted(sys.modules), sys.path[1:])))"
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd="/")
    modules, path = ast.literal_eval(found.stdout.strip().splitlines()[-1])
    return Interpreter(frozenset(modules), tuple(path))


def program_location(project_root: Path) -> tuple[Path, str]:
    """The working directory and entry point the engine derives from Pulumi.yaml's `main` (`getPwdMain`)."""
    main = yaml.safe_load((project_root / "Pulumi.yaml").read_text()).get("main")
    if not main:
        return project_root, "."
    target = (project_root / main).resolve()
    if target.is_dir():
        return target, "."
    return target.parent, target.name


@dataclass
class _Libraries:
    """What a successful run of one program folder imported from the host's own paths (stdlib, site-packages), and
    what those imports registered with pulumi's runtime."""

    modules: dict[str, ModuleType]
    registries: list[dict]


# A later run of the same folder (with the same entries) starts with these: a fresh host would import exactly the
# same files for them, so only the program's own modules are imported again (this keeps the stacks' runs fast).
_warm_libraries: dict[tuple[Path, frozenset[str]], _Libraries] = {}
_REGISTRIES = (rpc._RESOURCE_PACKAGES, rpc._RESOURCE_MODULES)


def _from_host_path(module: ModuleType, host_path: tuple[str, ...]) -> bool:
    locations = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
    return all(any(Path(place).is_relative_to(entry) for entry in host_path) for place in locations if place)


def _is_compiled(module: ModuleType) -> bool:
    """An extension or built-in module: importing one a second time in a process breaks its C state (e.g.
    `_zoneinfo`: "SystemError: null argument to internal routine"), so it stays loaded. A `.py` file cannot shadow
    a built-in, and test_language_host.py checks statically that none in the program's folder has such a name."""
    loader = getattr(module, "__loader__", None)
    return isinstance(loader, importlib.machinery.ExtensionFileLoader) or loader is importlib.machinery.BuiltinImporter


@contextmanager
def as_language_host(pwd: Path, entry: str) -> Iterator[None]:
    """Run the body as the shim does: fresh modules, the host's `sys.path`, `sys.argv`, working directory.

    Modules the host would not have loaded yet are set aside (so an import the program does, like the standard
    library's `secrets`, is resolved against the program's folder again) and everything is put back afterwards, so
    tests stay independent. Call `runpy.run_path(entry, run_name="__main__")` in the body."""
    saved_modules, saved_path, saved_argv, saved_cwd = dict(sys.modules), list(sys.path), list(sys.argv), os.getcwd()
    saved_finders = dict(sys.path_importer_cache)
    # Provider SDKs register their packages with pulumi's runtime on import; a fresh host has none yet.
    saved_registries = [dict(registry) for registry in _REGISTRIES]
    host = host_interpreter()
    for name in saved_modules.keys() - host.modules:
        if not _is_compiled(saved_modules[name]):
            del sys.modules[name]
    folder = (pwd, frozenset(os.listdir(pwd)))
    warm = _warm_libraries.get(folder)
    for registry, registered in zip(_REGISTRIES, warm.registries if warm else [{}, {}], strict=True):
        registry.clear()
        registry.update(registered)
    if warm:
        sys.modules.update(warm.modules)
    # Finders are cached per path string: "." must be listed afresh in this working directory.
    sys.path_importer_cache.clear()
    sys.path[:] = host.path
    sys.argv[:] = [entry]
    os.chdir(pwd)
    try:
        yield
        if not warm:
            libraries = {
                name: module
                for name, module in sys.modules.items()
                if name not in host.modules and _from_host_path(module, host.path)
            }
            _warm_libraries[folder] = _Libraries(libraries, [dict(registry) for registry in _REGISTRIES])
    finally:
        os.chdir(saved_cwd)
        sys.argv[:] = saved_argv
        sys.path[:] = saved_path
        sys.modules.clear()
        sys.modules.update(saved_modules)
        sys.path_importer_cache.clear()
        sys.path_importer_cache.update(saved_finders)
        for registry, saved in zip(_REGISTRIES, saved_registries, strict=True):
            registry.clear()
            registry.update(saved)


@dataclass
class StartedPack:
    """A policy pack's first line on stdout (its gRPC port when it started) and, if it did not start, its stderr."""

    first_line: str
    errors: str = ""

    @property
    def port(self) -> int | None:
        return int(self.first_line) if self.first_line.isdigit() else None


@contextmanager
def running_policy_pack(pack: Path) -> Iterator[StartedPack]:
    """Start a Python policy pack with the analyzer's command line and working directory (engine address unused
    here), and stop it afterwards."""
    command = [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack)]
    process = subprocess.Popen(command, cwd=pack, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = StartedPack(process.stdout.readline().strip())
        if started.port is None:
            started.errors = process.communicate(timeout=30)[1]
        yield started
    finally:
        process.terminate()
        process.communicate(timeout=10)

"""The project's own modules are imported plainly: a broken one stops the process, loudly.

An `except ImportError` (or a `find_spec` check) around one of our imports once meant a broken logging
dependency would start the worker without its JSON handler and redaction.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "console", "infra", "bench", "devtools")


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def import_fallbacks(source: str) -> list[str]:
    """`except ImportError`/`ModuleNotFoundError` handlers and `find_spec` calls in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            names = {getattr(c, "id", getattr(c, "attr", None)) for c in caught}
            if names & {"ImportError", "ModuleNotFoundError"}:
                found.append(f"line {node.lineno}: except {', '.join(sorted(filter(None, names)))}")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "find_spec":
            found.append(f"line {node.lineno}: find_spec")
    return found


def test_the_check_sees_fallbacks() -> None:
    planted = (
        "try:\n    from agent.logs import x\nexcept ImportError:\n    x = None\n"
        "try:\n    import agent.check\nexcept (OSError, ModuleNotFoundError):\n    pass\n"
        "import importlib.util\nif importlib.util.find_spec('agent.telemetry'):\n    pass\n"
    )
    assert [line.split(":")[0] for line in import_fallbacks(planted)] == ["line 3", "line 7", "line 10"]


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_import_fallbacks(path: Path) -> None:
    assert import_fallbacks(path.read_text()) == []


def _sys_path_additions(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"insert", "append", "extend"}
        and ast.unparse(node.func.value) == "sys.path"
    ]


def test_no_sys_path_edits() -> None:
    """The project is installed (`pip install -e .`), so every package imports without help."""
    assert _sys_path_additions("import sys\nsys.path.insert(0, '..')\n") == [2]
    edits = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in [*_sources(), *sorted((ROOT / "tests").rglob("*.py"))]
        for line in _sys_path_additions(path.read_text())
    ]
    assert edits == []


def test_bench_imports_nothing_from_tests() -> None:
    imports = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "bench").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tests")
        or (isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "tests" for alias in node.names))
    ]
    assert imports == []


def test_the_worker_stops_when_its_logging_cannot_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """No JSON handler means no redaction: the worker must not start without it."""
    from agent import __main__ as cli
    from agent import check, telemetry

    for name, value in {
        "DATABASE_URL": "postgresql://app@127.0.0.1:9/hospital",
        "LIVEKIT_URL": "ws://127.0.0.1:9",
        "LIVEKIT_API_KEY": "lk-test-key",
        "LIVEKIT_API_SECRET": "lk-test-secret",
        "DEEPGRAM_API_KEY": "dg-test",
        "OPENAI_API_KEY": "sk-test",
        "CARTESIA_API_KEY": "ca-test",
    }.items():
        monkeypatch.setenv(name, value)
    checked: list[object] = []
    monkeypatch.setattr(check, "preflight", lambda settings: checked.append(settings) or False)
    monkeypatch.setattr(telemetry, "start_worker_telemetry", lambda *args, **kwargs: None)
    monkeypatch.delitem(sys.modules, "agent.logs")
    monkeypatch.setitem(sys.modules, "agent.logs", None)  # what a broken python-json-logger would cause
    with pytest.raises(ImportError, match=r"agent\.logs"):
        cli.main(["dev"])
    assert checked == []

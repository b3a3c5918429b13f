"""The README's advice for starting over keeps the developer's keys: `git clean -xdf` alone deletes `.env`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.delivery.support import ROOT


def _mentions() -> list[tuple[str, str]]:
    """(command, the words after it) for every `git clean -x...` in README and docs/."""
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [
        (match[1], match[2])
        for path in texts
        for match in re.finditer(r"(git clean -x[^`\n]*)`?([^`]{0,40})", path.read_text())
    ]


def _clean_commands() -> list[str]:
    return [command for command, _after in _mentions()]


def test_every_git_clean_in_the_docs_keeps_env_or_warns() -> None:
    mentions = _mentions()
    assert mentions, "README says how to start over"
    unsafe = [command for command, after in mentions if "-e .env" not in command and "also deletes" not in after]
    assert unsafe == []


def test_the_advised_command_keeps_env_and_removes_the_rest(tmp_path: Path) -> None:
    advised = next(command for command in _clean_commands() if "-e .env" in command)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(".env\n.venv/\n")
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-kept\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "marker").write_text("")
    subprocess.run(advised.split(), cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / ".env").read_text() == "OPENAI_API_KEY=sk-kept\n"
    assert not (tmp_path / ".venv").exists()

"""The build context: .dockerignore lets in what the image copies and keeps secrets, tests and local data out.

Docker's rules, implemented here for the test: patterns apply in order and the last match wins; `!` re-includes;
`**` spans directories; a pattern matching a directory covers everything below it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.outage_clips import CLIP_TEXTS, clip_path
from tests.delivery.support import ROOT


def _regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip("/")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


AGENT_IGNORE = ROOT / ".dockerignore"
# BuildKit reads <Dockerfile>.dockerignore beside a Dockerfile in place of the context's .dockerignore
# (https://docs.docker.com/build/concepts/context/#filename-and-location).
CONSOLE_IGNORE = ROOT / "console" / "Dockerfile.dockerignore"


def _rules(ignore_file: Path = AGENT_IGNORE) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in ignore_file.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), _regex(line.removeprefix("!"))))
    return rules


def excluded(path: str, ignore_file: Path = AGENT_IGNORE) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    verdict = False
    for reinclude, regex in _rules(ignore_file):
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            verdict = not reinclude
    return verdict


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        ".env.production",
        "agent/.env",
        "secrets.env",
        "agent/secrets.json",
        "db.pem",
        "agent/server.key",
        "tests/conftest.py",
        ".venv/bin/python",
        ".data/postgres/PG_VERSION",
        ".git/HEAD",
        "docs/deployment.md",
        "infra/__main__.py",
        "Pulumi.prod.yaml",
        "agent/__pycache__/settings.cpython-311.pyc",
        "livekit.toml",
    ],
)
def test_kept_out_of_the_build_context(path: str) -> None:
    assert excluded(path), f"{path} would be sent to the image build"
    assert excluded(path, CONSOLE_IGNORE), f"{path} would be sent to the console's image build"


@pytest.mark.parametrize(
    "path", ["console/.env", "console/.streamlit/secrets.toml", "migrations/0001_directory.sql", "bench/x.py"]
)
def test_kept_out_of_the_console_build_context(path: str) -> None:
    assert excluded(path, CONSOLE_IGNORE), f"{path} would be sent to the console's image build"


@pytest.mark.parametrize(
    "path",
    ["requirements.txt", "constraints.txt", "console/requirements.txt", "console/__main__.py", "agent/settings.py"],
)
def test_what_the_console_image_needs_gets_in(path: str) -> None:
    assert not excluded(path, CONSOLE_IGNORE), f"{path} is needed by console/Dockerfile but ignored"


@pytest.mark.parametrize(
    "path",
    [
        "requirements.txt",
        "constraints.txt",
        "agent/__main__.py",
        "agent/hospital/pool.py",
        "migrations/x.sql",
        *(str(clip_path(name).relative_to(ROOT)) for name in CLIP_TEXTS),  # the speech-outage apology
    ],
)
def test_what_the_image_needs_gets_in(path: str) -> None:
    assert not excluded(path), f"{path} is needed by the Dockerfile but ignored"


def test_the_matcher_itself_honours_reinclusion_and_last_match() -> None:
    # Guards the helper above: the file re-includes agent/ after excluding everything, then excludes .env in it.
    assert excluded("README.md")
    assert not excluded("agent/settings.py")
    assert excluded("agent/.env.local")


def _tracked_files() -> list[str]:
    return [str(path.relative_to(ROOT)) for path in ROOT.rglob("*") if path.is_file() and ".venv" not in path.parts]


def test_the_image_holds_no_dev_bootstrap() -> None:
    """`make dev`'s bootstrap and the local database (devtools/, which imports pgserver) stay out of production:
    nothing in the build context is devtools, and nothing in it imports devtools, pgserver or the tests."""
    assert excluded("devtools/dev.py")
    assert excluded("devtools/localdb.py")
    shipped = [path for path in _tracked_files() if path.endswith(".py") and not excluded(path)]
    assert "agent/__main__.py" in shipped
    dev_only = re.compile(r"^\s*(?:from|import)\s+(?:devtools|pgserver|tests)\b", re.M)
    assert [path for path in shipped if dev_only.search((ROOT / path).read_text())] == []

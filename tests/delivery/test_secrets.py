"""No secret in the repository: detect-secrets (Yelp's maintained scanner) over every file git would commit,
with `.secrets.baseline` holding the reviewed false positives (made-up test values, variable names); and the
files that hold real secrets locally are ignored by git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.core import baseline
from detect_secrets.settings import default_settings

from tests.delivery.support import ROOT

BASELINE = ROOT / ".secrets.baseline"
UPDATE_HINT = (
    "review each finding; if it is a made-up test value or a name, record it with "
    "`.venv/bin/detect-secrets scan --baseline .secrets.baseline` (then audit with "
    "`.venv/bin/detect-secrets audit .secrets.baseline`); if it is real, remove it and rotate it"
)


def committable_files() -> list[str]:
    """Tracked files plus new files git would pick up (not ignored), so a secret is caught before its commit."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name and name != BASELINE.name and (ROOT / name).is_file()]


def scan(paths: list[str]) -> SecretsCollection:
    """Paths relative to the working directory, as the baseline records them."""
    found = SecretsCollection()
    with default_settings():
        found.scan_files(*paths)
    return found


def reviewed() -> SecretsCollection:
    if not BASELINE.exists():
        return SecretsCollection()
    return baseline.load(baseline.load_from_file(str(BASELINE)), str(BASELINE))


def test_no_unreviewed_secret_in_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the baseline records paths relative to the repository root
    files = committable_files()
    assert len(files) > 20, "git listed too few files: is this a git checkout?"
    new = scan(files) - reviewed()
    # Name the place and the kind, never the value.
    findings = sorted(f"{name}:{secret.line_number} {secret.type}" for name, secret in new)
    assert not findings, "possible secrets:\n  " + "\n  ".join(findings) + "\n" + UPDATE_HINT


def test_the_scanner_finds_a_planted_key(tmp_path: Path) -> None:
    # Assembled at run time so this file holds no key-shaped string itself.
    planted = tmp_path / "settings.py"
    planted.write_text(
        f'AWS_KEY = "{"AKIA" + "Q7XZ" * 4}"\nKEY = """{"-----BEGIN " + "RSA PRIVATE KEY-----"}\nMIIB\n"""\n'
    )
    found = {secret.type for _, secret in scan([str(planted)])}
    assert {"AWS Access Key", "Private Key"} <= found


@pytest.mark.parametrize(
    "path", [".env", ".env.local", ".env.staging", "agent/.env", "secrets.env", "secrets.prod.env", "db.pem", "x.key"]
)
def test_local_secret_files_are_ignored_by_git(path: str) -> None:
    result = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False)
    assert result.returncode == 0, f"{path} is not ignored by .gitignore"


def test_the_example_env_file_stays_committable() -> None:
    result = subprocess.run(["git", "check-ignore", "--no-index", "-q", ".env.example"], cwd=ROOT, check=False)
    assert result.returncode == 1, ".env.example must not be ignored: it documents every variable"

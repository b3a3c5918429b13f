"""The deploy's install step for `lk` and the Session Manager plugin, run by bash as GitHub runs it, with stand-ins
on PATH for `curl` (serves files from a folder), `sudo`, `dpkg`, `lk` and `session-manager-plugin`. The stand-ins
prove only our side: a download must match its pinned hash, and lk's pinned hash must be the one the release's own
checksums.txt lists (github.com/livekit/livekit-cli releases publish checksums.txt beside the archives)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.delivery.support import ROOT

STEP = "Install the LiveKit CLI"


def install_step() -> dict:
    steps = yaml.safe_load((ROOT / ".github" / "actions" / "deploy-stack" / "action.yml").read_text())["runs"]["steps"]
    return next(step for step in steps if step.get("name", "").startswith(STEP))


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


class Downloads:
    """What the stand-in curl serves, by the last path segment of the URL, and what it was asked for."""

    def __init__(self, root: Path, version: str, plugin_version: str) -> None:
        self.root, self.version, self.plugin_version = root, version, plugin_version
        self.folder = root / "served"
        self.folder.mkdir()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            body = f"#!/bin/sh\necho 'lk version {version}'\n".encode()
            entry = tarfile.TarInfo("lk")
            entry.size, entry.mode = len(body), 0o755
            tar.addfile(entry, io.BytesIO(body))
        self.archive = archive.getvalue()
        self.plugin = b"!<arch>\nstand-in session-manager-plugin package\n"
        self.serve(f"lk_{version}_linux_amd64.tar.gz", self.archive)
        self.serve("session-manager-plugin.deb", self.plugin)
        self.list_in_checksums(hashlib.sha256(self.archive).hexdigest())

    def serve(self, name: str, body: bytes) -> None:
        (self.folder / name).write_bytes(body)

    def list_in_checksums(self, digest: str) -> None:
        lines = [
            f"{'0' * 64}  lk_{self.version}_darwin_arm64.tar.gz",
            f"{digest}  lk_{self.version}_linux_amd64.tar.gz",
        ]
        self.serve("checksums.txt", ("\n".join(lines) + "\n").encode())

    def run(self, step: dict, **env: str) -> subprocess.CompletedProcess[str]:
        bin_dir = self.root / "bin"
        bin_dir.mkdir(exist_ok=True)
        executable(
            bin_dir / "curl",
            f'#!/bin/sh\nout=""; url=""\nwhile [ $# -gt 0 ]; do\n  case "$1" in\n'
            f'    --output) out="$2"; shift 2;;\n    --proto) shift 2;;\n    -*) shift;;\n'
            f'    *) url="$1"; shift;;\n  esac\ndone\necho "$url" >> {self.root}/urls\n'
            f'cp "{self.folder}/${{url##*/}}" "$out"\n',
        )
        executable(bin_dir / "sudo", f'#!/bin/sh\necho "$@" >> {self.root}/sudo\n')
        # After `sudo install`, the installed lk is the archive's (on PATH here through bin/).
        executable(bin_dir / "lk", f'#!/bin/sh\nexec "{self.root / "tmp" / "lk"}" "$@"\n')
        executable(bin_dir / "session-manager-plugin", f"#!/bin/sh\necho {self.plugin_version}\n")
        (self.root / "tmp").mkdir(exist_ok=True)
        environment = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "RUNNER_TEMP": str(self.root / "tmp"),
            **step["env"],
            **env,
        }
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )


@pytest.fixture
def downloads(tmp_path: Path) -> Downloads:
    step = install_step()
    return Downloads(tmp_path, step["env"]["LK_VERSION"], step["env"]["SSM_PLUGIN_VERSION"])


def pins(downloads: Downloads) -> dict[str, str]:
    """The step's pins replaced by the stand-in files' hashes (the real pins are for the real files)."""
    return {
        "LK_SHA256": hashlib.sha256(downloads.archive).hexdigest(),
        "SSM_PLUGIN_SHA256": hashlib.sha256(downloads.plugin).hexdigest(),
    }


def test_pinned_downloads_listed_by_livekit_install(downloads: Downloads) -> None:
    result = downloads.run(install_step(), **pins(downloads))
    assert result.returncode == 0, result.stderr
    urls = (downloads.root / "urls").read_text().split()
    version, plugin = downloads.version, downloads.plugin_version
    assert f"https://github.com/livekit/livekit-cli/releases/download/v{version}/checksums.txt" in urls
    plugin_url = f"https://s3.amazonaws.com/session-manager-downloads/plugin/{plugin}/ubuntu_64bit/"
    assert f"{plugin_url}session-manager-plugin.deb" in urls
    assert not any("/latest/" in url for url in urls), "an unpinned download"
    installed = (downloads.root / "sudo").read_text()
    assert "install -m 0755" in installed
    assert "dpkg -i" in installed


def test_a_pin_that_livekit_does_not_list_stops_before_installing(downloads: Downloads) -> None:
    downloads.list_in_checksums("f" * 64)  # the release lists another hash: ours came from somewhere else
    result = downloads.run(install_step(), **pins(downloads))
    assert result.returncode != 0
    assert "LK_SHA256 is not the hash LiveKit's checksums.txt lists" in result.stdout
    assert not (downloads.root / "sudo").exists(), "installed anyway"


def test_a_tampered_archive_stops_before_installing(downloads: Downloads) -> None:
    expected = pins(downloads)
    downloads.serve(f"lk_{downloads.version}_linux_amd64.tar.gz", downloads.archive + b"\0")
    result = downloads.run(install_step(), **expected)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
    assert not (downloads.root / "sudo").exists(), "installed anyway"


def test_a_tampered_plugin_package_is_not_installed(downloads: Downloads) -> None:
    expected = pins(downloads)
    downloads.serve("session-manager-plugin.deb", downloads.plugin + b"\0")
    result = downloads.run(install_step(), **expected)
    assert result.returncode != 0
    assert "dpkg -i" not in (downloads.root / "sudo").read_text()


def test_the_real_pins_are_hashes_of_named_releases() -> None:
    env = install_step()["env"]
    assert all(len(env[key]) == 64 and int(env[key], 16) >= 0 for key in ("LK_SHA256", "SSM_PLUGIN_SHA256"))
    # AWS's oldest supported plugin is 1.2.764.0 (its release-history page); older ones may fail to connect.
    assert tuple(int(part) for part in env["SSM_PLUGIN_VERSION"].split(".")) >= (1, 2, 764, 0)

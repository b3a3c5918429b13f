"""The console's container image: its local name and its tag, a hash of everything the image is built from.

The deploy workflow builds `local_name()` before `pulumi up` (.github/actions/deploy-stack); the program's push
command (infra/scripts/push_console_image.sh) tags and pushes that image to the stack's ECR repository, and the
task definition names the same tag, so a change to the console, the agent package it imports, the pins or the
Dockerfile deploys a new image, and nothing else does.

    .venv/bin/python -m infra.console_image     # prints the local image name the workflow builds
"""

from __future__ import annotations

import hashlib

from infra.deploy import REPO_ROOT, tree_hash

DOCKERFILE = "console/Dockerfile"
LOCAL_REPOSITORY = "hospital-receptionist-console"
# What the image copies (console/Dockerfile): folders hashed file by file, files as they are.
SOURCE_TREES = ("console", "agent")
SOURCE_FILES = ("requirements.txt", "constraints.txt")
TAG_LENGTH = 20


def tag() -> str:
    digest = hashlib.sha256()
    for tree in SOURCE_TREES:
        digest.update(tree_hash(REPO_ROOT / tree).encode())
    for name in SOURCE_FILES:
        digest.update((REPO_ROOT / name).read_bytes())
    return digest.hexdigest()[:TAG_LENGTH]


def local_name() -> str:
    return f"{LOCAL_REPOSITORY}:{tag()}"


if __name__ == "__main__":
    print(local_name())

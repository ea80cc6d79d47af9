"""Who, which code and which environment produced an artefact: the inputs of lineage."""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
from importlib import metadata
from pathlib import Path

NOT_A_GIT_CHECKOUT = "not a git checkout"

#: Azure DevOps and GitHub Actions name the person behind a pipeline run in these variables.
_REQUESTER_VARIABLES = ("BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR", "GITHUB_ACTOR")


def git_commit(folder: Path) -> str:
    """The commit checked out in ``folder`` (suffixed ``-dirty`` with uncommitted changes)."""
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return NOT_A_GIT_CHECKOUT
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return NOT_A_GIT_CHECKOUT
    commit = head.stdout.strip()
    return f"{commit}-dirty" if dirty else commit


def environment_hash(conda_file: Path | None = None) -> str:
    """sha256 over the conda file (when given) and every installed distribution's name==version.

    Locally the steps run in the current Python environment, so that environment is what
    lineage must pin, not only the conda file that describes the Azure one.
    """
    digest = hashlib.sha256()
    if conda_file is not None and conda_file.is_file():
        digest.update(conda_file.read_bytes())
    packages = sorted(
        f"{(dist.metadata['Name'] or '').lower()}=={dist.version}"
        for dist in metadata.distributions()
    )
    digest.update("\n".join(packages).encode())
    return digest.hexdigest()


def current_actor() -> str:
    """The person on whose behalf mlops acts: the DevOps requester, else the git user, else the OS user."""
    for var in _REQUESTER_VARIABLES:
        if os.environ.get(var):
            return os.environ[var]
    try:
        name = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

"""Who, which code and which environment produced an artefact: the inputs of lineage."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

NOT_A_GIT_CHECKOUT = "not a git checkout"


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


def environment_hash(*conda_files: Path) -> str:
    """sha256 over the conda files (those that exist, by name and content) and every installed
    distribution's name and version.

    Locally the steps run in the current Python environment, so that environment is what
    lineage must pin, not only the conda file that describes the Azure one. The installed set
    is read from the ``NAME-VERSION.dist-info`` folder names on ``sys.path``: the same facts as
    ``importlib.metadata.distributions()`` at a hundredth of its cost.
    """
    digest = hashlib.sha256()
    for conda_file in sorted(conda_files):
        if conda_file.is_file():
            digest.update(conda_file.name.encode() + b"\0" + conda_file.read_bytes())
    installed: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        installed.update(n.lower() for n in names if n.endswith((".dist-info", ".egg-info")))
    digest.update("\n".join(sorted(installed)).encode())
    return digest.hexdigest()


def current_actor() -> str:
    """The person on whose behalf mlops acts, by the audit trail's one actor rule
    (:func:`mlops_azure.audit_events.resolve_actor`)."""
    from mlops_azure.audit_events import resolve_actor

    return resolve_actor()

"""The demo project as a git repository, as a real project is one: each model's lineage records
the commit it was trained from, and ``mlops maturity`` reads version control from the repository.

The demo commits as "mlops run" (whatever identity the user configured is left alone), with
signing off, because a commit that waits for a passphrase would stall the loop.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

_AS_THE_DEMO = ("-c", "user.name=mlops run", "-c", "user.email=mlops-run@localhost",
                "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *_AS_THE_DEMO, *args], capture_output=True,
                          text=True, timeout=60)


def commit(root: Path, message: str) -> str | None:
    """Commit ``root``: every file the first time (``git init`` first when it has no repository
    of its own), then the changes to files already committed (the demo's reports stay out).
    The commit's hash, the current one when nothing changed, or None when git cannot run."""
    try:
        first = not (root / ".git").exists()
        if first and _git(root, "init", "-q").returncode != 0:
            return None
        if _git(root, "add", "-A" if first else "-u").returncode != 0:
            return None
        staged = _git(root, "diff", "--cached", "--quiet")
        if staged.returncode == 1 and _git(root, "commit", "-q", "-m", message).returncode != 0:
            return None
        head = _git(root, "rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() if head.returncode == 0 else None

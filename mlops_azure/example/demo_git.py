"""The demo project as a git repository, as a real project is one: each model's lineage records
the commit it was trained from, and ``mlops maturity`` reads version control from the repository.

The demo commits as "mlops run", in its own repository whatever the environment says: the
user's hooks, signing and ``GIT_*`` variables (``GIT_DIR`` set by a hook would send the commits
elsewhere) are left out, because they belong to the user's repositories, not to the demo's.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEMO_AUTHOR = "mlops run"
_AS_THE_DEMO = ("-c", f"user.name={DEMO_AUTHOR}", "-c", "user.email=mlops-run@localhost",
                "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main",
                "-c", f"core.hooksPath={os.devnull}")


class GitUnavailable(Exception):
    """git could not make the commit; the message says why (git's own words)."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(["git", "-C", str(root), *_AS_THE_DEMO, *args], capture_output=True,
                              text=True, timeout=60, env=env)
    except FileNotFoundError:
        raise GitUnavailable("git is not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitUnavailable(f"git {args[0]} failed: {exc}") from None
    return done


def _must(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise GitUnavailable(f"{' '.join(done.args[-2:])}: {said[-1] if said else 'failed'}")
    return done


def ignore(root: Path, patterns: tuple[str, ...]) -> None:
    """Add ``patterns`` missing from ``root``'s ``.gitignore`` to it."""
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    missing = [p for p in patterns if p not in text.splitlines()]
    if missing:
        path.write_text(text + ("" if not text or text.endswith("\n") else "\n")
                        + "".join(f"{p}\n" for p in missing), encoding="utf-8")


def commit(root: Path, message: str, *, everything: bool = True) -> str:
    """Commit every file of ``root`` (``git init`` first when it has no repository of its own),
    or, not ``everything``, the changes to files already committed (the demo's reports stay out).
    The commit's hash (the current one when nothing changed); ``GitUnavailable`` when git cannot
    make it."""
    if not (root / ".git").exists():
        _must(_git(root, "init", "-q"))
        everything = True
    else:
        _refuse_others(root)
    _must(_git(root, "add", "-A" if everything else "-u"))
    if _git(root, "diff", "--cached", "--quiet").returncode == 1:
        _must(_git(root, "commit", "-q", "--no-verify", "-m", message))
    return _must(_git(root, "rev-parse", "HEAD")).stdout.strip()


def _refuse_others(root: Path) -> None:
    """``GitUnavailable`` unless the repository at ``root`` is the demo's: empty, or begun by
    "mlops run". The demo never commits into a repository of the user's."""
    first = _git(root, "rev-list", "--max-parents=0", "--format=%an", "HEAD")
    if first.returncode != 0:
        return  # no commit yet
    authors = {line for line in first.stdout.splitlines() if not line.startswith("commit ")}
    if authors != {DEMO_AUTHOR}:
        raise GitUnavailable(f"{root} is a git repository that mlops run did not start: "
                             "nothing is committed to it")


def try_commit(root: Path, message: str) -> str | None:
    """The changes to committed files (:func:`commit`), or None when git cannot (the demo goes
    on without it)."""
    try:
        return commit(root, message, everything=False)
    except GitUnavailable:
        return None

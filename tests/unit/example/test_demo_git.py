"""The demo's own git repository: commits as the demo, whatever the user's git set-up says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_azure.example import demo_git


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_a_commit_takes_everything_and_the_later_ones_the_tracked_files(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text("a\n")
    first = demo_git.commit(tmp_path, "The project")
    assert git(tmp_path, "log", "--format=%H %an", "-1") == f"{first} mlops run"
    (tmp_path / "mlops.yaml").write_text("b\n")
    (tmp_path / "report.html").write_text("an output\n")
    second = demo_git.try_commit(tmp_path, "Changed")
    assert second is not None and second != first
    assert git(tmp_path, "ls-files") == "mlops.yaml"  # the report stays out
    assert demo_git.try_commit(tmp_path, "Nothing changed") == second
    # A forced re-run of the demo commits the project as made again, new files included.
    (tmp_path / "pipelines.yml").write_text("new in this version\n")
    demo_git.commit(tmp_path, "The project")
    assert git(tmp_path, "ls-files").split() == ["mlops.yaml", "pipelines.yml", "report.html"]


def test_hooks_and_git_variables_of_the_user_are_left_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    refuse = hooks / "pre-commit"
    refuse.write_text("#!/bin/sh\nexit 1\n")
    refuse.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(outer / ".git"))  # as inside a hook of another repository
    monkeypatch.setenv("GIT_AUTHOR_NAME", "someone else")
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "mlops.yaml").write_text("a\n")
    made = demo_git.commit(demo, "The project")
    monkeypatch.delenv("GIT_DIR")
    assert git(demo, "log", "--format=%H %an", "-1") == f"{made} mlops run"
    assert subprocess.run(["git", "-C", str(outer), "rev-parse", "HEAD"], capture_output=True,
                          timeout=60).returncode != 0  # nothing went into the outer repository


def test_without_git_the_demo_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git on it
    with pytest.raises(demo_git.GitUnavailable, match="git is not installed"):
        demo_git.commit(tmp_path, "The project")
    assert demo_git.try_commit(tmp_path, "The project") is None


def test_outputs_are_ignored_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text(".mlops/")
    demo_git.ignore(tmp_path, ("qa-report.json", "forecasts/"))
    demo_git.ignore(tmp_path, ("qa-report.json", "forecasts/"))
    assert (tmp_path / ".gitignore").read_text() == ".mlops/\nqa-report.json\nforecasts/\n"


def test_a_repository_of_the_users_gets_no_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "notes.txt").write_text("mine\n")
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=me", "-c", "user.email=me@x",
                    "add", "-A"], check=True, timeout=60)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=me", "-c", "user.email=me@x",
                    "commit", "-qm", "mine"], check=True, timeout=60)
    (tmp_path / ".env").write_text("SECRET=1\n")
    with pytest.raises(demo_git.GitUnavailable, match="mlops run did not start"):
        demo_git.commit(tmp_path, "The project")
    assert demo_git.try_commit(tmp_path, "Changed") is None
    assert git(tmp_path, "log", "--format=%an") == "me"

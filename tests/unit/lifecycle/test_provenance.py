"""Lineage inputs: git commit, environment hash, actor."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_azure.lifecycle.provenance import (
    NOT_A_GIT_CHECKOUT,
    current_actor,
    environment_hash,
    git_commit,
)


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == NOT_A_GIT_CHECKOUT
    git(tmp_path, "init", "-q")
    (tmp_path / "f.txt").write_text("1")
    git(tmp_path, "add", "f.txt")
    git(tmp_path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "x")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "f.txt").write_text("2")
    assert git_commit(tmp_path) == f"{head}-dirty"


def test_environment_hash_follows_the_conda_file(tmp_path: Path) -> None:
    conda = tmp_path / "env.yml"
    conda.write_text("dependencies: [python=3.11]\n")
    first = environment_hash(conda)
    assert first == environment_hash(conda)
    conda.write_text("dependencies: [python=3.12]\n")
    assert environment_hash(conda) != first
    assert len(first) == 64


def test_actor_prefers_the_devops_requester(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILD_REQUESTEDFOREMAIL", "ana@contoso.com")
    assert current_actor() == "ana@contoso.com"
    monkeypatch.delenv("BUILD_REQUESTEDFOREMAIL")
    monkeypatch.delenv("BUILD_REQUESTEDFOR", raising=False)
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    assert current_actor()


def test_environment_hash_follows_installed_distributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = environment_hash()
    site = tmp_path / "site"
    (site / "steelkit-1.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    one = environment_hash()
    assert one != before
    (site / "steelkit-1.0.dist-info").rename(site / "steelkit-1.1.dist-info")
    assert environment_hash() not in (before, one)

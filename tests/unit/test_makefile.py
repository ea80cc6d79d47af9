"""`make test` on a fresh machine: Azurite comes from npm, and without node/npm it says so in one line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")


def test_the_test_target_installs_azurite_and_ci_runs_it() -> None:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "test: $(STAMP) $(NODE_STAMP)" in text
    assert "$(NODE_STAMP): package.json package-lock.json" in text
    assert "npm ci --no-audit --no-fund" in text
    assert (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().endswith("make test")
    assert '"azurite": "3.35.0"' in (REPO / "package.json").read_text(encoding="utf-8")


def test_the_readme_quick_start_is_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in quick.strip().splitlines()] == ["make demo",
                                                                                "make test"]


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_without_node_make_names_what_is_missing(tmp_path: Path) -> None:
    for name in ("Makefile", "package.json", "package-lock.json"):
        shutil.copy2(REPO / name, tmp_path / name)
    # An empty PATH: make itself is called by its full path, node and npm cannot be found.
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    ran = subprocess.run([str(MAKE), "node_modules/.installed"], cwd=tmp_path, capture_output=True,
                         text=True, env={"PATH": str(empty)}, timeout=60, check=False)
    assert ran.returncode != 0
    assert "needs node and npm" in ran.stderr
    assert not (tmp_path / "node_modules").exists()

"""Fixtures of the CLI tests: a fresh example project as the working directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_azure.cli.state import STATE
from mlops_azure.example.scaffold import init_project


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``mlops init`` in a temporary folder, which becomes the working directory; the CLI's
    per-process state is reset afterwards."""
    root = tmp_path / "proj"
    init_project(root)
    monkeypatch.chdir(root)
    yield root
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process

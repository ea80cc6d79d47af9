"""The app over a fresh example project: nothing trained, registered or deployed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

from mlops_azure.example.scaffold import init_project
from mlops_azure.webapp import UiSettings, create_app


@pytest.fixture(scope="session")
def fresh_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ``mlops init`` project's mlops.yaml."""
    root = tmp_path_factory.mktemp("ui") / "proj"
    init_project(root)
    return root / "mlops.yaml"


def make_app(config: Path, tmp_path: Path, **changes: object) -> Flask:
    """The app over ``config`` with a fresh secret and scratch folder."""
    return create_app(UiSettings(config_path=config, secret_key=os.urandom(32),
                                 scratch_dir=tmp_path / "scratch", **changes))  # type: ignore[arg-type]

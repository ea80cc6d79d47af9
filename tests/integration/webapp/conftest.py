"""Fixtures for the web app's tests: projects served on real local endpoints, the app over them
(Flask's test client, or a real ``mlops ui`` server process on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.example.demo import release
from mlops_azure.init_from_data import init_from_data
from mlops_azure.lifecycle.refs import live_deployment
from mlops_azure.lifecycle.training import train
from mlops_azure.webapp import UiSettings, create_app
from mlops_azure.webapp._csv_scoring import request_columns
from mlops_azure.webapp._model_inputs import model_inputs

#: Small, fast hyper-parameters: the tests need *a* model.
FAST = {"n_estimators": 60}


def _quiet(_: str) -> None:
    pass


def _delete_endpoints(config: ProjectConfig) -> None:
    ws = open_workspace(config)
    for endpoint in ws.endpoints.all():
        ws.endpoints.delete(endpoint.name)


def write_own_table(path: Path, rows: int = 600, seed: int = 3) -> str:
    """A table of the kind a user brings: numbers, an integer count, a category and a yes/no
    flag, with a numeric target; returns the target column."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    district = rng.choice(["centre", "harbour", "hills", "suburbs"], rows)
    garden = rng.choice(["yes", "no"], rows)
    uplift = pd.Series(district).map({"centre": 1.6, "harbour": 1.3, "hills": 1.1,
                                      "suburbs": 0.9}).to_numpy()
    price = (area * 3.1 * uplift + rooms * 12 + (garden == "yes") * 25
             + rng.normal(0, 20, rows)).round(1)
    pd.DataFrame({"area_m2": area, "rooms": rooms, "district": district, "garden": garden,
                  "price_k": price}).to_csv(path, index=False)
    return "price_k"


def _released_copy(template: Path, into: Path, version: int) -> Iterator[ProjectConfig]:
    """A copy of the trained ``template`` in ``into`` with ``version`` released to staging and
    production; its endpoints deleted afterwards."""
    root = into / "proj"
    shutil.copytree(template, root, symlinks=True)
    config = load_config(root / "mlops.yaml")
    try:
        release(open_workspace(config), config, f"{config.model.name}:{version}", root, _quiet)
        yield config
    finally:
        _delete_endpoints(config)


@pytest.fixture(scope="session")
def steel_served(trained_template: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[ProjectConfig]:
    """The steel example with v2 released to staging and production (QA gate, approval,
    canary), shared by the session: do not change its serving state."""
    yield from _released_copy(trained_template, tmp_path_factory.mktemp("ui-steel"), 2)


@pytest.fixture(scope="session")
def own_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectConfig]:
    """A project made by ``mlops init --data`` from a table of its own, trained and released to
    production; shared by the session."""
    base = tmp_path_factory.mktemp("ui-own")
    table = base / "homes.csv"
    target = write_own_table(table)
    root = base / "homes"
    init_from_data(root, table, column=target)
    config = load_config(root / "mlops.yaml")
    ws = open_workspace(config)
    outcome = train(ws, config, actor="tester")
    assert outcome.model is not None, outcome.decision.reason
    try:
        release(ws, config, outcome.model.ref, root, _quiet)
        yield config
    finally:
        _delete_endpoints(config)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests leave their screenshots: ``$MLOPS_TEST_ARTIFACTS/ui``, else
    ``test-artifacts/ui`` in the repository (ignored by git)."""
    base = os.environ.get("MLOPS_TEST_ARTIFACTS") or str(Path(__file__).resolve().parents[3]
                                                         / "test-artifacts")
    folder = Path(base) / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def released_v1(trained_template: Path, tmp_path: Path) -> Iterator[ProjectConfig]:
    """A copy of the trained steel example with v1 released to staging and production (its own:
    a test may change what serves)."""
    yield from _released_copy(trained_template, tmp_path, 1)


def ui_settings(config: ProjectConfig, scratch: Path, **changes: object) -> UiSettings:
    values: dict[str, object] = {"config_path": config.root / "mlops.yaml",
                                 "secret_key": os.urandom(32), "scratch_dir": scratch,
                                 "flask": {"TESTING": True}}
    values.update(changes)
    return UiSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_client(tmp_path: Path) -> Callable[..., FlaskClient]:
    """``make_client(config, **settings)``: Flask's test client on the app over ``config``."""

    def make(config: ProjectConfig, **changes: object) -> FlaskClient:
        return create_app(ui_settings(config, tmp_path / "scratch", **changes)).test_client()

    return make


def csrf_of(html: str) -> str:
    """The CSRF token a rendered page carries in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sample_rows(config: ProjectConfig, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    """``count`` rows made from the serving model's parity rows, numbers perturbed."""
    ws = open_workspace(config)
    live = live_deployment(ws, config.stage("production").endpoint)
    assert live is not None
    inputs = request_columns(model_inputs(ws, config, "local", live.model_name,
                                          live.model_version), config)
    parity = pd.read_json(ws.models.local_path(live.model_name, live.model_version)
                          / "parity.json", typ="series")["request"]["data"]
    rng = np.random.default_rng(7)
    rows = []
    for i in range(count):
        row = dict(parity[i % len(parity)])
        for name, value in row.items():
            if isinstance(value, float) and name not in inputs.text:
                row[name] = round(value * float(rng.uniform(0.8, 1.2)), 3)
        rows.append(row)
    return list(inputs.features), rows


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``ui_server(config, *args)``: a real ``mlops ui --port 0`` process for ``config``; gives
    its URL. Stopped (SIGTERM, then SIGKILL) when the test ends."""
    started: list[subprocess.Popen[str]] = []

    def start(config: ProjectConfig, *args: str) -> str:
        log = tmp_path / f"ui-{len(started)}.log"
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "mlops"), "--config",
             str(config.root / "mlops.yaml"), "ui", "--port", "0", *args],
            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, start_new_session=True)
        started.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())
            if found:
                return found.group(0)
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"mlops ui did not start: {log.read_text()}")

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

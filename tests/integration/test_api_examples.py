"""The examples in ``Project``'s docstrings (the API reference shows them) run, as one session.

They run in source order with shared globals, so ``train`` registers the version that ``deploy``
then serves, in a project made the way a user makes one from their own table
(``mlops init homes --data homes.csv --target price_k``): the generic template, whose stages,
QA gate and drift monitoring every example needs. One test per docstring names the method whose
example broke; a test run on its own first runs the examples before it (``-k deploy`` works).
"""

from __future__ import annotations

import doctest
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import load_config
from mlops_azure.example.demo import stop_endpoints
from mlops_azure.init_from_data import init_from_data
from mlops_azure.project import Project
from tests.integration.webapp.conftest import write_own_table

pytestmark = pytest.mark.slow
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def examples() -> list[doctest.DocTest]:
    """The docstrings of ``Project`` that hold examples, in source order (the finder sorts by name)."""
    found = doctest.DocTestFinder().find(Project, "Project")
    return sorted((t for t in found if t.examples), key=lambda t: t.lineno or 0)


EXAMPLES = examples()


def write_recent_rows(path: Path, target: str) -> None:
    """Newer rows, without the target, of bigger homes mostly in the centre: drifted data."""
    write_own_table(path, seed=11)
    frame = pd.read_csv(path).drop(columns=[target])
    frame["area_m2"] = (frame["area_m2"] * 1.8).round(1)
    frame.loc[frame.index % 5 != 0, "district"] = "centre"
    frame.to_csv(path, index=False)


class Session:
    """The globals the examples share, and which of them ran (and how)."""

    def __init__(self) -> None:
        self.globs: dict[str, Any] = {}
        self.outcomes: dict[str, str] = {}  # name -> "" when it passed, else the failure report

    def run(self, test: doctest.DocTest) -> str:
        if test.name not in self.outcomes:
            test.globs = self.globs  # shared: later examples use what earlier ones made
            found: list[str] = []
            runner = doctest.DocTestRunner(optionflags=FLAGS)
            runner.run(test, out=found.append, clear_globs=False)
            self.outcomes[test.name] = "".join(found)
        return self.outcomes[test.name]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    base = tmp_path_factory.mktemp("api-examples")
    table = base / "homes.csv"
    target = write_own_table(table)
    root = base / "homes"
    init_from_data(root, table, column=target)
    write_recent_rows(root / "recent.csv", target)
    before = Path.cwd()
    os.chdir(root)  # the examples load "the project in the current folder"
    try:
        yield Session()
    finally:
        os.chdir(before)
        stop_endpoints(open_workspace(load_config(root / "mlops.yaml"), "local"))


def test_project_has_examples_for_its_operations() -> None:
    documented = {t.name.removeprefix("Project.") for t in EXAMPLES}
    assert {"Project", "load", "train", "deploy", "gate_qa", "approve", "promote", "rollback",
            "invoke", "drift", "retrain_on_drift", "score_batch", "explain", "what_if",
            "model_card", "models", "model", "history", "maturity", "status", "check",
            "check_data"} <= documented


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_example_runs(test: doctest.DocTest, session: Session) -> None:
    # Run on its own, it needs what the examples before it made. A failed example does not stop
    # the later ones (doctest goes on after a failure), so each test reports its own failure.
    for earlier in EXAMPLES[:EXAMPLES.index(test)]:
        session.run(earlier)
    failure = session.run(test)
    if failure:
        pytest.fail(failure, pytrace=False)

"""components/tabular/tracking.py: the metrics file (one flushed JSON line per call, one open
file), MLflow when its variable is set and it imports (asynchronously when it can), else nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "components"))

import tabular.tracking as tracking
from tabular.step import StepError


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """No sink variable, and none of the module's state from another test."""
    for name in ("MLOPS_METRICS_FILE", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tracking, "_files", {})
    monkeypatch.setattr(tracking, "_mlflow", None)
    monkeypatch.setattr(tracking, "_pending", [])


def test_each_call_is_one_line_readable_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("MLOPS_METRICS_FILE", str(file))
    tracking.log_metric("rmse", 3.5, step=1)
    # Flushed per call: a reader sees the line while the step still runs.
    assert json.loads(file.read_text(encoding="utf-8")) == {"name": "rmse", "value": 3.5, "step": 1}
    tracking.log_metric("rmse", 2, step=2)
    tracking.log_metric("best", float("nan"))
    lines = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    assert lines[1:] == [{"name": "rmse", "value": 2.0, "step": 2},
                         {"name": "best", "value": None, "step": None}]
    assert list(tracking._files) == [str(file)]  # opened once, kept open
    tracking._close()


def test_an_unwritable_metrics_file_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_METRICS_FILE", str(tmp_path / "missing" / "metrics.jsonl"))
    with pytest.raises(StepError, match=r"cannot open the metrics file .*MLOPS_METRICS_FILE"):
        tracking.log_metric("rmse", 1.0, step=1)


def test_without_a_sink_nothing_is_written_or_imported(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # importing it would fail loudly
    tracking.log_metric("rmse", 1.0, step=1)
    assert tracking._mlflow is None and list(tmp_path.iterdir()) == []
    # The tracking variable set but mlflow not installed: still nothing, and no error.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "azureml://example")
    tracking.log_metric("rmse", 1.0, step=1)
    assert tracking._mlflow is False and list(tmp_path.iterdir()) == []


class Operation:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def wait(self) -> None:
        self.log.append("waited")


def fake_mlflow(asynchronous: bool) -> tuple[ModuleType, list[Any]]:
    calls: list[Any] = []
    module = ModuleType("mlflow")
    if asynchronous:
        def log_metric(key: str, value: float, step: int | None = None,
                       synchronous: bool | None = None) -> Operation:
            calls.append((key, value, step, synchronous))
            return Operation(calls)
    else:
        def log_metric(key: str, value: float, step: int | None = None) -> Operation:  # type: ignore[misc]
            calls.append((key, value, step))
            return Operation(calls)
    module.log_metric = log_metric  # type: ignore[attr-defined]
    return module, calls


@pytest.mark.parametrize("asynchronous", [True, False])
def test_mlflow_gets_the_metric_when_its_uri_is_set(monkeypatch: pytest.MonkeyPatch,
                                                   asynchronous: bool) -> None:
    module, calls = fake_mlflow(asynchronous)
    monkeypatch.setitem(sys.modules, "mlflow", module)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "azureml://example")
    for step in (1, 2):
        tracking.log_metric("auc", 0.5 + step / 10, step=step)
    tracking.flush()
    if asynchronous:
        assert calls == [("auc", 0.6, 1, False), ("auc", 0.7, 2, False), "waited", "waited"]
    else:
        assert calls == [("auc", 0.6, 1), ("auc", 0.7, 2)]


def test_the_metrics_file_wins_over_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, calls = fake_mlflow(True)
    monkeypatch.setitem(sys.modules, "mlflow", module)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "azureml://example")
    monkeypatch.setenv("MLOPS_METRICS_FILE", str(tmp_path / "m.jsonl"))
    tracking.log_metric("auc", 0.9, step=1)
    tracking._close()
    assert calls == [] and (tmp_path / "m.jsonl").read_text(encoding="utf-8").count("\n") == 1

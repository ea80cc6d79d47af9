"""How the local executor reads a trial's metrics file while the trial writes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_azure.execution.sweep import _new_metrics, _Running


def _running(file: Path) -> _Running:
    return _Running(trial=None, process=None, folder=file.parent, started=0.0,  # type: ignore[arg-type]
                    metrics_file=file)


def test_only_whole_lines_of_the_metric_are_read_once_each(tmp_path: Path) -> None:
    file = tmp_path / "metrics.jsonl"
    running = _running(file)
    assert _new_metrics(running, "wape") == []  # not written yet

    def line(**entry: Any) -> str:
        return json.dumps(entry) + "\n"

    file.write_text(line(name="wape", value=0.5, step=1) + line(name="rmse", value=3.0, step=1)
                    + line(name="wape", value=None, step=2) + '{"name": "wape", "val')
    assert _new_metrics(running, "wape") == [(1, 0.5)]  # null skipped, half a line left for later
    with file.open("a") as handle:
        handle.write('ue": 0.4, "step": 3}\n' + line(name="wape", value=0.3) + "not json\n")
    # A value without a step is the step after the last one.
    assert _new_metrics(running, "wape") == [(3, 0.4), (4, 0.3)]
    assert _new_metrics(running, "wape") == []

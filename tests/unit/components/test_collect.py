"""components/tabular/collect.py: what score.py's collectors record, given the body it decoded."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "components"))

import tabular.collect as collect


def _refuse(*_: Any) -> Any:
    raise AssertionError("the body was parsed or scanned again")


def test_the_decoded_body_spares_a_second_look_at_the_text(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    collector = collect.Collector(tmp_path, "blue", "m:1")
    monkeypatch.setattr(collect, "is_probe", _refuse)
    body = {"data": [{"x": 1}]}
    collector.record(json.dumps(body), [0.5], decoded=body)
    collector.record(json.dumps({**body, "mlops_probe": "qa"}), [0.5], decoded={**body, "mlops_probe": "qa"})
    lines = [json.loads(line) for f in tmp_path.glob("*.jsonl") for line in f.read_bytes().splitlines()]
    assert [(r["request"], r["predictions"]) for r in lines] == [(body, [0.5])]


def test_without_the_decoded_body_probes_are_still_skipped(tmp_path: Path) -> None:
    collector = collect.Collector(tmp_path, "blue", "m:1")
    collector.record('{"mlops_probe": "qa", "data": []}', [0.5])
    collector.record('{"data": [{"mlops_probe": 1}]}', [0.5])  # not top level: recorded
    lines = [line for f in tmp_path.glob("*.jsonl") for line in f.read_bytes().splitlines()]
    assert len(lines) == 1


def test_a_body_too_deep_to_parse_is_not_a_probe() -> None:
    assert collect.is_probe(b'{"mlops_probe": ' + b"[" * 100_000) is False


class _Monitoring:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def collect(self, frame: Any, context: Any = None) -> str:
        self.seen.append(frame)
        return "context"


def test_the_azure_collector_uses_the_decoded_body(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pandas")
    collector = object.__new__(collect.AzureMLCollector)
    collector._inputs, collector._outputs = _Monitoring(), _Monitoring()
    monkeypatch.setattr(collect.json, "loads", _refuse)
    collector.record("{}", [2.0], decoded={"columns": ["x"], "data": [[1.5]]})
    collector.record("{}", [2.0], decoded={"mlops_probe": "qa", "columns": ["x"], "data": [[1.5]]})
    assert [f.to_dict("list") for f in collector._inputs.seen] == [{"x": [1.5]}]
    assert [f.to_dict("list") for f in collector._outputs.seen] == [{"prediction": [2.0]}]

"""The tool's own requests are marked, and no collector or reader takes them for users'."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import responses

from mlops_azure.contract import ScoreRequest
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.monitoring.collected import read_collected
from mlops_azure.probes import PROBE_KEY, QA_PROBE, is_probe, mark

REPO = Path(__file__).resolve().parents[3]
#: Every project collector in the repo (the template's and the examples'): each repeats the key.
COLLECTORS = sorted(path for root in ("components", "examples") for path in
                    (REPO / root).rglob("collect.py") if "PROBE_KEY" in path.read_text())
USER = {"data": [{"price": 1.0, "note": "mlops_probe"}]}  # the key's text as a value: a user's


def literal(path: Path) -> object:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PROBE_KEY"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no PROBE_KEY = ... line")


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"collect_under_test_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_project_collector_repeats_the_tools_key() -> None:
    assert PROBE_KEY in ScoreRequest.model_fields  # the contract documents the body key
    assert COLLECTORS, "no collector found under components/ or examples/"
    for path in COLLECTORS:
        assert literal(path) == PROBE_KEY, path


def test_mark_adds_the_key_and_leaves_the_request_alone() -> None:
    marked = mark(USER, QA_PROBE)
    assert marked == {**USER, PROBE_KEY: "qa"} and PROBE_KEY not in USER
    assert is_probe(marked) and not is_probe(USER) and not is_probe([marked]) and not is_probe(None)


@pytest.mark.parametrize("path", COLLECTORS, ids=lambda p: str(p.relative_to(REPO)))
def test_collectors_skip_probes_and_keep_users(path: Path, tmp_path: Path) -> None:
    module = load(path)
    collector = module.Collector(tmp_path, "blue", "m:1")
    collector.record(json.dumps(mark(USER, "rollout")), [1.0])
    collector.record(json.dumps(USER, indent=1).encode(), [2.0])
    collector.record(json.dumps({"data": [{PROBE_KEY: 1}]}), [3.0])  # a column, not the marker
    lines = [json.loads(line) for f in tmp_path.glob("*.jsonl") for line in f.read_bytes().splitlines()]
    assert [line["predictions"] for line in lines] == [[2.0], [3.0]]

    collected: list[Any] = []

    class Fake:
        def collect(self, data: Any, context: Any = None) -> str:
            collected.append(data)
            return "context"

    azure = object.__new__(module.AzureMLCollector)  # azureml-ai-monitoring runs only on Azure
    azure._inputs, azure._outputs = Fake(), Fake()
    azure.record(json.dumps(mark(USER, "qa")), [1.0])
    assert collected == []
    azure.record(json.dumps(USER), [1.0])
    assert len(collected) == 2  # the inputs, then the outputs


def test_the_reader_drops_marked_records_a_collector_let_through(tmp_path: Path) -> None:
    record = {"deployment": "blue", "model": "m:1", "time": 1.0e9, "request_id": "r"}
    lines = [{**record, "request": mark(USER, "qa"), "predictions": [5.0]},
             {**record, "request": USER, "predictions": [6.0]}]
    (tmp_path / "blue-1-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert read_collected(tmp_path)["prediction"].tolist() == [6.0]


@responses.activate
def test_a_probing_client_marks_json_requests_and_a_users_does_not() -> None:
    uri = "http://127.0.0.1:9/score"
    responses.post(uri, json={"predictions": [1.0]})
    with ScoringClient(uri, "key", probe=QA_PROBE) as client:
        client.score(USER)
        client.score(b"not json")
    with ScoringClient(uri, "key") as client:
        client.score(USER)
    bodies = [call.request.body for call in responses.calls]
    assert json.loads(bodies[0]) == {**USER, PROBE_KEY: "qa"}
    assert bodies[1] == b"not json" and json.loads(bodies[2]) == USER

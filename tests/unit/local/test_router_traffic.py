"""The router's cheap body checks and its live-traffic counters."""

from __future__ import annotations

import json

import pytest

from mlops_azure.contract import PROBE_KEY
from mlops_azure.local.router_traffic import PROBE_MARKER, TrafficCounter, is_probe, too_deep


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def test_the_probe_marker_is_the_contract_key() -> None:
    assert json.dumps(PROBE_KEY).encode() == PROBE_MARKER
    assert is_probe(json.dumps({PROBE_KEY: "qa", "data": [1]}).encode())
    assert not is_probe(b'{"data": [1]}')


@pytest.mark.parametrize(("body", "deep"), [
    (nested(64), False),
    (nested(65), True),
    (b'{"a": ' * 70 + b"1" + b"}" * 70, True),
    (b'{"data": [' + b'{"x": 1, "y": "a[b{c"},' * 1000 + b"{}]}", False),  # wide, not deep
    (b'["' + b"[" * 100 + b'"]', False),  # brackets inside a string do not nest
    (b'["\\"' + b"[" * 100 + b'"]', False),  # ... even after an escaped quote
    (b'["\\"", ' + nested(70) + b"]", True),
    (b"[" * 100, False),  # malformed: the deployment says so
])
def test_nesting_depth_is_judged_without_parsing(body: bytes, deep: bool) -> None:
    assert too_deep(body, 64) is deep


def test_counts_are_per_deployment_by_status_class_with_a_latency_histogram() -> None:
    counter = TrafficCounter()
    for status, seconds in [(200, 0.0004), (200, 0.003), (404, 0.001), (502, 7.0), (504, 0.5)]:
        counter.record("blue", status, seconds)
    counter.record("green", 200, 0.01)
    doc = counter.as_json()
    blue = doc["deployments"]["blue"]
    assert (blue["requests"], blue["status_2xx"], blue["status_4xx"], blue["status_5xx"]) == (5, 2, 1, 2)
    counts = dict(zip([*doc["latency_bounds_ms"], "inf"], blue["latency_ms_counts"], strict=True))
    assert (counts[1], counts[5], counts[500], counts["inf"]) == (2, 1, 1, 1)
    assert doc["deployments"]["green"]["requests"] == 1

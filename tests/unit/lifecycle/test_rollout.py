"""Pure parts of the rollout: traffic arithmetic and latency percentiles."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_azure.lifecycle.rollout import split_traffic
from mlops_azure.lifecycle.scoring import ScoreResponse, percentile


def test_split_traffic_keeps_whole_shares_summing_to_100() -> None:
    assert split_traffic({"v1": 100}, "v2", 10) == {"v1": 90, "v2": 10}
    assert split_traffic({"a": 50, "b": 50}, "c", 33) == {"a": 34, "b": 33, "c": 33}
    assert split_traffic({}, "v2", 10) == {"v2": 100}
    for share in range(1, 101):
        split = split_traffic({"a": 70, "b": 20, "c": 10}, "d", share)
        assert sum(split.values()) == 100 and split["d"] == share
        assert split["a"] >= split["b"] >= split["c"]


@pytest.mark.parametrize("q", [0, 50, 95, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    values = list(np.random.default_rng(3).exponential(size=101))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([2.0], q) == 2.0


def test_a_failed_answer_explains_itself() -> None:
    assert ScoreResponse(400, b'{"error": "data[0] lacks x"}', 0.1).message() == "HTTP 400: data[0] lacks x"
    assert ScoreResponse(502, b"Bad Gateway", 0.1).message() == "HTTP 502: Bad Gateway"
    assert ScoreResponse(0, b"", 1.0, error="no answer").message() == "no answer"
    assert not ScoreResponse(0, b"", 1.0).ok and ScoreResponse(204, b"", 0.0).ok

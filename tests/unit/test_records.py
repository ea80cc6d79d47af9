"""Behaviour of the Workspace's value records."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from mlops_azure.workspace import TrafficCounts

BOUNDS = (1.0, 2.0, 5.0)
START = datetime(2025, 1, 1, tzinfo=UTC)


def counts(requests: int, ok: int, failed: int, histogram: tuple[int, ...],
           started: datetime | None = START) -> TrafficCounts:
    return TrafficCounts(requests, ok, requests - ok - failed, failed, BOUNDS, histogram, started)


def test_since_is_the_difference_and_a_restart_starts_over() -> None:
    earlier, now = counts(10, 8, 1, (5, 3, 1, 1)), counts(25, 20, 3, (10, 10, 3, 2))
    diff = now.since(earlier)
    assert (diff.requests, diff.status_2xx, diff.status_4xx, diff.failed) == (15, 12, 1, 2)
    assert diff.latency_counts == (5, 7, 2, 1)
    restarted = counts(3, 3, 0, (3, 0, 0, 0), started=datetime(2025, 1, 2, tzinfo=UTC))
    assert restarted.since(now) == restarted


def test_p95_is_the_upper_bound_of_its_bucket() -> None:
    assert counts(0, 0, 0, (0, 0, 0, 0)).p95_ms() is None
    assert counts(100, 100, 0, (90, 6, 4, 0)).p95_ms() == 2.0
    assert counts(100, 100, 0, (90, 4, 5, 1)).p95_ms() == 5.0
    assert math.isinf(counts(10, 10, 0, (1, 0, 0, 9)).p95_ms() or 0.0)

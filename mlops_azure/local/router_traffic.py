"""What the router learns from request bodies and answers, cheaply: live-traffic counts per
deployment (for the canary), probe requests, and JSON nested too deep to forward.

Counting covers answers to client requests only: a probe (a body with the top-level
``"mlops_probe"`` key, see :mod:`mlops_azure.probes`) is the tool talking to itself. A substring
check is enough here; a client that names a key ``mlops_probe`` only hides its own requests
from the counts.
"""

from __future__ import annotations

import bisect
import re
from datetime import UTC, datetime
from typing import Any

#: Upper bounds (ms) of the latency histogram's buckets; a last bucket takes everything slower.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: The probe marker as it appears in a JSON body (``mlops_azure.contract.PROBE_KEY``, quoted;
#: repeated here so the router does not import pydantic; a unit test checks they agree).
PROBE_MARKER = b'"mlops_probe"'
#: Deepest nesting of JSON arrays and objects forwarded to a deployment.
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BARE_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")
_ALL = bytes(range(256))
_NOT_BRACKETS = bytes(c for c in _ALL if c not in b"[]{}")
_NOT_BRACKETS_OR_QUOTES = bytes(c for c in _ALL if c not in b'[]{}"')


def is_probe(body: bytes) -> bool:
    """Whether a request body carries the probe marker."""
    return PROBE_MARKER in body


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (malformed JSON: False, the
    deployment answers it). A few C-speed passes, no parsing: everything but brackets and quotes
    is dropped in one pass; when every string then reads ``""`` (no bracket inside any string,
    the common case, checked by counting) the quotes go too, else strings are cut out with a
    regular expression on the whole body; finally innermost pairs are removed level by level."""
    if b"\\" in body:  # escaped quotes: only the full string pattern tells where strings end
        skeleton = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    else:
        skeleton = body.translate(None, _NOT_BRACKETS_OR_QUOTES)
        quotes = skeleton.count(b'"')
        # Counted left to right, the pairs of adjacent quotes are the strings themselves only
        # if no string holds a bracket (an opening quote followed by a bracket breaks the run).
        if 2 * skeleton.count(b'""') == quotes:
            skeleton = skeleton.translate(None, b'"')
        elif quotes:
            skeleton = _BARE_STRING.sub(b"", skeleton).replace(b'"', b"")
    if len(skeleton) <= 2 * limit:
        return False
    for _ in range(limit):
        shorter = _INNERMOST.sub(b"", skeleton)
        if not shorter or shorter == skeleton:
            return False  # fully matched within the limit, or unbalanced
        skeleton = shorter
    return _INNERMOST.search(skeleton) is not None


class DeploymentCounts:
    """Cumulative answers of one deployment: by status class, and a latency histogram."""

    __slots__ = ("latency", "requests", "status_2xx", "status_4xx", "status_5xx")

    def __init__(self) -> None:
        self.requests = 0
        self.status_2xx = 0
        self.status_4xx = 0
        self.status_5xx = 0
        self.latency = [0] * (len(LATENCY_BOUNDS_MS) + 1)

    def add(self, status: int, seconds: float) -> None:
        self.requests += 1
        if 200 <= status < 300:
            self.status_2xx += 1
        elif 400 <= status < 500:
            self.status_4xx += 1
        elif status >= 500:
            self.status_5xx += 1
        self.latency[bisect.bisect_left(LATENCY_BOUNDS_MS, seconds * 1000.0)] += 1

    def as_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "status_2xx": self.status_2xx,
                "status_4xx": self.status_4xx, "status_5xx": self.status_5xx,
                "latency_ms_counts": list(self.latency)}


class TrafficCounter:
    """Counts per deployment since the router started (a restart starts from zero)."""

    def __init__(self) -> None:
        self.started_at = datetime.now(UTC).isoformat(timespec="microseconds")
        self.deployments: dict[str, DeploymentCounts] = {}

    def record(self, deployment: str, status: int, seconds: float) -> None:
        counts = self.deployments.get(deployment)
        if counts is None:
            counts = self.deployments[deployment] = DeploymentCounts()
        counts.add(status, seconds)

    def as_json(self) -> dict[str, Any]:
        """The ``GET /.mlops/traffic`` document."""
        return {"started_at": self.started_at, "latency_bounds_ms": list(LATENCY_BOUNDS_MS),
                "deployments": {n: c.as_json() for n, c in sorted(self.deployments.items())}}

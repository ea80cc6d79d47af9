"""Requests the tool itself sends to an endpoint (the QA gate's, a rollout's warm-up and canary
probes) carry a marker, so they are never taken for production traffic.

The marker is a top-level key of the JSON body, ``{"mlops_probe": "qa", "data": [...]}``: a body
reaches the scoring script's ``run()`` by every path (the local server, Azure ML's endpoint, the
SDK's invoke), where headers do not. The project contract asks scoring scripts to ignore unknown
top-level keys; collectors skip marked requests and the readers of collected data drop them.
``mlops invoke`` is a user's request and is not marked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The key is part of the project contract. Project collectors repeat it as a literal (they cannot
# import mlops_azure); tests/unit/monitoring/test_probes.py checks they agree.
from mlops_azure.contract import PROBE_KEY

__all__ = ["PROBE_KEY", "QA_PROBE", "ROLLOUT_PROBE", "is_probe", "mark"]
#: The values the tool sends: who probed.
QA_PROBE = "qa"
ROLLOUT_PROBE = "rollout"


def mark(request: Mapping[str, Any], probe: str) -> dict[str, Any]:
    """``request`` with the probe marker added (the caller's mapping is left as it is)."""
    return {**request, PROBE_KEY: probe}


def is_probe(body: Any) -> bool:
    """Whether a decoded request body carries the marker."""
    return isinstance(body, Mapping) and PROBE_KEY in body

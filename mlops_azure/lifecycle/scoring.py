"""Calling an online endpoint the way a client does: its scoring URL, its key, JSON in and out.

Backend-neutral: a local endpoint and an Azure ML managed online endpoint speak the same
protocol (``POST <scoring_uri>`` with ``Authorization: Bearer <key>``; the optional
``azureml-model-deployment`` header picks a deployment; the response names the deployment that
answered in the same header). Gates and rollouts measure through this client, so what they
measure is what users get. A client the tool itself uses says so (``probe=``): its JSON requests
carry the probe marker of :mod:`mlops_azure.probes`, so monitoring never takes them for users'.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from mlops_azure.errors import BackendError
from mlops_azure.probes import mark
from mlops_azure.workspace import Workspace

DEPLOYMENT_HEADER = "azureml-model-deployment"


@dataclass(frozen=True)
class ScoreResponse:
    """One answer of the endpoint (``status`` 0: no HTTP answer at all, ``error`` says why)."""

    status: int
    body: bytes
    seconds: float
    deployment: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` when it is not JSON."""
        return json.loads(self.body)

    def refusal(self) -> str | None:
        """The endpoint's own sentence when it refused the request as malformed (HTTP 400 or 422
        with ``{"error": ...}``, the contract's ``ErrorResponse``); None for any other answer: a
        missing key (401/403), no such deployment (404) or throttling (429) is no fault of the
        request's content."""
        if self.status not in (400, 422):
            return None
        try:
            parsed = self.json()
        except ValueError:
            return None
        found = parsed.get("error") if isinstance(parsed, dict) else None
        return found[:500] if isinstance(found, str) and found.strip() else None

    def message(self) -> str:
        """A short description of a failed answer, for reports."""
        if self.error:
            return self.error
        try:
            parsed = self.json()
            if isinstance(parsed, dict) and "error" in parsed:
                return f"HTTP {self.status}: {str(parsed['error'])[:200]}"
        except ValueError:
            pass
        return f"HTTP {self.status}: {self.body[:200].decode('utf-8', errors='replace')}"


class ScoringClient:
    """A keep-alive client for one endpoint. Never logs or repr()s the key.

    ``probe`` (e.g. ``"qa"``): the tool's own requests, marked so that collected production
    data leaves them out; None (a user's request, as ``mlops invoke`` sends) marks nothing."""

    def __init__(self, scoring_uri: str, key: str, *, timeout_s: float = 30.0,
                 probe: str | None = None) -> None:
        self.scoring_uri = scoring_uri
        self._key = key
        self.timeout_s = timeout_s
        self.probe = probe
        self._session = requests.Session()
        self._session.trust_env = False  # proxies from the environment must not see the key

    @classmethod
    def for_endpoint(cls, ws: Workspace, endpoint: str, *, timeout_s: float = 30.0,
                     probe: str | None = None) -> ScoringClient:
        """A client for ``endpoint`` of workspace ``ws`` with its primary key."""
        found = ws.endpoints.get(endpoint)
        return cls(found.scoring_uri, ws.endpoints.keys(endpoint).primary, timeout_s=timeout_s,
                   probe=probe)

    def __repr__(self) -> str:
        return f"ScoringClient({self.scoring_uri!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ScoringClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def score(self, request: Mapping[str, Any] | bytes, *, deployment: str | None = None,
              key: str | None = None) -> ScoreResponse:
        """POST one request: a JSON document (marked when this client probes), or raw bytes
        sent as they are (the QA gate's are malformed on purpose: never scored nor collected)."""
        if self.probe is not None and not isinstance(request, bytes):
            request = mark(request, self.probe)
        body = request if isinstance(request, bytes) else json.dumps(request).encode()
        headers = {"Content-Type": "application/json",
                   "Authorization": f"Bearer {self._key if key is None else key}"}
        if deployment is not None:
            headers[DEPLOYMENT_HEADER] = deployment
        started = time.perf_counter()
        try:
            answer = self._session.post(self.scoring_uri, data=body, headers=headers,
                                        timeout=self.timeout_s)
        except requests.RequestException as exc:
            return ScoreResponse(0, b"", time.perf_counter() - started,
                                 error=f"no answer from {self.scoring_uri}: {type(exc).__name__}")
        return ScoreResponse(answer.status_code, answer.content, time.perf_counter() - started,
                             answer.headers.get(DEPLOYMENT_HEADER, ""))

    def predictions(self, request: Mapping[str, Any], *, deployment: str | None = None) -> list[float]:
        """The ``predictions`` of a successful answer; ``BackendError`` otherwise."""
        answer = self.score(request, deployment=deployment)
        if not answer.ok:
            raise BackendError(f"{self.scoring_uri} did not score the request ({answer.message()})")
        try:
            values = answer.json()["predictions"]
            return [float(v) for v in values]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"{self.scoring_uri} answered without a list of predictions "
                               f"({type(exc).__name__})") from None


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation, as numpy's default."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

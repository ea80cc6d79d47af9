"""The harness of the simulated online endpoint tests: ``OnlineEndpointsSim`` driven by the real
azure-ai-ml SDK, scoring through real processes.

A stand-in for ``SimulatedAzureML`` gives ``OnlineEndpointsSim`` what it needs (work folder,
coordinates, model/code folders, computes); one ``responses`` callback per method answers the
workspace GET and hands everything else to ``route``. Scoring goes out for real to 127.0.0.1.
One managed endpoint is shared by the module (servers take a second or two to start).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from azure.core.credentials import AccessToken

from mlops_azure.local import processes
from mlops_azure.testing._sim_endpoints import OnlineEndpointsSim

SUB = "00000000-0000-0000-0000-000000000000"
RG = "rg-mlops-sim"
WS = "mlw-sim"
WS_PATH = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/"
           f"workspaces/{WS}")
EP = "ep-main"

SCORE = """\
import json, os

def init():
    global factor
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "factor.txt")) as f:
        factor = float(f.read())
    if os.environ.get("CRASH_IN_INIT"):
        raise RuntimeError("model file is corrupt: " + os.environ["CRASH_IN_INIT"])

def run(raw):
    return {"y": [x * factor for x in json.loads(raw)["data"]]}
"""


class FakeCredential:
    """HS256 JWTs with the scope as audience (azure-ai-ml decodes some tokens); no network."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        import jwt

        expires = int(time.time()) + 3600
        claims = {"aud": scopes[0].removesuffix("/.default"), "tid": "t", "oid": "o", "exp": expires}
        return AccessToken(jwt.encode(claims, "offline-key-" + "x" * 32, algorithm="HS256"), expires)


@dataclass
class StandInSim:
    """Just what ``OnlineEndpointsSim`` may use of ``SimulatedAzureML``."""

    root: Path
    models: dict[str, Path] = field(default_factory=dict)
    codes: dict[str, Path] = field(default_factory=dict)
    computes: dict[str, dict[str, Any]] = field(default_factory=dict)
    location: str = "westeurope"
    subscription: str = SUB
    resource_group: str = RG
    workspace: str = WS
    ws_path: str = WS_PATH
    arm: str = "https://management.azure.com"

    def resolve_model_dir(self, model_arm_id: str) -> Path:
        match = re.search(r"/models/([^/]+)/versions/([^/]+)$", model_arm_id)
        assert match, model_arm_id
        return self.models[f"{match[1]}:{match[2]}"]

    def resolve_code_dir(self, code_arm_id: str) -> Path:
        match = re.search(r"/codes/([^/]+)/versions/([^/]+)$", code_arm_id)
        assert match, code_arm_id
        return self.codes[f"{match[1]}:{match[2]}"]

    def get_compute(self, name: str) -> dict[str, Any] | None:
        return self.computes.get(name)


@dataclass
class Harness:
    sim: StandInSim
    endpoints: OnlineEndpointsSim
    ml: Any
    calls: list[tuple[str, str, int]]
    request_file: Path


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    from azure.ai.ml import MLClient

    root = tmp_path_factory.mktemp("sim-endpoints")
    sim = StandInSim(root / "sim")
    for name, factor in (("clf:1", "2"), ("clf:2", "3")):
        folder = root / "models" / name.replace(":", "-")
        folder.mkdir(parents=True)
        (folder / "factor.txt").write_text(factor)
        sim.models[name] = folder
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE)
    sim.codes["score:1"] = root / "code"
    sim.computes["k8s-compute"] = {"name": "k8s-compute", "properties": {"computeType": "Kubernetes"}}
    sim.computes["cpu-cluster"] = {"name": "cpu-cluster", "properties": {"computeType": "AmlCompute"}}
    endpoints = OnlineEndpointsSim(sim)
    calls: list[tuple[str, str, int]] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        path = urlsplit(request.url).path
        body = json.loads(request.body) if request.body else None
        if path == WS_PATH and request.method == "GET":
            answer = (200, {}, json.dumps({"id": WS_PATH, "name": WS, "location": "westeurope",
                                           "properties": {}}))
        else:
            answer = endpoints.route(request.method, path, request.url, body) or \
                (404, {}, json.dumps({"error": {"code": "NotFound", "message": path}}))
        calls.append((request.method, path, answer[0]))
        return answer

    cloud = os.environ.get("AZUREML_CURRENT_CLOUD")
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    try:
        for method in ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"):
            mock.add_callback(method, re.compile(r"https://.*"), callback=callback)
        mock.add_passthru("http://127.0.0.1")
        ml = MLClient(FakeCredential(), SUB, RG, WS, show_progress=False, retry_total=0)
        request_file = root / "request.json"
        request_file.write_text(json.dumps({"data": [1, 2]}))
        yield Harness(sim, endpoints, ml, calls, request_file)
    finally:
        mock.stop()
        mock.reset()
        started = set(endpoints._pids)
        endpoints.close()
        left = [p for p in started if processes.alive(p)]
        assert not left, f"processes still running after close(): {left}"
        if cloud is None:
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)
        else:
            os.environ["AZUREML_CURRENT_CLOUD"] = cloud


@pytest.fixture(autouse=True)
def _forget_invoke_headers() -> Iterator[None]:
    """azure-ai-ml 1.35.2 writes ``azureml-model-deployment`` into its shared
    ``EndpointInvokeFields.DEFAULT_HEADER`` dict on ``invoke(deployment_name=...)``, so every later
    invoke in the process goes to that deployment; start each test without it."""
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    saved = dict(EndpointInvokeFields.DEFAULT_HEADER)
    yield
    EndpointInvokeFields.DEFAULT_HEADER.clear()
    EndpointInvokeFields.DEFAULT_HEADER.update(saved)



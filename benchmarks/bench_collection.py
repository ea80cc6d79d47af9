"""What collecting requests costs scoring, with the collector off and on, in one run.

Trains the example model in a temporary project (`mlops init` + `mlops train`), then:

- in-process: loads components/score/score.py as the inference server does and times `run()` on
  a 1-row and a 1,000-row body;
- through a real local endpoint: two deployments of the same model behind one endpoint, one
  recording requests and one not, each one worker; requests/s through the router, picking the
  deployment with the `azureml-model-deployment` header, one keep-alive client.

Off and on rounds alternate so both see the same machine state. Target: ≤ 10 % overhead.
Usage: python benchmarks/bench_collection.py [ROUNDS]
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
STEEL_COMPONENTS = REPO / "examples" / "steel" / "components"
STEEL_SCORE = STEEL_COMPONENTS / "score" / "score.py"


def load_score(model_dir: Path, collect_dir: Path | None) -> ModuleType:
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    if collect_dir is None:
        os.environ.pop("MLOPS_COLLECT_DIR", None)
    else:
        os.environ["MLOPS_COLLECT_DIR"] = str(collect_dir)
    spec = importlib.util.spec_from_file_location(f"score_{collect_dir is not None}",
                                                  STEEL_SCORE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def per_call(module: ModuleType, body: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        module.run(body)
    return (time.perf_counter() - started) / calls


def through_endpoint(project: Path, bodies: dict[str, str], rounds: int) -> None:
    """Requests/s of two deployments (collection off / on) of version 1 behind one endpoint."""
    from mlops_azure.backends import open_workspace
    from mlops_azure.config import load_config
    from mlops_azure.lifecycle.scoring import ScoringClient
    from mlops_azure.workspace import DeploymentSpec

    config = load_config(project / "mlops.yaml")
    ws = open_workspace(config, "local")
    ws.endpoints.create("bench-collect")
    try:
        for name, collect in (("plain", False), ("recording", True)):
            ws.endpoints.create_deployment("bench-collect", name, DeploymentSpec(
                "steel-purchase-forecast", 1, project / "components", "score/score.py",
                collect=collect))
        ws.endpoints.set_traffic("bench-collect", {"plain": 50, "recording": 50})
        print("\n| through the endpoint | off (req/s) | on (req/s) | throughput change |")
        print("|---|---:|---:|---:|")
        with ScoringClient.for_endpoint(ws, "bench-collect") as client:
            for label, body in bodies.items():
                payload = body.encode()
                calls = 300 if label == "1 row" else 20
                rates: dict[str, list[float]] = {"plain": [], "recording": []}
                for _ in range(rounds):
                    for name in rates:
                        started = time.perf_counter()
                        for _ in range(calls):
                            assert client.score(payload, deployment=name).status == 200
                        rates[name].append(calls / (time.perf_counter() - started))
                off, on = statistics.median(rates["plain"]), statistics.median(rates["recording"])
                print(f"| {label} | {off:,.0f} | {on:,.0f} | {on / off - 1:+.1%} |")
        recorded = ws.endpoints.collected_data_dir("bench-collect")
        assert recorded is not None and any(recorded.glob("recording-*.jsonl"))
        assert not any(recorded.glob("plain-*.jsonl"))
    finally:
        ws.endpoints.delete("bench-collect")


def main(rounds: int) -> None:
    mlops = str(Path(sys.executable).with_name("mlops"))
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        subprocess.run([mlops, "init", str(project)], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([mlops, "train", "--model-json", "model.json"], cwd=project, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        models = sorted((project / ".mlops" / "artifacts").rglob("model.txt"))
        model_dir = models[0].parent
        sample = json.loads((project / "sample-request.json").read_text())
        bodies = {"1 row": json.dumps({"data": sample["data"][:1]}),
                  "1,000 rows": json.dumps({"data": (sample["data"] * 1000)[:1000]})}
        off = load_score(model_dir, None)
        on = load_score(model_dir, Path(tmp) / "collected")
        print("| body | off (ms) | on (ms) | overhead |")
        print("|---|---:|---:|---:|")
        for label, body in bodies.items():
            calls = 400 if label == "1 row" else 20
            times_off, times_on = [], []
            for _ in range(rounds):
                times_off.append(per_call(off, body, calls))
                times_on.append(per_call(on, body, calls))
            t_off, t_on = statistics.median(times_off), statistics.median(times_on)
            print(f"| {label} | {t_off * 1e3:.3f} | {t_on * 1e3:.3f} | {t_on / t_off - 1:+.1%} |")
        written = sum(f.stat().st_size for f in (Path(tmp) / "collected").glob("*.jsonl"))
        print(f"\ncollected {written / 2**20:.1f} MiB")
        through_endpoint(project, bodies, rounds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)

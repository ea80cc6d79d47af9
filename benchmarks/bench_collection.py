"""What collecting requests costs score.py: `run()` with the collector off and on, in one run.

Trains the example model in a temporary project (`mlops init` + `mlops train`), loads
components/score/score.py as the inference server does, and times `run()` on a 1-row and a
1,000-row body, alternating off/on rounds so both see the same machine state. Target: ≤ 10 %.
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


def load_score(model_dir: Path, collect_dir: Path | None) -> ModuleType:
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    if collect_dir is None:
        os.environ.pop("MLOPS_COLLECT_DIR", None)
    else:
        os.environ["MLOPS_COLLECT_DIR"] = str(collect_dir)
    spec = importlib.util.spec_from_file_location(f"score_{collect_dir is not None}",
                                                  REPO / "components" / "score" / "score.py")
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)

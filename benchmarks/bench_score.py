"""score.py's own cost at 1 and 1,000 rows against the booster alone, in process.

For the steel example and for a project made by `mlops init --data` from a generated 30-column
table (27 features, a text class label), both trained once by the local pipeline: `run()` on
the JSON body of each format (records and split) inside a Flask request as the inference server
calls it, up to the answer's bytes (the server's `json.dumps` of a returned dict, or the body of
a returned response), with collection off and on; against `booster.predict` on the same rows
already as floats (the floor). Repetitions interleave the cells, so a burst of other work on the
machine spoils one repetition of every cell rather than every repetition of one.

    python benchmarks/bench_score.py [--baseline ROOT] [--code ROOT] [--work DIR] [--reps N]

`--baseline` measures another checkout's score.py files first, in their own process (`tabular`
is imported once per process), on the same trained models, for a before/after table; `--code`
scores with another checkout's scripts; `--work` keeps the trained projects for the next run.
Prints a markdown table; writes benchmarks/results/score.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZES = (1, 1000)
FORMATS = ("records", "split")
REPS = 5


def trained_projects(work: Path) -> dict[str, Path]:
    """Project name -> its registered model folder (trained on first use in ``work``)."""
    from mlops_azure.backends import open_workspace
    from mlops_azure.config import load_config
    from mlops_azure.example.scaffold import init_project
    from mlops_azure.init_from_data import init_from_data
    from mlops_azure.lifecycle.training import train

    sys.path.insert(0, str(HERE))
    from bench_init_from_data import make_table

    found: dict[str, Path] = {}
    for name in ("steel", "init-data"):
        root = work / name
        if not (root / "mlops.yaml").is_file():
            if name == "steel":
                init_project(root)
            else:
                make_table(work / "table.csv", 5000)
                init_from_data(root, work / "table.csv", column="outcome", time_column="day")
        config = load_config(root / "mlops.yaml")
        ws = open_workspace(config)
        models = ws.models.versions(config.model.name)
        if not models:
            print(f"training {name} ...", file=sys.stderr)
            outcome = train(ws, config, actor="bench")
            assert outcome.model is not None, outcome.decision.reason
            models = [outcome.model]
        latest = max(models, key=lambda m: m.version)
        found[name] = ws.models.local_path(config.model.name, latest.version)
    return found


def load_score(script: Path, model_dir: Path, name: str, collect: Path | None) -> Any:
    """``script`` loaded as the inference server loads it, over ``model_dir``, init() done."""
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    os.environ.pop("MLOPS_COLLECT_DIR", None)
    if collect is not None:
        os.environ["MLOPS_COLLECT_DIR"] = str(collect)
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def bodies(features: list[str], rows: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    """(format, rows) -> the request body; 1,000 rows repeat the parity rows."""
    out = {}
    for n in SIZES:
        chosen = (rows * (n // len(rows) + 1))[:n]
        out[("records", n)] = json.dumps({"data": chosen})
        split = [[r[f] for f in features] for r in chosen]
        out[("split", n)] = json.dumps({"columns": features, "data": split})
    return out


def served(run: Callable[[str], Any], body: str) -> Callable[[], bytes]:
    """One call as the server makes it: ``run`` in a request, then the answer's bytes."""
    from flask import Flask, Response

    context = Flask(__name__).test_request_context("/score", method="POST")

    def call() -> bytes:
        with context:
            answer = run(body)
        if isinstance(answer, Response):
            if answer.status_code != 200:
                raise RuntimeError(f"score.py refused the body: {answer.get_data()[:200]!r}")
            return answer.get_data()
        return json.dumps(answer).encode()  # what the server's AMLResponse does with a dict

    return call


def per_call_ms(fn: Callable[[], Any]) -> float:
    """Milliseconds per call over a ~25 ms batch."""
    fn()
    start = time.perf_counter()
    fn()
    number = max(1, int(0.025 / max(time.perf_counter() - start, 1e-6)))
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e3


def bench(code: Path, work: Path, reps: int) -> dict[str, Any]:
    scripts = {"steel": code / "examples" / "steel" / "components" / "score" / "score.py",
               "init-data": code / "components" / "score" / "score.py"}
    cells: dict[str, Callable[[], Any]] = {}
    for project, model_dir in trained_projects(work).items():
        off = load_score(scripts[project], model_dir, f"bench_{project}_off", None)
        on = load_score(scripts[project], model_dir, f"bench_{project}_on", work / "collected" / project)
        features = list(off._model.spec.features)
        rows = json.loads((model_dir / "parity.json").read_text(encoding="utf-8"))["request"]["data"]
        read = sys.modules["tabular.request"].read_request
        for (fmt, n), body in bodies(features, rows).items():
            matrix = read(body, off._decoder)[0]
            if fmt == "split":
                cells[f"{project}|{n}|booster"] = lambda b=off._model.booster, m=matrix: b.predict(m)
            expected = json.loads(served(off.run, body)())["predictions"]
            model = getattr(off, "_router", None) or off._model  # steel: partition models, if any
            assert expected == model.predict_matrix(matrix).tolist(), f"{project} {fmt}: other predictions"
            cells[f"{project}|{n}|{fmt}|off"] = served(off.run, body)
            cells[f"{project}|{n}|{fmt}|on"] = served(on.run, body)
    runs: dict[str, list[float]] = {name: [] for name in cells}
    for rep in range(reps):
        print(f"{code}: repetition {rep + 1}/{reps}", file=sys.stderr)
        for name, fn in cells.items():
            runs[name].append(per_call_ms(fn))
    return {name: statistics.median(values) for name, values in runs.items()}


def report(ms: dict[str, float]) -> list[dict[str, Any]]:
    """One row per project, size and body format; ratio = booster rows/s over score.run rows/s."""
    rows = []
    for project in ("steel", "init-data"):
        for n in SIZES:
            floor = ms[f"{project}|{n}|booster"]
            for fmt in FORMATS:
                off, on = ms[f"{project}|{n}|{fmt}|off"], ms[f"{project}|{n}|{fmt}|on"]
                rows.append({"project": project, "rows": n, "format": fmt, "booster_ms": floor,
                             "run_ms": off, "run_collect_ms": on, "ratio": floor / off,
                             "ratio_collect": floor / on})
    return rows


def table(rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None) -> str:
    head = ("| project | rows | body | booster.predict ms | score.run ms (collect off / on) "
            "| booster rows/s ÷ score.run rows/s (off / on) |")
    lines = [head + (" baseline: score.run ms (off / on), ratio (off / on) |" if baseline else ""),
             "|---|---:|---|---:|---:|---:|" + ("---:|" if baseline else "")]
    for i, r in enumerate(rows):
        line = (f"| {r['project']} | {r['rows']} | {r['format']} | {r['booster_ms']:.3f} "
                f"| {r['run_ms']:.3f} / {r['run_collect_ms']:.3f} "
                f"| {r['ratio']:.0%} / {r['ratio_collect']:.0%} |")
        if baseline:
            b = baseline[i]
            line += (f" {b['run_ms']:.3f} / {b['run_collect_ms']:.3f}, "
                     f"{b['ratio']:.0%} / {b['ratio_collect']:.0%} |")
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose score.py files run")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout to measure first, in its own process (before/after)")
    parser.add_argument("--work", type=Path, help="keep the trained projects here (reused next time)")
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "score.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        trained_projects(work)  # once, before the baseline's process reuses them
        baseline = None
        if args.baseline:
            out = Path(tmp) / "baseline.json"
            subprocess.run([sys.executable, __file__, "--code", str(args.baseline), "--work", str(work),
                            "--reps", str(args.reps), "--out", str(out)],
                           check=True, stdout=subprocess.DEVNULL)
            baseline = json.loads(out.read_text(encoding="utf-8"))["results"]
        rows = report(bench(args.code.resolve(), work, args.reps))
    print(table(rows, baseline))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "code": str(args.code), "baseline_code": str(args.baseline) if args.baseline else None,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "loadavg_1min": os.getloadavg()[0]},
        "seconds": round(time.perf_counter() - start, 1), "results": rows, "baseline": baseline},
        indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

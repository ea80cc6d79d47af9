"""A local online endpoint under load, against the model in-process and `mlflow models serve`.

Requests/s, rows/s, p50/p99 latency for 1- and 1,000-row requests with 1 and 8 concurrent clients:
through the endpoint URL (router + deployment), to the deployment's own port (the difference is
the traffic-splitting front), in-process on the same rows, and behind `mlflow models serve` (its
own venv, benchmarks/.venv-mlflow, made on first use: never a project dependency). Extra
deployments behind the same endpoint, reached with the `azureml-model-deployment` header, measure
settings worth recommending. Every server's predictions are first checked bit for bit.

The load generator is this file run with --client, in its own process. Prints a markdown table
and the router's cost at 1 row against the issue's targets, writes
benchmarks/results/endpoint.json. Details and how to read it: benchmarks/README.md.

Every server it starts is stopped when it ends, fails, or is interrupted (Ctrl-C, SIGTERM,
SIGHUP): the endpoints of the project it made (`mlops run` deploys some), then, as a last
resort, any process whose command line or log is in its temp folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STEEL_COMPONENTS = REPO / "examples" / "steel" / "components"
STEEL_SCORE = STEEL_COMPONENTS / "score" / "score.py"
MLFLOW_VENV = HERE / ".venv-mlflow"
RESULTS = HERE / "results" / "endpoint.json"
MODEL = "steel-purchase-forecast"
CELLS = [(1, 1), (1, 8), (1000, 1), (1000, 8)]  # (rows per request, concurrent clients)
NO_PHONE_HOME = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}  # 127.0.0.1 only
#: What the issue asks of the router and the endpoint at 1 row (router_adds_p50_ms,
#: rps_vs_direct, endpoint p50 ms).
TARGETS = {"router_adds_p50_ms": 0.2, "rps_vs_direct": 0.9, "endpoint_p50_ms": 1.2}
Target = tuple[int, str, dict[str, str], str]  # port, path, headers, body format


# -- load generator: its own process, stdlib only ----------------------------------------------
def http_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def exchange(sock: socket.socket, request: bytes) -> tuple[int, bool, bytes]:
    """Send ``request``, read the response by its Content-Length: (status, keep-alive, body)."""
    sock.sendall(request)
    data = b""
    while (cut := data.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(262144)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    lines = data[:cut].decode("latin-1").lower().split("\r\n")
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    parts, length = [data[cut + 4:]], int(fields["content-length"])
    received = len(parts[0])
    while received < length:
        if not (chunk := sock.recv(262144)):
            raise ConnectionError("closed mid-body")
        parts.append(chunk)
        received += len(chunk)
    return int(lines[0].split()[1]), fields.get("connection", "").strip() != "close", b"".join(parts)


def client(spec: dict[str, Any]) -> dict[str, Any]:
    """``concurrency`` threads, each on one keep-alive socket sending a prebuilt request: a lean
    client like wrk (http.client costs ~0.2 ms a request more), which reconnects whenever the
    server closes, as gunicorn's sync worker does after every response."""
    request = http_request(spec["path"], spec["headers"], Path(spec["body_file"]).read_bytes())
    begin = time.perf_counter() + spec["warmup_s"]
    end = begin + spec["duration_s"]
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        sock: socket.socket | None = None
        mine: list[float] = []
        failed = 0
        while (t0 := time.perf_counter()) < end:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", spec["port"]), timeout=60)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                status, keep, _ = exchange(sock, request)
            except (OSError, ValueError, KeyError, IndexError):
                status, keep = 0, False
            if not keep and sock is not None:
                sock.close()
                sock = None
            t1 = time.perf_counter()
            if begin <= t1 <= end:  # count completions in the window: unbiased for slow requests
                if status == 200:
                    mine.append(t1 - t0)
                else:
                    failed += 1
        if sock is not None:
            sock.close()
        with lock:
            latencies.extend(mine)
            errors.append(failed)

    threads = [threading.Thread(target=worker) for _ in range(spec["concurrency"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"errors": sum(errors), **summary(latencies, spec["duration_s"])}


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3 if ordered else float("nan")

    return {"requests": len(ordered), "rps": len(ordered) / seconds, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**{k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")},
            "errors": sum(r["errors"] for r in runs), "runs": runs}


def over_http(target: Target, body_file: Path, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    """One client run, in its own process."""
    port, path, headers, _ = target
    spec = {"port": port, "path": path, "headers": headers, "body_file": str(body_file),
            "concurrency": concurrency, "warmup_s": args.warmup, "duration_s": args.duration}
    done = subprocess.run([sys.executable, __file__, "--client", json.dumps(spec)], check=True,
                          capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def in_process(fn: Any, args: argparse.Namespace) -> dict[str, Any]:
    """One run of the same warm-up / window scheme, calling ``fn`` back to back in this process."""
    warm = time.perf_counter() + args.warmup
    while time.perf_counter() < warm:
        fn()
    latencies: list[float] = []
    end = time.perf_counter() + args.duration
    while (t0 := time.perf_counter()) < end:
        fn()
        latencies.append(time.perf_counter() - t0)
    return {"errors": 0, **summary(latencies, sum(latencies))}


# -- mlflow: its own venv; a pyfunc with our feature encoding ----------------------------------
def save_mlflow_model(model_dir: Path, out: Path, sample: Path) -> None:
    """Run by the mlflow venv's Python. A pyfunc over model.txt encoding inputs exactly as
    steel.features.encode (category index, unknown -> NaN; numbers as float64), so both servers
    take the same feature columns and must return the same predictions."""
    import math
    import warnings
    from itertools import repeat

    warnings.filterwarnings("ignore")  # mlflow's advice on type hints and pickling
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    class SteelPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        # No type hints on these two: mlflow would read them as the input schema.
        def load_context(self, context):  # type: ignore[no-untyped-def]
            import lightgbm as lgb
            spec = json.loads(Path(context.artifacts["features"]).read_text(encoding="utf-8"))
            self.features = spec["features"]
            self.lookups = {c: {v: float(i) for i, v in enumerate(spec["categories"][c])}
                            for c in spec["categorical_features"]}
            self.booster = lgb.Booster(model_file=context.artifacts["model"])

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            # numpy per column rather than Series.map (6x slower on one row): fair to mlflow.
            n = len(model_input)
            columns = [np.fromiter(map(self.lookups[f].get, model_input[f].to_numpy(), repeat(math.nan)),
                                   "float64", count=n) if f in self.lookups
                       else np.asarray(model_input[f].to_numpy(), dtype="float64") for f in self.features]
            return np.clip(self.booster.predict(np.column_stack(columns)), 0.0, None)

    artifacts = {"model": str(model_dir / "model.txt"), "features": str(model_dir / "features.json")}
    model = SteelPyfunc()
    model.load_context(type("Context", (), {"artifacts": artifacts})())
    frame = pd.DataFrame.from_records(json.loads(sample.read_text(encoding="utf-8"))["data"])
    numeric = [c for c in frame.columns if c not in model.lookups]
    frame[numeric] = frame[numeric].astype("float64")  # a "long" column would refuse a null
    mlflow.pyfunc.save_model(str(out), python_model=model, artifacts=artifacts,
                             signature=infer_signature(frame, model.predict(None, frame)))


def start_mlflow(model_dir: Path, sample: Path, work: Path, stack: ExitStack) -> int:
    """Save the pyfunc and serve it; the port."""
    from mlops_azure.local import processes

    bin_dir = MLFLOW_VENV / "bin"
    python = str(bin_dir / "python")
    if not (bin_dir / "mlflow").exists():
        print("creating benchmarks/.venv-mlflow: pip install mlflow lightgbm pandas", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "mlflow", "lightgbm", "pandas"], check=True)
    # The CLI execs `uvicorn` by name, so the venv's bin goes first on PATH.
    env = {**os.environ, **NO_PHONE_HOME, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    saved = work / "mlflow-model"
    subprocess.run([python, __file__, "--save-mlflow", str(model_dir), str(saved), str(sample)],
                   check=True, env=env, cwd=work)
    port, log = processes.free_port(), work / "mlflow.log"
    with log.open("ab") as handle:
        argv = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(saved), "--env-manager", "local",
                "-h", "127.0.0.1", "-p", str(port)]
        server = subprocess.Popen(argv, env=env, cwd=work, stdout=handle, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    stack.callback(processes.stop, server.pid)  # its own session: its uvicorn child goes too
    deadline = time.monotonic() + 120
    while not _healthy(port, "/health"):
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mlflow models serve did not start; its log: {log.read_text()[-3000:]}")
        time.sleep(0.2)
    return port


# -- the servers ---------------------------------------------------------------------------------
def stop_endpoints(workspace_dir: Path) -> None:
    """Delete every endpoint of a workspace this benchmark made (`mlops run` deploys some)."""
    from mlops_azure.local import LocalWorkspace

    if (workspace_dir / "workspace.db").is_file():
        ws = LocalWorkspace(workspace_dir)
        for endpoint in ws.endpoints.all():
            ws.endpoints.delete(endpoint.name)


def stop_strays(folders: list[Path]) -> None:
    """Last resort, whatever failed before: stop every process of ours whose command line names
    one of ``folders`` or whose output goes to a file in one (every server logs there)."""
    from mlops_azure.local import processes

    marks = [str(f.resolve()) for f in folders]
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = entry.joinpath("cmdline").read_bytes().decode(errors="replace")
            seen += " " + os.readlink(entry / "fd" / "1")
        except OSError:
            continue  # gone, or not ours
        if any(m in seen for m in marks):
            found.append(int(entry.name))
    for pid in found:
        try:
            leader = os.getpgid(pid) == pid
        except ProcessLookupError:
            continue
        if leader:  # a server's session: its workers go with it
            processes.stop(pid, grace_s=5.0)
    for pid in found:
        if processes.alive(pid):
            os.kill(pid, signal.SIGKILL)


def workspace(args: argparse.Namespace, work: Path, stack: ExitStack) -> Any:
    from mlops_azure.local import LocalWorkspace

    if args.model_dir:
        from mlops_azure.local.models import LocalModels

        class OneModel(LocalModels):  # every version is the given folder
            def local_path(self, name: str, version: int) -> Path:
                return Path(args.model_dir).resolve()
        fresh = LocalWorkspace(work / ".mlops")
        fresh.endpoints.models = OneModel(fresh.store, fresh.jobs)
        return fresh
    project = Path(args.project) if args.project else work / "project"
    if not args.project:  # before `mlops run`: its own endpoints go too, even if it fails
        stack.callback(stop_endpoints, project / ".mlops")
    if not (project / ".mlops").is_dir():
        print(f"mlops run {project} --force", file=sys.stderr)
        subprocess.run([str(Path(sys.executable).with_name("mlops")), "run", str(project), "--force"],
                       check=True, stdout=subprocess.DEVNULL)
    return LocalWorkspace(project / ".mlops")


def start_endpoint(ws: Any, args: argparse.Namespace, work: Path, stack: ExitStack) -> dict[str, Target]:
    """The endpoint and its deployments, all serving the working tree's components/ (so this
    measures the score.py being tuned); the HTTP targets by name."""
    from mlops_azure.local.processes import TOKEN_HEADER
    from mlops_azure.workspace import DeploymentSpec

    endpoint = "bench-ep"
    ws.endpoints.create(endpoint)
    stack.callback(ws.endpoints.delete, endpoint)
    shim = work / "no-orjson"
    shim.mkdir()
    (shim / "orjson.py").write_text("raise ImportError('hidden by bench_endpoint.py')\n")
    shim_path = os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))
    deployments: dict[str, dict[str, Any]] = {"v002": {}} if args.no_variants else {
        "v002": {}, "quiet": {"env": {"AZUREML_LOG_LEVEL": "WARNING"}},
        "stdjson": {"env": {"PYTHONPATH": shim_path}}, "workers2": {"instances": 2}}
    for name, extra in deployments.items():
        ws.endpoints.create_deployment(endpoint, name, DeploymentSpec(
            MODEL, args.version, STEEL_COMPONENTS, "score/score.py",
            instance_count=extra.get("instances", 1), environment_variables=extra.get("env", {})))
    ws.endpoints.set_traffic(endpoint, {"v002": 100})
    auth = {"Authorization": f"Bearer {ws.endpoints.keys(endpoint).primary}"}
    front = int(ws.endpoints.get(endpoint).scoring_uri.rsplit(":", 1)[1].split("/")[0])
    routes = json.loads((ws.root / "endpoints" / endpoint / "routes.json").read_text(encoding="utf-8"))
    # A deployment answers its router only: the direct client shows the router's token.
    direct, token = routes["ports"]["v002"], {TOKEN_HEADER: routes["tokens"]["v002"]}
    targets: dict[str, Target] = {}
    for fmt in ("records", "split"):
        targets[f"endpoint {fmt}"] = (front, "/score", auth, fmt)
        targets[f"deployment direct {fmt}"] = (direct, "/score", token, fmt)
    for name, formats in (("quiet", ["split"]), ("stdjson", ["records", "split"]), ("workers2", ["split"])):
        for fmt in formats if name in deployments else []:
            pick = {**auth, "azureml-model-deployment": name}
            targets[f"endpoint {fmt} [{name}]"] = (front, "/score", pick, fmt)
    return targets


def _healthy(port: int, path: str) -> bool:
    from mlops_azure.local import processes
    try:
        return processes.get(port, path, timeout_s=1.0)[0] == 200
    except OSError:
        return False


def post(target: Target, body: bytes) -> tuple[int, Any]:
    port, path, headers, _ = target
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        status, _, answer = exchange(sock, http_request(path, headers, body))
    return status, json.loads(answer or b"null")


# -- the run -------------------------------------------------------------------------------------
def bodies(features: list[str], rows: list[dict[str, Any]], work: Path) -> dict[str, Path]:
    """``"<format>:<rows>"`` -> a body file; 1,000 rows repeat the parity rows."""
    out = {}
    for n in (1, 1000):
        chosen = (rows * (n // len(rows) + 1))[:n]
        split = {"columns": features, "data": [[r[f] for f in features] for r in chosen]}
        for fmt, body in (("records", {"data": chosen}), ("split", split),
                          ("mlflow-split", {"dataframe_split": split}),
                          ("mlflow-records", {"dataframe_records": chosen})):
            out[f"{fmt}:{n}"] = work / f"{fmt}-{n}.json"
            out[f"{fmt}:{n}"].write_text(json.dumps(body), encoding="utf-8")
    return out


def bench(args: argparse.Namespace, work: Path, stack: ExitStack) -> dict[str, Any]:
    import pandas as pd

    sys.path.insert(0, str(STEEL_COMPONENTS))
    from steel.model_io import load_model

    ws = workspace(args, work, stack)
    model_dir = ws.models.local_path(MODEL, args.version)
    model = load_model(model_dir)
    rows = json.loads((model_dir / "parity.json").read_text(encoding="utf-8"))["request"]["data"]
    files = bodies(list(model.spec.features), rows, work)
    text = {key: path.read_text(encoding="utf-8") for key, path in files.items()}
    frames = {n: pd.DataFrame.from_records(json.loads(text[f"records:{n}"])["data"]) for n in (1, 1000)}
    expected = {n: model.predict(frames[n]).tolist() for n in (1, 1000)}

    targets = start_endpoint(ws, args, work, stack)
    if not args.no_mlflow:
        port = start_mlflow(model_dir, files["records:1000"], work, stack)
        for fmt in ("split", "records"):
            targets[f"mlflow {fmt}"] = (port, "/invocations", {}, f"mlflow-{fmt}")
    identical: dict[str, bool] = {}
    for name, target in targets.items():
        answers = [post(target, files[f"{target[3]}:{n}"].read_bytes()) for n in (1, 1000)]
        identical[name] = all(code == 200 and isinstance(out, dict) and out.get("predictions") == expected[n]
                              for (code, out), n in zip(answers, (1, 1000), strict=True))
        if not identical[name]:
            print(f"warning: {name} differs from LoadedModel.predict: {str(answers)[:300]}", file=sys.stderr)

    # In-process: LoadedModel.predict on a ready frame (the reference the target is set against),
    # score.run on the JSON body (a worker's share of a request), the booster alone (the floor).
    score = _load_score(model_dir)
    read_request = sys.modules["tabular.request"].read_request  # loaded by score.py
    matrix = {n: read_request(text[f"split:{n}"], score._decoder)[0] for n in (1, 1000)}
    local = {"in-process LoadedModel.predict": lambda n: partial(model.predict, frames[n]),
             "in-process score.run (records JSON)": lambda n: partial(score.run, text[f"records:{n}"]),
             "in-process score.run (split JSON)": lambda n: partial(score.run, text[f"split:{n}"]),
             "in-process booster.predict (floats)": lambda n: partial(model.booster.predict, matrix[n])}
    plan = [(name, n, c) for name in targets for n, c in CELLS]
    plan += [(name, n, 1) for name in local for n in (1, 1000)]
    runs: dict[tuple[str, int, int], list[dict[str, Any]]] = {step: [] for step in plan}
    # Repetition is the outer loop, so each cell's runs are spread over the whole benchmark and a
    # burst of other work on the machine spoils one run of many cells, not every run of a few.
    for rep in range(args.reps):
        for name, n, c in plan:
            print(f"run {rep + 1}/{args.reps}: {name}, {n} row(s), {c} client(s)", file=sys.stderr)
            one = (over_http(targets[name], files[f"{targets[name][3]}:{n}"], c, args) if name in targets
                   else in_process(local[name](n), args))
            runs[(name, n, c)].append({**one, "loadavg_1min": os.getloadavg()[0]})
    results: dict[str, Any] = {name: {"identical": identical.get(name, True)} for name, _, _ in plan}
    for (name, n, c), measured in runs.items():
        results[name][f"{n}x{c}"] = medians(measured)
    return results


def _load_score(model_dir: Path) -> Any:
    import importlib.util

    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    spec = importlib.util.spec_from_file_location("bench_score", STEEL_SCORE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


# -- the report ----------------------------------------------------------------------------------
def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Per endpoint target and cell: rows/s over in-process, req/s and p50 over mlflow's better
    body format, and what the router adds over the deployment's own port."""
    out: dict[str, Any] = {}
    ref, floor = results["in-process LoadedModel.predict"], results["in-process booster.predict (floats)"]
    for name in (n for n in results if n.startswith("endpoint ") and "[" not in n):
        for n, c in CELLS:
            cell, mine = f"{n}x{c}", results[name][f"{n}x{c}"]
            entry = out.setdefault(name, {}).setdefault(cell, {})
            entry["rows_per_s_vs_in_process"] = mine["rps"] / ref[f"{n}x1"]["rps"]
            entry["rows_per_s_vs_booster_floor"] = mine["rps"] / floor[f"{n}x1"]["rps"]
            flows = [results[m][cell] for m in ("mlflow split", "mlflow records") if m in results]
            if flows:
                entry["rps_vs_mlflow"] = mine["rps"] / max(r["rps"] for r in flows)
                entry["p50_vs_mlflow"] = mine["p50_ms"] / min(r["p50_ms"] for r in flows)
            direct = results.get(name.split(" [")[0].replace("endpoint", "deployment direct"))
            if direct and "[" not in name:
                entry["router_adds_p50_ms"] = mine["p50_ms"] - direct[cell]["p50_ms"]
                entry["rps_vs_direct"] = mine["rps"] / direct[cell]["rps"]
    return out


def table(results: dict[str, Any], rel: dict[str, Any]) -> str:
    columns = [f"{n} row{'s' if n > 1 else ''}, c={c}" for n, c in CELLS]
    lines = ["| target | " + " | ".join(f"{c}: req/s · rows/s · p50 · p99 ms" for c in columns) + " |",
             "|" + "---|" * (len(CELLS) + 1)]
    for name, cells in results.items():
        row = [name + ("" if cells["identical"] else " (PREDICTIONS DIFFER)")]
        for n, c in CELLS:
            r = cells.get(f"{n}x{c}")
            row.append("—" if r is None else f"{r['rps']:,.0f} · {r['rps'] * n:,.0f} · {r['p50_ms']:.2f} · "
                       f"{r['p99_ms']:.2f}" + (f" ({r['errors']} errors)" if r["errors"] else ""))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| ratio, same run | " + " | ".join(columns) + " |", "|" + "---|" * (len(CELLS) + 1)]
    for name, cells in rel.items():
        for key in cells[f"{CELLS[0][0]}x{CELLS[0][1]}"]:
            shown = [f"{cells[f'{n}x{c}'].get(key, float('nan')):.2f}" for n, c in CELLS]
            lines.append(f"| {name}: {key.replace('_', ' ')} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def against_targets(results: dict[str, Any], rel: dict[str, Any]) -> str:
    """The router's cost at 1 row, 1 client, measured side by side, against the issue's targets."""
    lines = []
    for fmt in ("records", "split"):
        mine = rel.get(f"endpoint {fmt}", {}).get("1x1", {})
        cell = results.get(f"endpoint {fmt}", {}).get("1x1")
        if not mine or cell is None:
            continue
        adds, kept, p50 = mine["router_adds_p50_ms"], mine["rps_vs_direct"], cell["p50_ms"]
        lines.append(
            f"{fmt}, 1 row: router adds {adds:.3f} ms p50 (target <= {TARGETS['router_adds_p50_ms']}), "
            f"keeps {kept:.0%} of the deployment's req/s (>= {TARGETS['rps_vs_direct']:.0%}), "
            f"endpoint p50 {p50:.3f} ms (<= {TARGETS['endpoint_p50_ms']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", help="a project made by `mlops run DIR --force` (default: a temp one)")
    parser.add_argument("--model-dir", help="serve this trained model folder (fresh temp workspace)")
    parser.add_argument("--version", type=int, default=2, help=f"version of {MODEL} to serve")
    parser.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--reps", type=int, default=3, help="runs per cell; medians are reported")
    parser.add_argument("--no-mlflow", action="store_true", help="skip mlflow models serve")
    parser.add_argument("--no-variants", action="store_true", help="skip the settings experiments")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--save-mlflow", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(client(json.loads(args.client))))
        return 0
    if args.save_mlflow:
        save_mlflow_model(*(Path(p) for p in args.save_mlflow))
        return 0
    # SIGTERM / SIGHUP unwind like Ctrl-C, so the clean-up below runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _: sys.exit(128 + number))
    with tempfile.TemporaryDirectory(prefix="bench-endpoint-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        strays = [work] + ([Path(args.project) / ".mlops" / "endpoints" / "bench-ep"] if args.project else [])
        stack.callback(stop_strays, strays)  # registered first: runs last
        results = bench(args, work, stack)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
               "loadavg_at_end": os.getloadavg()}
    report = {"model": f"{MODEL}:{args.version}", "machine": machine,
              "settings": {k: getattr(args, k) for k in ("duration", "warmup", "reps")},
              "results": results, "ratios": ratios(results)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(table(results, report["ratios"]))
    print("\n" + against_targets(results, report["ratios"]))
    print(f"\nJSON: {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

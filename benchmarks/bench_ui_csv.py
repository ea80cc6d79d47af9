"""CSV scoring through the web app (`mlops ui`) against direct calls to the same endpoint.

Makes an `mlops init --data` project from a generated table, trains it and releases it to a
local production endpoint, then scores the same ROWS rows (the model's parity rows repeated with
their numbers perturbed) three ways, REPS times each (median):

- **direct**: `ScoringClient.score` on 1,000-row chunks one after another, as a script calling
  the endpoint (the `mlops invoke` path) would: typed records encoded, sent, answers parsed;
- **engine**: the web app's scoring loop in process (`_csv_scoring.read_upload` +
  `score_upload`), with 1 and with 2 chunks in flight: what sending two at a time gains;
- **ui**: a real `mlops ui` server process: upload (multipart POST), poll the progress fragment
  until done, download the CSV; from the first byte sent to the last byte received.

The issue's target: ui rows/s at least 80 % of direct. Writes benchmarks/results/ui_csv.json.

    .venv/bin/python benchmarks/bench_ui_csv.py [--rows 50000] [--reps 3]   # ~1 min
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ui_csv.json"
CHUNK = 1000
TARGET = 0.8


def _quiet(_: str) -> None:
    pass


def make_project(base: Path) -> tuple[Any, str]:
    """A trained project released to production; its config and the serving model's ref."""
    from mlops_azure.backends import open_workspace
    from mlops_azure.config import load_config
    from mlops_azure.example.demo import release
    from mlops_azure.init_from_data import init_from_data
    from mlops_azure.lifecycle.training import train

    rng = np.random.default_rng(3)
    n = 2000
    table = pd.DataFrame({
        "area_m2": rng.uniform(30, 200, n).round(1), "rooms": rng.integers(1, 7, n),
        "district": rng.choice(["centre", "harbour", "hills", "suburbs"], n),
        "garden": rng.choice(["yes", "no"], n), "age_years": rng.integers(0, 90, n),
        "floor": rng.integers(0, 12, n), "distance_km": rng.uniform(0.2, 25, n).round(2)})
    table["price_k"] = (table.area_m2 * 3.1 + table.rooms * 12 - table.age_years * 0.4
                        - table.distance_km * 2 + rng.normal(0, 20, n)).round(1)
    table.to_csv(base / "homes.csv", index=False)
    init_from_data(base / "homes", base / "homes.csv", column="price_k")
    config = load_config(base / "homes" / "mlops.yaml")
    ws = open_workspace(config)
    outcome = train(ws, config, actor="bench")
    assert outcome.model is not None, outcome.decision.reason
    release(ws, config, outcome.model.ref, config.root, _quiet)
    return config, outcome.model.ref


def make_rows(ws: Any, config: Any, ref: str, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    from mlops_azure.webapp._csv_scoring import request_columns
    from mlops_azure.webapp._model_inputs import model_inputs

    name, _, version = ref.rpartition(":")
    inputs = request_columns(model_inputs(ws, config, "local", name, int(version)), config)
    name, _, version = ref.rpartition(":")
    parity = json.loads((ws.models.local_path(name, int(version)) / "parity.json").read_text())
    base = parity["request"]["data"]
    rng = np.random.default_rng(7)
    rows = []
    for i in range(count):
        row = dict(base[i % len(base)])
        for key, value in row.items():
            if isinstance(value, float) and key not in inputs.text:
                row[key] = round(value * float(rng.uniform(0.8, 1.2)), 3)
        rows.append(row)
    return list(inputs.features), rows


def direct(client: Any, features: list[str], rows: list[dict[str, Any]]) -> tuple[float, list[float]]:
    """Seconds to score every chunk one after another, and the predictions."""
    started = time.perf_counter()
    found: list[float] = []
    for first in range(0, len(rows), CHUNK):
        chunk = [{f: r[f] for f in features} for r in rows[first:first + CHUNK]]
        answer = client.score({"data": chunk})
        assert answer.ok, answer.message()
        found += answer.json()["predictions"]
    return time.perf_counter() - started, found


def engine(ws: Any, config: Any, ref: str, csv_path: Path, clients: int, scratch: Path) -> float:
    """Seconds the web app's loop takes (reading the file included) with ``clients`` in flight."""
    from mlops_azure.lifecycle.scoring import ScoringClient
    from mlops_azure.webapp._csv_scoring import Progress, read_upload, request_columns, score_upload
    from mlops_azure.webapp._model_inputs import model_inputs

    endpoint = config.stage("production").endpoint
    folder = Path(tempfile.mkdtemp(dir=scratch))
    pool = [ScoringClient.for_endpoint(ws, endpoint) for _ in range(clients)]
    started = time.perf_counter()
    name, _, version = ref.rpartition(":")
    inputs = request_columns(model_inputs(ws, config, "local", name, int(version)), config)
    upload = read_upload(csv_path, inputs, csv_path.name)
    done = score_upload(folder, upload, inputs, pool, Progress("running", upload.rows),
                        chunk_rows=CHUNK)
    seconds = time.perf_counter() - started
    assert done.state == "done", done.error
    for client in pool:
        client.close()
    return seconds


def start_ui(config: Any, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlops"), "--config", str(config.root / "mlops.yaml"),
         "ui", "--port", "0"], stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())
        if found:
            return process, found.group(0)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"mlops ui did not start: {log.read_text()}")


def through_ui(url: str, content: bytes) -> tuple[float, bytes]:
    """Seconds from the upload's first byte to the download's last, and the downloaded file."""
    session = requests.Session()
    session.trust_env = False
    form = session.get(f"{url}predict/csv", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    started = time.perf_counter()
    answer = session.post(f"{url}predict/csv", data={"csrf_token": token.group(1),
                                                     "stage": "production"},
                          files={"file": ("rows.csv", content, "text/csv")},
                          allow_redirects=False, timeout=120)
    assert answer.status_code == 303, answer.text[:500]
    job = url.rstrip("/") + answer.headers["Location"]
    while True:
        fragment = session.get(f"{job}/fragment", timeout=30).text
        if 'data-state="running"' not in fragment:
            break
        time.sleep(0.05)
    assert 'data-state="done"' in fragment, fragment
    scored = session.get(f"{job}/download", timeout=120).content
    return time.perf_counter() - started, scored


def median_of(reps: int, run: Callable[[], float]) -> dict[str, Any]:
    times = [run() for _ in range(reps)]
    return {"seconds": round(statistics.median(times), 3),
            "runs": [round(t, 3) for t in times]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    from mlops_azure.backends import open_workspace
    from mlops_azure.lifecycle.scoring import ScoringClient

    with tempfile.TemporaryDirectory(prefix="bench-ui-csv-") as tmp:
        base = Path(tmp)
        config, ref = make_project(base)
        ws = open_workspace(config)
        process: subprocess.Popen[bytes] | None = None
        try:
            features, rows = make_rows(ws, config, ref, args.rows)
            content = pd.DataFrame(rows).to_csv(index=False).encode()
            csv_path = base / "rows.csv"
            csv_path.write_bytes(content)
            endpoint = config.stage("production").endpoint
            with ScoringClient.for_endpoint(ws, endpoint) as client:
                direct(client, features, rows[:CHUNK * 2])  # warm the connection and the server
                expected = direct(client, features, rows)[1]
                results: dict[str, Any] = {"direct": median_of(
                    args.reps, lambda: direct(client, features, rows)[0])}
            for clients in (1, 2):
                results[f"engine_{clients}_in_flight"] = median_of(
                    args.reps, lambda c=clients: engine(ws, config, ref, csv_path, c, base))
            process, url = start_ui(config, base / "ui.log")
            _, scored = through_ui(url, content)  # warm-up, and the check
            got = pd.read_csv(io.BytesIO(scored))["prediction"].tolist()
            assert got == expected, "the UI's predictions differ from the endpoint's"
            results["ui"] = median_of(args.reps, lambda: through_ui(url, content)[0])
        finally:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)
            for found in ws.endpoints.all():
                ws.endpoints.delete(found.name)

    for entry in results.values():
        entry["rows_per_s"] = round(args.rows / entry["seconds"])
    ratio = results["ui"]["rows_per_s"] / results["direct"]["rows_per_s"]
    gain = (results["engine_2_in_flight"]["rows_per_s"]
            / results["engine_1_in_flight"]["rows_per_s"])
    report = {"model": ref, "project": "mlops init --data (7 features, 2 categorical)",
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform(), "loadavg_at_end": os.getloadavg()},
              "settings": {"rows": args.rows, "chunk_rows": CHUNK, "reps": args.reps,
                           "csv_bytes": len(content)},
              "results": results,
              "ui_vs_direct": round(ratio, 3), "two_in_flight_vs_one": round(gain, 3),
              "target": {"ui_vs_direct": TARGET, "met": ratio >= TARGET},
              "identical_predictions": True}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print("| path | seconds | rows/s |\n|---|---:|---:|")
    for name, entry in results.items():
        print(f"| {name} | {entry['seconds']:.2f} | {entry['rows_per_s']:,} |")
    print(f"ui / direct = {ratio:.0%} (target >= {TARGET:.0%}); two chunks in flight / one = "
          f"{gain:.2f}x; predictions identical. Written to {RESULTS}")


if __name__ == "__main__":
    main()

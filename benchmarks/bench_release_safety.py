"""What a release costs the clients of production, in one run: failed client requests during a
promotion of a good version, of a canary that always fails, and of one that starts failing after
N calls; a manual rollback; and recovery after ``kill -9`` of a promotion whose failing canary
held 10 %.

Trains the example (two versions) in a temporary project and keeps 4 client threads calling the
production endpoint throughout each scenario (each waits 2 ms between calls, so the machine is
not saturated). Prints a markdown table and writes benchmarks/results/release_safety.json.
Usage: python benchmarks/bench_release_safety.py [FAIL_AFTER]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "release_safety.json"
MLOPS = str(Path(sys.executable).with_name("mlops"))
MODEL = "steel-purchase-forecast"
V1, V2 = f"{MODEL}:1", f"{MODEL}:2"
ENDPOINT = "steel-production"
CLIENTS = 4


@contextmanager
def clients(ws: Any, request: dict[str, Any]) -> Iterator[list[int]]:
    """``CLIENTS`` threads calling production; yields the statuses they got."""
    from mlops_azure.lifecycle.scoring import ScoringClient

    statuses: list[int] = []
    stop = threading.Event()

    def call() -> None:
        with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
            while not stop.is_set():
                statuses.append(client.score(request).status)
                time.sleep(0.002)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        yield statuses
    finally:
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(30)


def wrapped(root: Path, name: str, body: str) -> None:
    """A scoring script beside the real one that imports it as ``real``."""
    (root / "components" / "score" / name).write_text(
        "import sys\nfrom pathlib import Path\nsys.path.insert(0, str(Path(__file__).parent))\n"
        "import score as real\n" + body, encoding="utf-8")


def reset(ws: Any, config: Any) -> None:
    """Back to V1 alone at 100 %, V2's deployment gone."""
    from mlops_azure.lifecycle.release import rollback

    if ws.endpoints.get(ENDPOINT).traffic.get("v002", 0):
        rollback(ws, config, "production")
    if "v002" in {d.name for d in ws.endpoints.list_deployments(ENDPOINT)}:
        ws.endpoints.delete_deployment(ENDPOINT, "v002")


def scenario(ws: Any, request: dict[str, Any], action: Callable[[], Any]) -> dict[str, Any]:
    with clients(ws, request) as statuses:
        started = time.perf_counter()
        try:
            outcome = action()
            error = ""
        except Exception as exc:  # a rolled-back promotion is an outcome here
            outcome, error = None, getattr(exc, "message", str(exc))
        seconds = time.perf_counter() - started
    failed = sum(1 for s in statuses if s != 200)
    return {"requests": len(statuses), "failed": failed, "seconds": round(seconds, 3),
            "outcome": error or getattr(outcome, "action", "done")}


def main() -> int:
    fail_after = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    from mlops_azure.backends import open_workspace
    from mlops_azure.config import load_config
    from mlops_azure.config._edit import set_settings
    from mlops_azure.example.scaffold import init_project
    from mlops_azure.lifecycle.approval import approve
    from mlops_azure.lifecycle.release import promote, rollback
    from mlops_azure.lifecycle.training import train

    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        root = Path(tmp) / "proj"
        init_project(root)
        set_settings(root / "mlops.yaml", {"rollout": {"warmup_requests": 20,
                                                      "requests_per_step": 50}})
        config = load_config(root / "mlops.yaml")
        ws = open_workspace(config)
        for size in (60, 200):
            train(ws, config, params={"n_estimators": size}, actor="bench")
        for ref in (V1, V2):
            ws.events.record("gate.qa", ref, {"stage": "staging", "passed": True, "failed": []},
                            actor="bench")
            approve(ws, config, ref, "production", reason="benchmark")
        request = {"data": json.loads((ws.models.local_path(MODEL, 1) / "parity.json")
                                      .read_text())["request"]["data"][:3]}
        try:
            promote(ws, config, V1, "production")
            rows: dict[str, dict[str, Any]] = {}
            rows["good canary"] = scenario(ws, request, lambda: promote(ws, config, V2, "production"))
            rows["manual rollback"] = scenario(ws, request,
                                               lambda: rollback(ws, config, "production"))
            reset(ws, config)
            wrapped(root, "always_fails.py", "init = real.init\n"
                    "def run(raw):\n    raise RuntimeError('broken')\n")
            wrapped(root, "fails_later.py", "init = real.init\ncalls = 0\n"
                    f"def run(raw):\n    global calls\n    calls += 1\n"
                    f"    if calls > {fail_after}:\n        raise RuntimeError('leak')\n"
                    "    return real.run(raw)\n")
            for label, script in (("canary always fails", "always_fails.py"),
                                  (f"canary fails after {fail_after} calls", "fails_later.py")):
                stages = dict(config.stages)
                stages["production"] = stages["production"].model_copy(
                    update={"scoring_script": f"score/{script}"})
                broken = config.model_copy(update={"stages": stages})
                rows[label] = scenario(ws, request,
                                       lambda b=broken: promote(ws, b, V2, "production"))
                reset(ws, config)
            rows["kill -9 at 10 % of a failing canary, then rollback"] = killed(
                root, ws, request, fail_after)
        finally:
            for endpoint in ws.endpoints.all():
                ws.endpoints.delete(endpoint.name)
    print("| scenario | client requests | failed | seconds | outcome |")
    print("|---|---:|---:|---:|---|")
    for label, row in rows.items():
        print(f"| {label} | {row['requests']} | {row['failed']} | {row['seconds']} | "
              f"{row['outcome'][:90]} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"clients": CLIENTS, "fail_after": fail_after, "rows": rows},
                                  indent=1) + "\n", encoding="utf-8")
    return 0


def killed(root: Path, ws: Any, request: dict[str, Any], fail_after: int) -> dict[str, Any]:
    """Promote a canary that fails once warm, killed by the test hook right after it got 10 %;
    then time ``mlops rollback``, which recovers. Failed requests are counted from its start
    (before it, the broken canary serves its 10 % for as long as nobody runs a command)."""
    from mlops_azure.config._edit import set_settings

    set_settings(root / "mlops.yaml", {"stages.production.scoring_script": "score/fails_later.py"})
    env = {**os.environ, "MLOPS_TEST_KILL_AT": "4", "COLUMNS": "200"}  # 4: the 10 % step made
    done = subprocess.run([MLOPS, "promote", V2, "--stage", "production"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    with clients(ws, request) as statuses:
        at_kill = len(statuses)
        started = time.perf_counter()
        back = subprocess.run([MLOPS, "rollback", "--stage", "production"], cwd=root,
                              capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "200"})
        seconds = time.perf_counter() - started
    assert back.returncode == 0, back.stderr
    after = statuses[at_kill:]  # from the start of the recovering command
    return {"requests": len(after), "failed": sum(1 for s in after if s != 200),
            "seconds": round(seconds, 3),
            "outcome": f"recovered by 'mlops rollback'; traffic {ws.endpoints.get(ENDPOINT).traffic}"}


if __name__ == "__main__":
    sys.exit(main())

"""The web app's pages on a busy workspace: server time with 1,000 versions and 10,000 events.

The example project is trained once and released to staging and production (real endpoints);
then 999 more versions are registered from the same model folder and the audit trail is filled
to 10,000 events with the mix a long-lived project has (QA gates, approvals, promotions, drift
checks, registrations). Each page is then asked for ``--runs`` times through Flask's test client
(the server's own time: routing, workspace reads, rendering; no network), after one warm-up, on
one thread as a server thread would. The status page's target is 100 ms.

Usage: python benchmarks/bench_ui_status.py [--runs 30] [--versions 1000] [--events 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mlops_azure.audit_events import (
    ApproveEvent,
    DriftCheckEvent,
    PromoteEvent,
    QaGateEvent,
    record,
)
from mlops_azure.backends import open_workspace
from mlops_azure.config import load_config
from mlops_azure.example.demo import release
from mlops_azure.example.scaffold import init_project
from mlops_azure.lifecycle.training import train
from mlops_azure.webapp import UiSettings, create_app

RESULTS = Path(__file__).resolve().parent / "results" / "ui_status.json"


def _quiet(_: str) -> None:
    pass


def populate(ws: Any, name: str, versions: int, events: int) -> None:
    """Register versions up to ``versions`` and record events up to ``events``."""
    first = ws.models.get(name, 1)
    for _ in range(len(ws.models.versions(name)), versions):
        ws.models.register(name, job_id=first.lineage.job_id, output="model",
                           metrics=dict(first.metrics), lineage=first.lineage)
    kinds = [
        lambda i: QaGateEvent(subject=f"{name}:{1 + i % versions}", stage="staging", passed=True,
                              checks=()),
        lambda i: ApproveEvent(subject=f"{name}:{1 + i % versions}", stage="production",
                               reason="benchmark", evidence={}),
        lambda i: PromoteEvent(subject=f"{name}:{1 + i % versions}", stage="production",
                               endpoint="steel-production", deployment=f"v{i:03d}",
                               outcome="succeeded", traffic={f"v{i:03d}": 100}),
        lambda i: DriftCheckEvent(subject=f"{name}:{1 + i % versions}", stage="production",
                                  drifted=i % 3 == 0, verdict="benchmark",
                                  metrics={"price_eur_per_tonne": {"psi": 0.01 * (i % 40),
                                                                   "js": 0.002 * (i % 40)}}),
    ]
    have = len(ws.events.recent(events + 1))
    for i in range(have, events):
        record(ws, kinds[i % len(kinds)](i), actor="benchmark")


def time_pages(config_path: Path, pages: list[str], runs: int) -> dict[str, dict[str, float]]:
    settings = UiSettings(config_path=config_path, secret_key=os.urandom(32),
                          scratch_dir=Path(tempfile.mkdtemp(prefix="bench-ui-")))
    client = create_app(settings).test_client()
    found = {}
    for page in pages:
        answer = client.get(page)
        assert answer.status_code == 200, (page, answer.status_code, answer.get_data(as_text=True)[:400])
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client.get(page)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        found[page] = {"median_ms": round(statistics.median(times), 1),
                       "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                       "bytes": len(answer.get_data())}
        print(f"{page:45s} median {found[page]['median_ms']:7.1f} ms  p95 "
              f"{found[page]['p95_ms']:7.1f} ms  {found[page]['bytes']:,} bytes")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ui-status-") as tmp:
        root = Path(tmp) / "steel"
        init_project(root)
        config = load_config(root / "mlops.yaml")
        ws = open_workspace(config)
        name = config.model.name
        train(ws, config, params={"n_estimators": 60}, actor="benchmark")
        try:
            release(ws, config, f"{name}:1", root, _quiet)
            started = time.perf_counter()
            populate(ws, name, args.versions, args.events)
            print(f"populated {args.versions:,} versions and {args.events:,} events in "
                  f"{time.perf_counter() - started:.1f} s")
            drift = ws.events.recent(1, action=DriftCheckEvent.ACTION)[0].id
            pages = ["/", "/status/fragment", "/models", f"/models/{name}/{args.versions}",
                     "/audit", f"/audit?action={PromoteEvent.ACTION}&stage=production", "/drift",
                     f"/drift/{drift}", "/predict"]
            found = time_pages(root / "mlops.yaml", pages, args.runs)
        finally:
            for endpoint in ws.endpoints.all():
                ws.endpoints.delete(endpoint.name)
    result = {"versions": args.versions, "events": args.events, "runs": args.runs,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "target_status_ms": 100, "pages": found}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"status page: {found['/']['median_ms']} ms median (target ≤ 100 ms) → {RESULTS}")


if __name__ == "__main__":
    main()

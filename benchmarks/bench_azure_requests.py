"""HTTP requests each `mlops --backend azure` command makes, against the simulated Azure ML service.

Runs the release loop in-process (the CLI through Typer's runner, a fake credential, Azurite for
storage) and counts, per command: requests to Azure ML (ARM and run history, as the service would
see them), requests to blob storage, and scoring requests to the endpoints. Then it promotes the
same version with 3 and with 6 canary steps to show how a promotion grows with its steps.

Usage: python benchmarks/bench_azure_requests.py [--json benchmarks/results/azure_requests.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from mlops_azure.azure import client
from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.example.scaffold import init_project
from mlops_azure.testing import FakeCredential, SimulatedAzureML, start_azurite

MODEL = "steel-purchase-forecast"


def configure(root: Path, sim: SimulatedAzureML, steps: list[int]) -> None:
    config_file = root / "mlops.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["backend"] = "azure"
    config["azure"] = {"subscription_id": sim.subscription, "resource_group": sim.resource_group,
                       "workspace_name": sim.workspace, "kubernetes_compute": "aks-prod",
                       "poll_interval_s": 1.0, "retry_backoff_s": 0.01}
    config["stages"]["staging"]["target"] = "managed"
    config["stages"]["production"]["target"] = "kubernetes"
    config["rollout"] = {"steps": steps, "warmup_requests": 3, "requests_per_step": 10}
    # Requests are counted, not models judged: the example's fairness limits would stop the
    # deliberately small v1 at approval. The fairness report is still computed (and counted).
    config["responsible"]["policy"] = {"on_registration": "warn"}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def shape(path: str) -> str:
    """A request path without names, for grouping: .../models/{}/versions/{}."""
    path = re.sub(r"^.*?/workspaces/[^/]+", "{ws}", path)
    path = re.sub(r"^.*/mfeOperationsStatus/.*$", "{operation status}", path)
    path = re.sub(r"/(models|data|environments|codes|components|jobs|computes|onlineEndpoints|"
                  r"deployments|schedules|datastores|runs|versions)/[^/]+", r"/\1/{}", path)
    return path


class Counted:
    def __init__(self, sim: SimulatedAzureML, azurite_port: int) -> None:
        self.sim, self.port = sim, azurite_port
        self.rows: list[dict[str, Any]] = []

    def run(self, label: str, *args: str) -> Any:
        calls, local = len(self.sim.calls), len(self.sim.local_calls)
        STATE.__init__()  # type: ignore[misc]
        started = time.perf_counter()
        result = CliRunner().invoke(app, ["--json", *args])
        seconds = time.perf_counter() - started
        if result.exit_code != 0:
            raise SystemExit(f"{label} failed: {result.stderr[-2000:]}")
        azure = self.sim.calls[calls:]
        passed = self.sim.local_calls[local:]
        blob = sum(1 for _, host, _ in passed if host.endswith(f":{self.port}"))
        row = {"command": label, "azure_ml": len(azure), "blob": blob,
               "scoring": len(passed) - blob, "seconds": round(seconds, 2),
               "by_path": Counter(f"{c.method} {shape(c.path)}" for c in azure).most_common(6)}
        self.rows.append(row)
        return json.loads(result.stdout) if result.stdout.strip() else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = args.json.resolve() if args.json else None
    client.default_credential = FakeCredential  # type: ignore[assignment]  # no Azure here
    os.environ["AZURE_TOKEN_CREDENTIALS"] = "AzureCliCredential"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        azurite = start_azurite(work / "azurite")
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        try:
            with SimulatedAzureML(azurite.connection_string, work / "sim") as sim:
                sim.add_kubernetes_compute("aks-prod")
                root = work / "proj"
                init_project(root)
                configure(root, sim, [10, 50, 100])
                os.chdir(root)
                counted = Counted(sim, azurite.port)
                loop(counted, root, sim)
        finally:
            azurite.stop()
    report(counted.rows, out)


def loop(c: Counted, root: Path, sim: SimulatedAzureML) -> None:
    c.run("infra ensure", "infra", "ensure")
    c.run("data upload", "data", "upload", "data/purchases.csv", "--name", "steel-purchases")
    c.run("train (first model)", "train", "-p", "n_estimators=40")
    c.run("train (against a champion)", "train")
    for version in (1, 2):
        ref = f"{MODEL}:{version}"
        c.run(f"deploy staging v{version}", "deploy", ref, "--stage", "staging")
        c.run(f"gate qa v{version}", "gate", "qa", "--stage", "staging", "--model", ref)
        c.run(f"approve v{version}", "approve", ref, "--stage", "production", "--by", "bench",
              "--reason", "benchmark")
        if version == 1:
            c.run("promote v1 (empty endpoint)", "promote", ref, "--stage", "production")
    c.run("promote v2 (new deployment, 3 canary steps)", "promote", f"{MODEL}:2", "--stage",
          "production")
    # Same starting point twice (v1 live, v2 deployed at 0 %), 3 steps then 6 steps:
    for steps in ([10, 50, 100], [5, 10, 25, 50, 75, 100]):
        c.run("rollback", "rollback", "--stage", "production")
        configure(root, sim, steps)
        c.run(f"promote v2, {len(steps)} canary steps", "promote", f"{MODEL}:2", "--stage",
              "production")
    c.run("status", "status")


def report(rows: list[dict[str, Any]], out: Path | None) -> None:
    print("| command | Azure ML requests | blob requests | scoring requests | seconds |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['command']} | {row['azure_ml']} | {row['blob']} | {row['scoring']} | "
              f"{row['seconds']} |")
    by = {r["command"]: r for r in rows}
    three, six = by["promote v2, 3 canary steps"], by["promote v2, 6 canary steps"]
    print(f"\nper extra canary step: {(six['azure_ml'] - three['azure_ml']) / 3:.1f} Azure ML "
          f"requests, {(six['scoring'] - three['scoring']) / 3:.1f} scoring requests")
    print("\nmost frequent Azure ML requests per command:")
    for row in rows:
        print(f"- {row['command']}: " + ", ".join(f"{p} x{n}" for p, n in row["by_path"]))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

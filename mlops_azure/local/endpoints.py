"""The serving half of the embedded workspace: local online endpoints that are real services.

An endpoint is a router process (:mod:`.router`) on a stable 127.0.0.1 port; each deployment is
an ``azureml-inference-server-http`` process (:mod:`.processes`) serving the project's scoring
script over a registered model's files. SQLite holds the truth (ports, pids, traffic, keys); the
router reads a ``routes.json`` derived from it, rewritten atomically on every change. Changes to
one endpoint are serialised by a file lock, so two ``mlops`` processes cannot start two routers
or interleave traffic changes.

Layout: ``endpoints/<endpoint>/{routes.json, router.log, .lock, <deployment>/server.log}``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import secrets
import shutil
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops_azure._files import atomic_write, make_dirs, open_new
from mlops_azure.errors import DeploymentFailed, NotFoundError, UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local import processes
from mlops_azure.local.router import TRAFFIC_PATH
from mlops_azure.local.store import LocalPart, LocalStore
from mlops_azure.workspace import (
    Deployment,
    DeploymentSpec,
    DeploymentState,
    Endpoint,
    EndpointKeys,
    LiveTraffic,
    ModelRegistry,
    OnlineEndpoints,
    ServingDeployment,
    TrafficCounts,
    check_endpoint_name,
    check_traffic,
)


class LocalEndpoints(LocalPart, OnlineEndpoints):
    """Endpoints, deployments, traffic, keys and logs, serving ``models``' files."""

    def __init__(self, store: LocalStore, models: ModelRegistry) -> None:
        super().__init__(store)
        self.models = models

    # -- plumbing --------------------------------------------------------------------------------
    def _endpoint_dir(self, name: str) -> Path:
        return self.root / "endpoints" / name

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        folder = self._endpoint_dir(name)
        make_dirs(folder)
        with open_new(folder / ".lock", "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _endpoint_row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM endpoints WHERE name = ?",
                                               (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"endpoint '{name}' does not exist")
        return row

    def _deployment_rows(self, conn: sqlite3.Connection, endpoint: str) -> list[sqlite3.Row]:
        return conn.execute("SELECT * FROM deployments WHERE endpoint = ? ORDER BY name",
                            (endpoint,)).fetchall()

    def _to_endpoint(self, row: sqlite3.Row, deployments: list[sqlite3.Row]) -> Endpoint:
        up = processes.alive(row["router_pid"], "mlops_azure.local.router")
        return Endpoint(
            name=row["name"],
            scoring_uri=f"http://127.0.0.1:{row['port']}/score",
            kind=row["kind"],
            state="Succeeded" if up else "Unhealthy",
            traffic={d["name"]: int(d["traffic"]) for d in deployments},
            mirror_traffic={d["name"]: int(d["mirror"]) for d in deployments if d["mirror"]},
            created_at=db.from_iso(row["created_at"]) or db.utc_now(),
            error="" if up else "the endpoint's router process is not running: run "
                                "'mlops deploy' again to restart it",
        )

    def _to_deployment(self, row: sqlite3.Row) -> Deployment:
        spec = db.from_json(row["spec"])
        state = DeploymentState(row["state"])
        error = row["error"]
        if state is DeploymentState.SUCCEEDED and not processes.alive(
                row["pid"], f"127.0.0.1:{row['port']}"):
            state = DeploymentState.UNHEALTHY
            error = (f"its server process (pid {row['pid']}) is not running; see "
                     f"'mlops endpoints logs {row['endpoint']} {row['name']}'")
        return Deployment(
            endpoint=row["endpoint"], name=row["name"], model_name=row["model_name"],
            model_version=int(row["model_version"]), state=state,
            created_at=db.from_iso(row["created_at"] or None) or db.utc_now(),
            instance_type=spec.get("instance_type"), instance_count=int(spec.get("instance_count", 1)),
            error=error,
        )

    def _write_routes(self, conn: sqlite3.Connection, name: str) -> None:
        """Rewrite the router's table from the database (atomically: the router never reads a
        half-written file)."""
        row = self._endpoint_row(conn, name)
        live = [d for d in self._deployment_rows(conn, name) if d["state"] == "Succeeded"]
        specs = {d["name"]: db.from_json(d["spec"]) for d in live}
        timeouts = {n: int(spec.get("request_timeout_ms", 5000)) / 1000.0 for n, spec in specs.items()}
        routes = {
            "key_sha256": [hashlib.sha256(row[k].encode()).hexdigest()
                           for k in ("primary_key", "secondary_key")],
            "ports": {d["name"]: int(d["port"]) for d in live},
            "traffic": {d["name"]: int(d["traffic"]) for d in live},
            "mirror": {d["name"]: int(d["mirror"]) for d in live if d["mirror"]},
            "timeout_s": max(timeouts.values(), default=5.0),
            "timeouts_s": timeouts,
            # the router opens at most one connection per server worker (see router_pool)
            "workers": {n: int(spec.get("instance_count", 1)) for n, spec in specs.items()},
            "tokens": {d["name"]: d["router_token"] for d in live if d["router_token"]},
        }
        # atomic_write creates the file 0600: it holds the deployments' tokens.
        atomic_write(self._endpoint_dir(name) / "routes.json", json.dumps(routes, indent=1).encode())

    # -- endpoints -------------------------------------------------------------------------------
    def create(self, name: str, *, kind: str = "local", description: str = "",
                        compute: str | None = None) -> Endpoint:
        """Create endpoint ``name`` with fresh keys and start its router; an existing endpoint is
        returned, its router restarted on the same port when it had stopped."""
        check_endpoint_name(name)
        with self._locked(name):
            with self._db() as conn, db.write_transaction(conn):
                row = conn.execute("SELECT * FROM endpoints WHERE name = ?", (name,)).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO endpoints (name, kind, description, primary_key, secondary_key, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (name, kind, description, secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                         db.to_iso(db.utc_now())))
                self._write_routes(conn, name)
                row = self._endpoint_row(conn, name)
            if not processes.alive(row["router_pid"], "mlops_azure.local.router"):
                folder = self._endpoint_dir(name)
                pid, port = processes.start_router(folder / "routes.json", int(row["port"] or 0),
                                                   folder / "router.log")
                with self._db() as conn, db.write_transaction(conn):
                    conn.execute("UPDATE endpoints SET router_pid = ?, port = ? WHERE name = ?",
                                 (pid, port, name))
        return self.get(name)

    def get(self, name: str) -> Endpoint:
        """One endpoint with its traffic."""
        with self._db() as conn:
            return self._to_endpoint(self._endpoint_row(conn, name), self._deployment_rows(conn, name))

    def all(self) -> list[Endpoint]:
        """All endpoints, by name."""
        with self._db() as conn:
            rows = conn.execute("SELECT * FROM endpoints ORDER BY name").fetchall()
            return [self._to_endpoint(r, self._deployment_rows(conn, r["name"])) for r in rows]

    def delete(self, name: str) -> None:
        """Stop the router and every deployment, then forget the endpoint."""
        with self._locked(name):
            with self._db() as conn:
                row = self._endpoint_row(conn, name)
                deployments = self._deployment_rows(conn, name)
            processes.stop(row["router_pid"])
            for dep in deployments:
                processes.stop(dep["pid"])
                processes.stop(dep["pending_pid"])
            with self._db() as conn, db.write_transaction(conn):
                conn.execute("DELETE FROM deployments WHERE endpoint = ?", (name,))
                conn.execute("DELETE FROM endpoints WHERE name = ?", (name,))
        shutil.rmtree(self._endpoint_dir(name), ignore_errors=True)

    def keys(self, endpoint: str) -> EndpointKeys:
        """The endpoint's two keys."""
        with self._db() as conn:
            row = self._endpoint_row(conn, endpoint)
        return EndpointKeys(row["primary_key"], row["secondary_key"])

    def traffic(self, endpoint: str) -> list[ServingDeployment]:
        """Deployments behind ``endpoint`` with their live traffic, most first; empty when none."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT * FROM deployments WHERE endpoint = ? ORDER BY traffic DESC, name", (endpoint,)
            ).fetchall()
        return [ServingDeployment(r["endpoint"], r["name"], r["model_name"], int(r["model_version"]),
                                  int(r["traffic"])) for r in rows]

    def collected_data_dir(self, endpoint: str, since_s: float | None = None) -> Path:
        """Where the endpoint's deployments record requests and predictions (one JSON-lines file
        per server worker; the reader filters by time, so ``since_s`` changes nothing here)."""
        return self.root / "collected" / endpoint

    # -- deployments -----------------------------------------------------------------------------
    def create_deployment(
        self, endpoint: str, name: str, spec: DeploymentSpec, *, timeout_s: float = 300.0
    ) -> Deployment:
        """Start a server for ``spec`` and wait until it answers; replacing an existing deployment
        swaps it in only once the new server is healthy, so traffic it takes never stops."""
        check_endpoint_name(name, "deployment")
        script = spec.code_dir / spec.scoring_script
        if not script.is_file():
            raise UserInputError(f"scoring script {script} does not exist")
        model_dir = self.models.local_path(spec.model_name, spec.model_version)
        what = f"deployment '{name}' of endpoint '{endpoint}'"
        with self._locked(endpoint):
            with self._db() as conn:
                self._endpoint_row(conn, endpoint)
                old = conn.execute("SELECT * FROM deployments WHERE endpoint = ? AND name = ?",
                                   (endpoint, name)).fetchone()
            log_file = self._endpoint_dir(endpoint) / name / "server.log"
            port = processes.free_port()
            token = secrets.token_urlsafe(32)
            extra_env = dict(spec.environment_variables)
            if spec.collect:  # read by the scoring script's collector (components/tabular/collect.py)
                extra_env.update({"MLOPS_COLLECT_DIR": str(self.collected_data_dir(endpoint)),
                                  "MLOPS_DEPLOYMENT": name,
                                  "MLOPS_MODEL": f"{spec.model_name}:{spec.model_version}"})
            record = _spec_json(spec)
            now = db.to_iso(db.utc_now())
            key = (endpoint, name)
            if old is None:
                # The row comes first: a deploy killed from here on leaves a 'Creating' row that
                # names its server (pid, once started) for recovery to stop and remove.
                with self._db() as conn, db.write_transaction(conn):
                    conn.execute(
                        "INSERT INTO deployments (endpoint, name, model_name, model_version, traffic, "
                        "state, port, pid, spec, created_at, router_token) "
                        "VALUES (?, ?, ?, ?, 0, 'Creating', ?, NULL, ?, ?, ?)",
                        (endpoint, name, spec.model_name, spec.model_version, port, record, now, token))
            pid = processes.start_inference_server(
                code_dir=spec.code_dir.resolve(), scoring_script=spec.scoring_script,
                model_dir=model_dir, port=port, workers=spec.instance_count,
                timeout_ms=spec.request_timeout_ms, log_file=log_file, extra_env=extra_env,
                token=token)
            # A replacement server is 'pending' on the serving row until it is swapped in.
            column = "pid" if old is None else "pending_pid"
            with self._db() as conn, db.write_transaction(conn):
                conn.execute(f"UPDATE deployments SET {column} = ? WHERE endpoint = ? AND name = ?",
                             (pid, *key))
            try:
                processes.wait_until_healthy(pid, port, log_file, timeout_s, what, token)
            except BaseException as exc:
                processes.stop(pid)
                message = exc.message if isinstance(exc, DeploymentFailed) else "interrupted"
                with self._db() as conn, db.write_transaction(conn):
                    if old is None:
                        conn.execute("UPDATE deployments SET state = 'Failed', error = ? "
                                     "WHERE endpoint = ? AND name = ?", (message, *key))
                    else:
                        conn.execute("UPDATE deployments SET pending_pid = NULL "
                                     "WHERE endpoint = ? AND name = ?", key)
                raise
            with self._db() as conn, db.write_transaction(conn):
                conn.execute(
                    "UPDATE deployments SET model_name = ?, model_version = ?, state = 'Succeeded', "
                    "error = '', port = ?, pid = ?, spec = ?, created_at = ?, router_token = ?, "
                    "pending_pid = NULL WHERE endpoint = ? AND name = ?",
                    (spec.model_name, spec.model_version, port, pid, record, now, token, *key))
                self._write_routes(conn, endpoint)
            if old is not None:
                processes.stop(old["pid"])
        return self.get_deployment(endpoint, name)

    def get_deployment(self, endpoint: str, name: str) -> Deployment:
        """One deployment; a server that died shows as ``Unhealthy`` with the reason."""
        with self._db() as conn:
            self._endpoint_row(conn, endpoint)
            row = conn.execute("SELECT * FROM deployments WHERE endpoint = ? AND name = ?",
                               (endpoint, name)).fetchone()
        if row is None:
            raise NotFoundError(f"endpoint '{endpoint}' has no deployment '{name}'")
        return self._to_deployment(row)

    def list_deployments(self, endpoint: str) -> list[Deployment]:
        """Deployments under ``endpoint``, by name."""
        with self._db() as conn:
            self._endpoint_row(conn, endpoint)
            return [self._to_deployment(r) for r in self._deployment_rows(conn, endpoint)]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Stop and forget a deployment that takes no live traffic."""
        with self._locked(endpoint):
            with self._db() as conn, db.write_transaction(conn):
                row = conn.execute("SELECT * FROM deployments WHERE endpoint = ? AND name = ?",
                                   (endpoint, name)).fetchone()
                if row is None:
                    raise NotFoundError(f"endpoint '{endpoint}' has no deployment '{name}'")
                if row["traffic"] > 0:
                    raise UserInputError(
                        f"deployment '{name}' still takes {row['traffic']} % of endpoint '{endpoint}'"
                        "'s traffic: move its traffic to another deployment first")
                conn.execute("DELETE FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))
                self._write_routes(conn, endpoint)
            processes.stop(row["pid"])
            processes.stop(row["pending_pid"])
        shutil.rmtree(self._endpoint_dir(endpoint) / name, ignore_errors=True)

    def set_traffic(
        self, endpoint: str, traffic: Mapping[str, int], mirror: Mapping[str, int] | None = None
    ) -> Endpoint:
        """Set live and mirror traffic by Azure's rules; the router applies it on the next request."""
        mirror = dict(mirror or {})
        with self._locked(endpoint), self._db() as conn, db.write_transaction(conn):
            self._endpoint_row(conn, endpoint)
            rows = {r["name"]: r for r in self._deployment_rows(conn, endpoint)}
            check_traffic(endpoint, {k: str(r['state']) for k, r in rows.items()}, dict(traffic), mirror)
            for dep in rows:
                conn.execute("UPDATE deployments SET traffic = ?, mirror = ?, updated_at = ? "
                             "WHERE endpoint = ? AND name = ?",
                             (int(traffic.get(dep, 0)), int(mirror.get(dep, 0)),
                              db.to_iso(db.utc_now()), endpoint, dep))
            self._write_routes(conn, endpoint)
        return self.get(endpoint)

    def router_counts(self, endpoint: str) -> dict[str, TrafficCounts] | None:
        """What the endpoint's router counted per deployment since it started (client requests
        only, probes left out); None when the router is not running or does not answer."""
        with self._db() as conn:
            row = self._endpoint_row(conn, endpoint)
        if not row["port"] or not processes.alive(row["router_pid"], "mlops_azure.local.router"):
            return None
        auth = {"Authorization": f"Bearer {self.keys(endpoint).primary}"}
        try:
            status, body = processes.get(int(row["port"]), TRAFFIC_PATH, timeout_s=5.0, headers=auth)
            doc = json.loads(body) if status == 200 else None
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict):
            return None
        started = db.from_iso(doc.get("started_at"))
        bounds = tuple(float(b) for b in doc.get("latency_bounds_ms", []))
        return {str(name): TrafficCounts(
            int(c["requests"]), int(c["status_2xx"]), int(c["status_4xx"]), int(c["status_5xx"]),
            bounds, tuple(int(n) for n in c["latency_ms_counts"]), started)
            for name, c in doc.get("deployments", {}).items()}

    def deployment_logs(self, endpoint: str, name: str, lines: int = 100) -> str:
        """The tail of the deployment's server log."""
        self.get_deployment(endpoint, name)
        return processes.tail(self._endpoint_dir(endpoint) / name / "server.log", lines)



class LocalLiveTraffic(LiveTraffic):
    """What each local endpoint's router counted (``LocalEndpoints.router_counts``)."""

    def __init__(self, endpoints: LocalEndpoints) -> None:
        self.endpoints = endpoints

    def counts(self, endpoint: str) -> dict[str, TrafficCounts] | None:
        return self.endpoints.router_counts(endpoint)


def _spec_json(spec: DeploymentSpec) -> str:
    record: dict[str, Any] = {
        "code_dir": str(spec.code_dir), "scoring_script": spec.scoring_script,
        "environment": str(spec.environment) if spec.environment else None,
        "instance_type": spec.instance_type, "instance_count": spec.instance_count,
        "request_timeout_ms": spec.request_timeout_ms,
        # names only: values may be secrets
        "environment_variables": sorted(spec.environment_variables),
    }
    return json.dumps(record, sort_keys=True)

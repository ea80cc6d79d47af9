"""The crash sweep: ``kill -9`` of deploy, promote and rollback at every checkpoint and at random
times, with a client calling the endpoint throughout; two writers at once.

After every kill the next command must recover, and then:
- traffic sums to 100 over healthy deployments, all serving approved versions;
- the endpoint's table is the one the audit trail last recorded;
- no deployment is left ``Creating`` and no server process runs outside the table;
- the client saw no failed request (every version here is good).

The commands are real ``mlops`` processes, killed by the test hook ``MLOPS_TEST_KILL_AT``
(:func:`mlops_azure.lifecycle.traffic_journal.checkpoint`) or by the test with SIGKILL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mlops_azure.audit_events import read
from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.config._edit import set_settings
from mlops_azure.lifecycle.approval import approve
from mlops_azure.lifecycle.endpoint_lock import lock_name
from mlops_azure.lifecycle.release import deploy, promote, rollback
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.lifecycle.traffic_journal import KILL_AT_VARIABLE, TrafficChanged, unfinished
from mlops_azure.workspace import DeploymentState, Workspace

MLOPS = str(Path(sys.executable).with_name("mlops"))
MODEL = "steel-purchase-forecast"
V1, V2 = f"{MODEL}:1", f"{MODEL}:2"
PRODUCTION = "steel-production"
STAGING = "steel-staging"
KILLED = -signal.SIGKILL


@pytest.fixture
def project(released_project: ProjectConfig) -> ProjectConfig:
    """Short rollouts (the sweep runs dozens), V1 and V2 approved, V1 serving production."""
    set_settings(released_project.root / "mlops.yaml", {"rollout": {
        "warmup_requests": 3, "requests_per_step": 3, "lock_wait_s": 120}})
    config = load_config(released_project.root / "mlops.yaml")
    ws = open_workspace(config)
    for ref in (V1, V2):
        ws.events.record("gate.qa", ref, {"stage": "staging", "passed": True, "failed": []},
                        actor="qa")
        approve(ws, config, ref, "production", reason="crash sweep")
    promote(ws, config, V1, "production")
    return config


def mlops(project: ProjectConfig, *args: str,
          kill_at: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if kill_at is not None:
        env[KILL_AT_VARIABLE] = str(kill_at)
    return subprocess.run([MLOPS, *args], cwd=project.root, capture_output=True, text=True,
                          timeout=300, env=env)


@contextmanager
def steady_clients(ws: Workspace, endpoint: str, threads: int = 2) -> Iterator[list[int]]:
    """Clients calling ``endpoint`` without pause; yields the statuses they got."""
    statuses: list[int] = []
    stop = threading.Event()
    request = json.loads((ws.models.local_path(MODEL, 1) / "parity.json").read_text())["request"]
    request = {"data": request["data"][:3]}

    def call() -> None:
        with ScoringClient.for_endpoint(ws, endpoint) as client:
            while not stop.is_set():
                statuses.append(client.score(request).status)
                time.sleep(0.002)

    workers = [threading.Thread(target=call, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield statuses
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)


def server_count(root: Path) -> int:
    """How many inference servers (gunicorn masters) run from the project at ``root``."""
    def argv(pid: str) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""

    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or b"gunicorn" not in argv(entry.name):
            continue
        try:
            cwd = (entry / "cwd").resolve()
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if cwd.is_relative_to(root.resolve()) and b"gunicorn" not in argv(parent):
            count += 1
    return count


def assert_sound(ws: Workspace, endpoint: str, approved: set[str]) -> None:
    """The invariants every command must leave behind, killed or not (once recovered)."""
    assert unfinished(ws, endpoint) is None
    table = ws.endpoints.get(endpoint).traffic
    assert sum(table.values()) == 100, table
    deployments = {d.name: d for d in ws.endpoints.list_deployments(endpoint)}
    for name, share in table.items():
        dep = deployments[name]
        assert dep.state is DeploymentState.SUCCEEDED, (name, dep.state, dep.error)
        if share:
            assert dep.model_ref in approved, (name, dep.model_ref)
    # No server runs outside the tables (a killed start leaves none behind once recovered).
    known = sum(len(ws.endpoints.list_deployments(e.name)) for e in ws.endpoints.all())
    assert server_count(Path(ws.root).parent) == known  # type: ignore[attr-defined]
    changes = read(ws, TrafficChanged, 1, subject=endpoint)
    if changes:
        recorded = {n: s for n, s in changes[0].event.after.items() if s}
        assert recorded == {n: s for n, s in table.items() if s}, (recorded, table)


def sweep(project: ProjectConfig, ws: Workspace, endpoint: str, command: list[str],
          reset: Callable[[], None], approved: set[str]) -> int:
    """Kill ``command`` at checkpoint 1, 2, ... until it runs to the end; after each kill, run
    it again (it must recover and finish), check, then ``reset``. Returns the kills made."""
    for k in range(1, 60):
        killed = mlops(project, *command, kill_at=k)
        if killed.returncode != KILLED:
            assert killed.returncode == 0, killed.stderr
            assert_sound(ws, endpoint, approved)
            return k - 1
        assert f"killed at checkpoint {k}" in killed.stderr
        again = mlops(project, *command)
        assert again.returncode == 0, f"after a kill at checkpoint {k}: {again.stderr}"
        if "ended" not in killed.stderr and "removed" not in killed.stderr:
            # Killed before its operation ended: the re-run undoes it first, and says so.
            assert "was undone" in again.stdout + again.stderr, again.stdout
        assert_sound(ws, endpoint, approved)
        reset()
        assert_sound(ws, endpoint, approved)
    pytest.fail(f"{command} was still killed at checkpoint 59")


def back_to_v1(project: ProjectConfig, ws: Workspace, stage: str, endpoint: str) -> Callable[[], None]:
    """Roll back to V1 and remove V2's deployment, so the next run starts it afresh."""

    def reset() -> None:
        rollback(ws, project, stage)
        assert ws.endpoints.get(endpoint).traffic == {"v001": 100, "v002": 0}
        ws.endpoints.delete_deployment(endpoint, "v002")

    return reset


def test_promote_killed_at_every_checkpoint_recovers_and_costs_no_client_request(
    project: ProjectConfig,
) -> None:
    ws = open_workspace(project)
    with steady_clients(ws, PRODUCTION) as statuses:
        kills = sweep(project, ws, PRODUCTION, ["promote", V2, "--stage", "production"],
                      back_to_v1(project, ws, "production", PRODUCTION), {V1, V2})
    print(f"promote: {kills} kills, {len(statuses)} client requests")  # shown with -s
    assert kills >= 8  # begun, started, each share journaled and made, ended
    assert statuses and set(statuses) == {200}, f"{len(statuses) - statuses.count(200)} failed"


def test_deploy_and_rollback_killed_at_every_checkpoint_recover(project: ProjectConfig) -> None:
    ws = open_workspace(project)
    assert mlops(project, "deploy", V1, "--stage", "staging").returncode == 0

    def forward() -> None:
        # A rollback killed after it ended was complete: the re-run rolled forward again.
        if ws.endpoints.get(STAGING).traffic != {"v001": 0, "v002": 100}:
            deploy(ws, project, V2, "staging")

    with steady_clients(ws, STAGING) as statuses:
        deploy_kills = sweep(project, ws, STAGING, ["deploy", V2, "--stage", "staging"],
                             back_to_v1(project, ws, "staging", STAGING), {V1, V2})
        assert mlops(project, "deploy", V2, "--stage", "staging").returncode == 0
        # Rollback killed at every checkpoint: the re-run undoes the killed one and rolls back.
        rollback_kills = sweep(project, ws, STAGING, ["rollback", "--stage", "staging"],
                               forward, {V1, V2})
    print(f"deploy: {deploy_kills} kills, rollback: {rollback_kills} kills, "
          f"{len(statuses)} client requests")
    assert deploy_kills >= 4 and rollback_kills >= 3
    assert statuses and set(statuses) == {200}


def test_promote_killed_at_random_times_recovers(project: ProjectConfig) -> None:
    ws = open_workspace(project)
    rng = random.Random(16)
    env = {**os.environ, "COLUMNS": "200"}
    with steady_clients(ws, PRODUCTION) as statuses:
        for _ in range(4):
            proc = subprocess.Popen([MLOPS, "promote", V2, "--stage", "production"],
                                    cwd=project.root, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            status = mlops(project, "--json", "status")
            assert status.returncode == 0
            back = mlops(project, "rollback", "--stage", "production")
            assert back.returncode == 0, back.stderr
            assert_sound(ws, PRODUCTION, {V1, V2})
    assert statuses and set(statuses) == {200}
    assert set(ws.endpoints.get(PRODUCTION).traffic.values()) <= {0, 100}


def test_a_killed_recovery_is_recovered_in_turn(project: ProjectConfig) -> None:
    ws = open_workspace(project)
    assert mlops(project, "promote", V2, "--stage", "production", kill_at=5).returncode == KILLED
    status = json.loads(mlops(project, "--json", "status").stdout)
    assert status["operations"][PRODUCTION].startswith("unfinished promote by mlops promote")
    assert ws.endpoints.get(PRODUCTION).traffic == {"v001": 90, "v002": 10}  # killed mid-canary
    # The re-run is killed inside its recovery (its 2nd checkpoint: the restoring change).
    assert mlops(project, "promote", V2, "--stage", "production", kill_at=2).returncode == KILLED
    done = mlops(project, "promote", V2, "--stage", "production")
    assert done.returncode == 0, done.stderr
    assert "was undone" in done.stdout + done.stderr
    assert_sound(ws, PRODUCTION, {V1, V2})
    assert ws.endpoints.get(PRODUCTION).traffic == {"v001": 0, "v002": 100}


def test_endpoints_recover_undoes_a_killed_promotion_unattended(project: ProjectConfig) -> None:
    ws = open_workspace(project)
    assert mlops(project, "promote", V2, "--stage", "production", kill_at=4).returncode == KILLED
    assert ws.endpoints.get(PRODUCTION).traffic == {"v001": 90, "v002": 10}
    recovered = mlops(project, "--json", "endpoints", "recover", PRODUCTION)
    assert recovered.returncode == 0, recovered.stderr
    answer = json.loads(recovered.stdout)
    assert answer["recovered"].startswith("an unfinished promote")
    assert answer["traffic"] == {"v001": 100}  # the canary it had started is gone
    assert_sound(ws, PRODUCTION, {V1, V2})
    again = mlops(project, "endpoints", "recover", PRODUCTION)
    assert again.returncode == 0 and "nothing to recover" in again.stdout + again.stderr
    missing = mlops(project, "endpoints", "recover", "no-such-endpoint")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_promote_racing_rollback_and_two_promotes_at_once(project: ProjectConfig) -> None:
    ws = open_workspace(project)
    env = {**os.environ, "COLUMNS": "200"}
    with steady_clients(ws, PRODUCTION) as statuses:
        promoting = subprocess.Popen([MLOPS, "promote", V2, "--stage", "production"],
                                     cwd=project.root, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while ws.locks.holder(lock_name(PRODUCTION)) is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the rollback must start while the promotion holds the endpoint
        back = mlops(project, "rollback", "--stage", "production")
        _, err = promoting.communicate(timeout=300)
        assert promoting.returncode == 0, err
        assert back.returncode == 0, back.stderr
        # The rollback waited for the promotion, then undid it: V1 serves, V2 kept at 0 %.
        assert ws.endpoints.get(PRODUCTION).traffic == {"v001": 100, "v002": 0}
        assert_sound(ws, PRODUCTION, {V1, V2})

        first, second = (subprocess.Popen([MLOPS, "promote", V2, "--stage", "production"],
                                          cwd=project.root, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True) for _ in range(2))
        for proc in (first, second):
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
        assert ws.endpoints.get(PRODUCTION).traffic == {"v001": 0, "v002": 100}
        assert_sound(ws, PRODUCTION, {V1, V2})
    assert statuses and set(statuses) == {200}

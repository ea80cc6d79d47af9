"""The release commands as a user and a pipeline run them: real `mlops` subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.local import processes

MLOPS = str(Path(sys.executable).with_name("mlops"))
V1 = "steel-purchase-forecast:1"


def mlops(project: ProjectConfig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLOPS, *args], cwd=project.root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})


def test_a_deployed_endpoint_outlives_the_command_and_answers_invoke(
    released_project: ProjectConfig,
) -> None:
    deployed = mlops(released_project, "deploy", V1, "--stage", "staging")
    assert deployed.returncode == 0, deployed.stderr

    invoked = mlops(released_project, "--json", "invoke", "--stage", "staging",
                    "--file", "sample-request.json")
    assert invoked.returncode == 0, invoked.stderr
    answer = json.loads(invoked.stdout)
    assert answer["deployment"] == "v001" and len(answer["response"]["predictions"]) == 3

    status = json.loads(mlops(released_project, "--json", "status").stdout)
    staging = [row for row in status["stages"] if row["stage"] == "staging"]
    assert [(r["deployment"], r["model"], r["traffic"], r["state"]) for r in staging] == [
        ("v001", V1, 100, "Succeeded")]

    keys = mlops(released_project, "endpoints", "keys", "steel-staging")
    secret = open_workspace(released_project).endpoints.keys("steel-staging").primary
    assert keys.returncode == 0 and secret not in keys.stdout and "hidden" in keys.stdout
    assert secret in mlops(released_project, "endpoints", "keys", "steel-staging", "--show").stdout
    logs = mlops(released_project, "endpoints", "logs", "steel-staging", "v001")
    assert "ready for serving" in logs.stdout
    assert secret not in logs.stdout + (released_project.root / ".mlops" / "endpoints" / "steel-staging"
                                        / "v001" / "server.log").read_text()


def test_status_reports_a_killed_deployment(
    released_project: ProjectConfig, server_pid: Callable[[Path, str, str], int]
) -> None:
    assert mlops(released_project, "deploy", V1, "--stage", "staging").returncode == 0
    pid = server_pid(released_project.workspace_dir, "steel-staging", "v001")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)

    status = mlops(released_project, "status")
    assert status.returncode == 0
    assert "Unhealthy" in status.stdout and "not running" in status.stdout
    invoked = mlops(released_project, "invoke", "--stage", "staging", "--file", "sample-request.json")
    assert invoked.returncode == 3 and "no deployment answered" in invoked.stderr


def test_endpoints_delete_stops_the_processes(released_project: ProjectConfig) -> None:
    assert mlops(released_project, "deploy", V1, "--stage", "staging").returncode == 0
    listed = json.loads(mlops(released_project, "--json", "endpoints", "list").stdout)
    assert [e["name"] for e in listed] == ["steel-staging"]
    uri = listed[0]["scoring_uri"]
    deleted = mlops(released_project, "endpoints", "delete", "steel-staging", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(OSError):
        processes.get(int(uri.split(":")[2].split("/")[0]), "/", timeout_s=1)
    assert json.loads(mlops(released_project, "--json", "endpoints", "list").stdout) == []
    assert "endpoint.delete" in mlops(released_project, "history").stdout


def test_a_second_writer_of_an_endpoint_exits_1_naming_the_first(
    released_project: ProjectConfig,
) -> None:
    from mlops_azure.config._edit import set_settings
    from mlops_azure.lifecycle.endpoint_lock import describe, lock_name

    assert mlops(released_project, "deploy", V1, "--stage", "staging").returncode == 0
    set_settings(released_project.root / "mlops.yaml", {"rollout.lock_wait_s": 0.5})
    ws = open_workspace(released_project)
    with ws.locks.exclusive(lock_name("steel-staging"), holder=describe("promote x:1", "ana")):
        for args in (["deploy", V1, "--stage", "staging"], ["rollback", "--stage", "staging"],
                     ["endpoints", "delete", "steel-staging", "--yes"]):
            done = mlops(released_project, *args)
            assert done.returncode == 1, (args, done.stderr)
            assert "endpoint 'steel-staging' is being changed by mlops promote x:1 by ana" \
                in done.stderr
            assert "Traceback" not in done.stderr
        status = json.loads(mlops(released_project, "--json", "status").stdout)
        assert status["operations"]["steel-staging"].startswith("in progress: mlops promote x:1")
    assert ws.endpoints.get("steel-staging").traffic == {"v001": 100}  # nothing was changed


@pytest.mark.parametrize(("args", "code", "message"), [
    (["deploy", "steel-purchase-forecast", "--stage", "staging"], 2, "never 'latest'"),
    (["deploy", "steel-purchase-forecast:9", "--stage", "staging"], 2, "has no version 9"),
    (["deploy", V1, "--stage", "qa"], 2, "unknown stage 'qa'"),
    (["promote", V1, "--stage", "production"], 1, "no approval for stage 'production'"),
    (["approve", V1, "--stage", "production", "--reason", "ok"], 1, "no QA gate report"),
    (["rollback", "--stage", "staging"], 2, "endpoint 'steel-staging' does not exist"),
    (["invoke", "--stage", "staging", "--file", "missing.json"], 2, "missing.json: cannot be read"),
    (["endpoints", "logs", "steel-staging", "v001"], 2, "does not exist"),
])
def test_bad_release_input_gets_one_sentence_and_the_contract_exit_code(
    released_project: ProjectConfig, args: list[str], code: int, message: str
) -> None:
    done = mlops(released_project, *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3


def test_a_malformed_request_file_is_refused_before_any_call(released_project: ProjectConfig) -> None:
    (released_project.root / "bad.json").write_text("{not json")
    done = mlops(released_project, "invoke", "--stage", "staging", "--file", "bad.json")
    assert done.returncode == 2 and "bad.json: not valid JSON" in done.stderr


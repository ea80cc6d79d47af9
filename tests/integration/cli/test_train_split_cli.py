"""`mlops train --submit-only` and `mlops train --attach JOB_ID`: the Azure DevOps training split."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.local.jobs import LocalJobs
from mlops_azure.workspace import Job, JobStatus, ProgressCallback

FAST = ["-p", "n_estimators=60"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_submit_only_prints_the_job_id_and_writes_nothing_else(project_dir: Path) -> None:
    code, out, _ = invoke("--json", "train", "--submit-only", *FAST)
    assert code == 0
    job_id = json.loads(out)["job_id"]
    assert not (project_dir / "model.json").exists()
    code, out, _ = invoke("train", "--submit-only", *FAST)
    assert code == 0 and out.strip() != job_id and len(out.strip().splitlines()) == 1

    # The documented example: attach with a wait limit and a model.json for the release.
    code, out, _ = invoke("--json", "train", "--attach", job_id, "--wait-minutes", "50",
                          "--model-json", "out/model.json")
    assert code == 0, out
    finished = json.loads(out)
    assert finished["job_id"] == job_id and finished["registered"] == "steel-purchase-forecast:1"
    assert json.loads((project_dir / "out" / "model.json").read_text()) == {
        "name": "steel-purchase-forecast", "version": 1}


def test_attach_renders_like_train_and_fails_if_not_better_when_asked(project_dir: Path) -> None:
    assert invoke("train", *FAST)[0] == 0
    job_id = invoke("train", "--submit-only", *FAST)[1].strip()
    code, out, err = invoke("train", "--attach", job_id, "--fail-if-not-better")
    assert code == 1 and "champion gate" in err and "Champion gate" in out


def test_attach_exits_75_while_the_job_still_runs(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = invoke("train", "--submit-only", *FAST)[1].strip()
    waited: list[float | None] = []

    def still_running(self: LocalJobs, job: str, progress: ProgressCallback | None = None,
                      timeout_s: float | None = None) -> Job:
        waited.append(timeout_s)
        return dataclasses.replace(self.get(job), status=JobStatus.RUNNING)

    monkeypatch.setattr(LocalJobs, "wait", still_running)
    code, out, err = invoke("train", "--attach", job_id, "--wait-minutes", "0.5")
    assert code == 75
    assert f"job {job_id} is still running: attach again" in err and "error" not in err
    assert waited == [30.0]
    code, out, _ = invoke("--json", "train", "--attach", job_id)
    assert code == 75 and json.loads(out) == {"job_id": job_id, "status": "Running", "finished": False}
    assert not (project_dir / "model.json").exists()


def test_inside_devops_a_run_that_registered_is_tagged_for_the_release(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_BUILD", "True")
    tag = "##vso[build.addbuildtag]mlops-model-registered"
    code, out, _ = invoke("train", *FAST)
    assert code == 0 and tag in out and "variable=registered;isOutput=true]true" in out
    code, out, _ = invoke("train", *FAST)  # the same model again: the champion stays
    assert code == 0 and tag not in out and "variable=registered;isOutput=true]false" in out


@pytest.mark.parametrize(("args", "words"), [
    (["--submit-only", "--attach", "j"], "exclude each other"),
    (["--wait-minutes", "5"], "only applies with --attach"),
    (["--attach", "j", "--data", "steel-purchases:1"], "drop --data"),
    (["--attach", "no-such-job"], "job 'no-such-job' does not exist"),
])
def test_bad_combinations_are_one_sentence_with_exit_2(
    project_dir: Path, args: list[str], words: str
) -> None:
    code, _, err = invoke("train", *args)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and words in errors[0]

"""The training lifecycle on the embedded workspace: real pipeline, real LightGBM, real SQLite."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure._tree_hash import tree_hash
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import BaselineMissingError, UserInputError
from mlops_azure.lifecycle.training import TrainingFailed, train
from mlops_azure.workspace import JobStatus, Workspace

FAST = {"n_estimators": 60}
WEAK = {"n_estimators": 3}


def test_first_training_registers_with_every_lineage_field(
    project: ProjectConfig, workspace: Workspace
) -> None:
    outcome = train(workspace, project, params=FAST, actor="ana@contoso.com")

    assert outcome.decision.verdict == "first"
    assert outcome.baseline is None
    model = outcome.model
    assert model is not None and model.ref == "steel-purchase-forecast:1"
    assert set(model.metrics) >= {"mae", "rmse", "wape"}
    assert 0 < model.metrics["wape"] < 1
    lineage = model.lineage
    data_file = project.resolve(project.data.path)
    assert (lineage.data_asset, lineage.data_version) == ("steel-purchases", 1)
    assert lineage.data_sha256 == workspace.get_data("steel-purchases", 1).sha256
    assert lineage.data_sha256 == tree_hash(data_file).sha256
    assert lineage.job_id == outcome.job.id
    assert lineage.params["n_estimators"] == 60
    assert lineage.params["holdout_months"] == 6
    assert len(lineage.environment_hash) == 64
    assert lineage.code_commit == "not a git checkout"
    assert lineage.creator == "ana@contoso.com"
    assert lineage.pipeline == "pipelines/training.yml"
    assert lineage.extra["holdout_start"] < lineage.extra["holdout_end"]
    assert (workspace.model_local_path(model.name, 1) / "model.txt").is_file()
    actions = [e.action for e in workspace.list_events()]
    assert "register" in actions and "gate.champion" in actions


def test_worse_candidate_is_not_registered_but_its_job_is_kept(
    project: ProjectConfig, workspace: Workspace
) -> None:
    first = train(workspace, project, params=FAST)
    worse = train(workspace, project, params=WEAK)

    assert worse.decision.verdict == "not_better"
    assert worse.model is None
    assert worse.baseline is not None and worse.baseline.model.ref == first.model.ref  # type: ignore[union-attr]
    assert worse.decision.candidate > worse.decision.champion  # type: ignore[operator]
    assert [m.version for m in workspace.list_models("steel-purchase-forecast")] == [1]
    assert workspace.get_job(worse.job.id).status is JobStatus.COMPLETED


def test_better_candidate_is_registered_against_the_champion_on_the_same_holdout(
    project: ProjectConfig, workspace: Workspace
) -> None:
    weak = train(workspace, project, params=WEAK)
    better = train(workspace, project, params=FAST)

    assert better.decision.verdict == "better"
    assert better.model is not None and better.model.version == 2
    # The champion was re-scored on this run's holdout: same data, so the same number.
    assert better.decision.champion == pytest.approx(weak.model.metrics["wape"])  # type: ignore[union-attr]
    assert better.model.tags["champion"] == "steel-purchase-forecast:1"


def test_identical_retraining_is_not_better(project: ProjectConfig, workspace: Workspace) -> None:
    train(workspace, project, params=FAST)
    again = train(workspace, project, params=FAST)
    assert again.decision.verdict == "not_better"
    assert again.decision.abs_improvement == 0


def test_bad_data_fails_the_job_in_the_data_check_and_registers_nothing(
    project: ProjectConfig,
    workspace: Workspace,
    edit_data: Callable[[Callable[[list[str]], list[str]]], None],
) -> None:
    # Negative purchases are impossible: the check must stop the pipeline.
    edit_data(lambda lines: [lines[0]] + [
        ",".join([*line.split(",")[:-1], "-5.0"]) if i % 10 == 0 else line
        for i, line in enumerate(lines[1:])
    ])
    with pytest.raises(TrainingFailed, match="data_check") as caught:
        train(workspace, project, params=FAST)
    assert caught.value.exit_code == 1
    job = workspace.list_jobs(1)[0]
    assert job.status is JobStatus.FAILED
    statuses = {s.name: s.status for s in job.steps}
    assert statuses["data_check"] is JobStatus.FAILED
    assert statuses["train"] is JobStatus.SKIPPED
    assert workspace.list_models() == []
    assert "quantity_tonnes" in workspace.job_logs(job.id, "data_check")


def test_failing_training_step_reports_its_log_tail(
    project: ProjectConfig, workspace: Workspace
) -> None:
    with pytest.raises(TrainingFailed) as caught:
        train(workspace, project, params={"num_leaves": 1})  # LightGBM refuses num_leaves=1
    message = caught.value.message
    assert "step 'train' failed" in message
    assert "num_leaves" in message
    job = workspace.list_jobs(1)[0]
    assert {s.name: s.status for s in job.steps}["evaluate"] is JobStatus.SKIPPED
    assert workspace.list_models() == []


def test_reserved_and_unknown_params_are_bad_input(
    project: ProjectConfig, workspace: Workspace
) -> None:
    with pytest.raises(UserInputError, match="set by mlops itself"):
        train(workspace, project, params={"raw_data": "x.csv"})
    with pytest.raises(UserInputError, match="no_such_input"):
        train(workspace, project, params={"no_such_input": 1})
    assert workspace.list_jobs() == []


def test_champion_whose_files_are_gone_stops_training_loudly(
    project: ProjectConfig, workspace: Workspace
) -> None:
    train(workspace, project, params=FAST)
    shutil.rmtree(workspace.model_local_path("steel-purchase-forecast", 1))
    with pytest.raises(BaselineMissingError, match="steel-purchase-forecast:1") as caught:
        train(workspace, project, params=FAST)
    assert caught.value.exit_code == 3
    assert len(workspace.list_models()) == 1


def _serve_in_production(project: ProjectConfig, version: int) -> None:
    """Point the production endpoint at a model version, as the release issue's deploy will."""
    stage = project.production_stage
    assert stage is not None
    with sqlite3.connect(project.workspace_dir / "workspace.db") as db:
        db.execute(
            "INSERT INTO deployments (endpoint, name, model_name, model_version, traffic) "
            "VALUES (?, 'blue', 'steel-purchase-forecast', ?, 100)",
            (stage.endpoint, version),
        )


def test_the_champion_is_the_production_model_not_the_latest(
    project: ProjectConfig, workspace: Workspace
) -> None:
    train(workspace, project, params=WEAK)  # v1, serving in production
    train(workspace, project, params=FAST)  # v2, registered but not released
    _serve_in_production(project, 1)
    outcome = train(workspace, project, params=FAST)
    assert outcome.baseline is not None
    assert (outcome.baseline.model.version, outcome.baseline.source) == (1, "production")
    # Against v1 (weak) the candidate is better; against the latest (v2) it would not be.
    assert outcome.decision.verdict == "better"
    assert outcome.model is not None and outcome.model.version == 3


def test_production_model_missing_from_the_registry_stops_training(
    project: ProjectConfig, workspace: Workspace
) -> None:
    train(workspace, project, params=FAST)
    _serve_in_production(project, 7)
    with pytest.raises(BaselineMissingError, match="serves steel-purchase-forecast:7"):
        train(workspace, project, params=FAST)


def test_training_on_an_explicit_data_asset_version(
    project: ProjectConfig, workspace: Workspace, tmp_path: Path
) -> None:
    data = project.resolve(project.data.path)
    small = tmp_path / "small.csv"
    small.write_text(data.read_text(encoding="utf-8"), encoding="utf-8")
    asset = workspace.upload_data("steel-purchases", small)
    outcome = train(workspace, project, data=f"steel-purchases:{asset.version}", params=FAST)
    assert outcome.data.ref == asset.ref
    with pytest.raises(UserInputError):
        train(workspace, project, data="steel-purchases:0", params=FAST)

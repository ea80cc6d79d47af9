"""A training pipeline with a ``type: sweep`` step on Azure ML: the YAML loads with azure-ai-ml,
the simulated service runs the trials (real processes, Optuna behind them), the sweep step's
outputs are the best trial's, and the version registered from them names the sweep job and its
best trial run; ``ws.jobs.studies`` reads the study back in a handful of requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops_azure.azure import AzureWorkspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.lifecycle.training import train
from mlops_azure.records_tuning import TrialState
from mlops_azure.testing import FakeCredential, SimulatedAzureML

pytestmark = pytest.mark.slow

TRIALS = 3


def sweep_pipeline(root: Path, metric: str, goal: str) -> Path:
    """The project's training pipeline with its train step swept (Azure ML's own format)."""
    doc = yaml.safe_load((root / "pipelines" / "training.yml").read_text(encoding="utf-8"))
    step = doc["jobs"]["train"]
    swept = ("learning_rate", "num_leaves")
    doc["jobs"]["train"] = {
        "type": "sweep", "trial": step["component"],
        "inputs": {**{k: v for k, v in step["inputs"].items() if k not in swept},
                   "validation_metric": metric},
        "outputs": step["outputs"],
        "sampling_algorithm": {"type": "random", "seed": 11},
        "search_space": {"learning_rate": {"type": "uniform", "min_value": 0.05,
                                           "max_value": 0.3},
                         "num_leaves": {"type": "choice", "values": [4, 8, 16]}},
        "objective": {"goal": goal, "primary_metric": metric},
        "limits": {"max_total_trials": TRIALS, "max_concurrent_trials": 2},
        "early_termination": {"type": "median_stopping", "evaluation_interval": 1,
                              "delay_evaluation": 5},
    }
    target = root / "pipelines" / "training-sweep.yml"
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture
def swept(project: ProjectConfig, azure_sim: SimulatedAzureML) -> ProjectConfig:
    """The example project on the simulated workspace, training through a sweep step."""
    path = project.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["backend"] = "azure"
    document["azure"] = azure_sim.project_settings()
    sweep_pipeline(project.root, "wape", "minimize")
    document["training"]["pipeline"] = "pipelines/training-sweep.yml"
    document["training"]["params"]["n_estimators"] = 30
    path.write_text(yaml.safe_dump(document))
    return load_config(path)


def test_a_sweep_step_trains_on_azure_and_the_best_trial_is_registered(
        swept: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    from azure.ai.ml import load_job

    assert type(load_job(swept.resolve(swept.training.pipeline)).jobs["train"]).__name__ == "Sweep"
    ws = AzureWorkspace.from_config(swept, credential=FakeCredential())
    done = train(ws, swept, actor="tester")
    assert done.model is not None, done.decision.reason

    node = [c.body for c in azure_sim.calls_to("PUT", r"/jobs/[^/]+$")][-1][
        "properties"]["jobs"]["train"]
    assert node["type"] == "sweep" and set(node["trial"]) == {"componentId"}

    before = len(azure_sim.calls)
    studies = ws.jobs.studies(done.job.id)
    asked = azure_sim.calls[before:]
    assert len(studies) == 1
    study = studies[0]
    # 4 requests (job, its child runs, the sweep's child runs, the workspace) + 1 per trial
    assert len(asked) == 4 + TRIALS, [(c.method, c.path) for c in asked]

    # the simulator ran the trials as child runs of the sweep job, named as HyperDrive names them
    sweep_run = f"{done.job.id}_train"
    assert study.sweep_job_id == sweep_run and study.step == "train"
    trial_runs = azure_sim.jobs.children[sweep_run]
    assert len(trial_runs) == len(study.trials) == TRIALS
    assert sorted(t.run_id for t in study.trials) == [f"{sweep_run}_{n}" for n in range(TRIALS)]
    assert study.metric == "wape" and study.goal == "minimize" and study.sampling == "random"
    assert study.early_termination == "median_stopping"
    best = study.best
    assert best is not None and best.state is TrialState.COMPLETE and best.value is not None
    assert best.intermediate and best.value == best.intermediate[max(best.intermediate)]
    finished = [t.value for t in study.trials if t.state is TrialState.COMPLETE and t.value]
    assert best.value == min(finished)
    sweep_props = next(r for r in azure_sim.jobs.children[done.job.id]
                       if r["runId"] == sweep_run)["properties"]
    assert sweep_props["best_child_run_id"] == best.run_id
    assert json.loads(sweep_props["primary_metric_config"]) == {"name": "wape",
                                                                "goal": "minimize"}

    # the sweep step's output is the best trial's model, byte for byte
    output = ws.jobs.output_path(done.job.id, "model") / "model.txt"
    trial_models = _trial_models(azure_sim, done.job.id)
    assert output.read_bytes() == trial_models[best.number].read_bytes()
    assert len({p.read_bytes() for p in trial_models.values()}) > 1  # the trials differ

    lineage = done.model.lineage
    assert lineage.extra["sweep_job_id"] == sweep_run
    assert lineage.extra["best_trial_run_id"] == best.run_id
    assert json.loads(lineage.extra["study_best_params"]) == dict(best.params)
    for name, value in best.params.items():
        assert lineage.params[name] == value


def _trial_models(sim: SimulatedAzureML, job: str) -> dict[int, Path]:
    """Each trial's model.txt where the simulated service ran it (trials/<n>/...)."""
    found: dict[int, Path] = {}
    for model in (sim.root / "jobs" / job / "studies").rglob("model.txt"):
        parts = model.parts
        if "trials" in parts:
            found[int(parts[parts.index("trials") + 1])] = model
    return found


def test_a_project_made_from_data_sweeps_on_azure_too(
        tmp_path: Path, azure_sim: SimulatedAzureML) -> None:
    """``mlops init --data`` (a classifier: auc, maximized) with its train step swept."""
    from mlops_azure.init_from_data import init_from_data
    from tests.e2e.conftest import write_cancer

    data = tmp_path / "cancer.csv"
    target = write_cancer(data)
    root = tmp_path / "own"
    init_from_data(root, data, column=target)
    sweep_pipeline(root, "auc", "maximize")
    path = root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["backend"] = "azure"
    document["azure"] = azure_sim.project_settings()
    document["training"]["pipeline"] = "pipelines/training-sweep.yml"
    document["training"].setdefault("params", {})["n_estimators"] = 20
    path.write_text(yaml.safe_dump(document))
    config = load_config(path)

    ws = AzureWorkspace.from_config(config, credential=FakeCredential())
    done = train(ws, config, actor="tester")
    assert done.model is not None, done.decision.reason
    study = ws.jobs.studies(done.job.id)[0]
    best = study.best
    assert best is not None and len(study.trials) == TRIALS
    assert best.value == max(t.value for t in study.trials
                             if t.state is TrialState.COMPLETE and t.value is not None)
    output = ws.jobs.output_path(done.job.id, "model") / "model.txt"
    assert output.read_bytes() == _trial_models(azure_sim, done.job.id)[best.number].read_bytes()
    assert done.model.lineage.extra["best_trial_run_id"] == best.run_id


def test_the_example_sweep_pipeline_as_shipped_and_tuning_in_mlops_yaml_run_on_azure(
        project: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    """examples/steel/pipelines/training-sweep.yml unedited (20 trials, median stopping), then the
    same sweep declared as mlops.yaml's tuning: (submitted from mlops' temporary copy)."""
    path = project.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["backend"] = "azure"
    document["azure"] = azure_sim.project_settings()
    document.pop("responsible", None)  # the responsible-ML gate is not what this is about
    document["training"]["pipeline"] = "pipelines/training-sweep.yml"
    path.write_text(yaml.safe_dump(document))
    config = load_config(path)
    ws = AzureWorkspace.from_config(config, credential=FakeCredential())
    shipped = train(ws, config, actor="tester")
    [study] = ws.jobs.studies(shipped.job.id)
    assert len(study.trials) == 20 and study.count(TrialState.PRUNED) >= 1
    assert shipped.model is not None
    assert shipped.model.lineage.extra["best_trial_run_id"] == study.best.run_id  # type: ignore[union-attr]

    tuning = yaml.safe_load((project.root / "pipelines" / "training-sweep.yml").read_text())["jobs"]["train"]
    document["training"]["pipeline"] = "pipelines/training.yml"
    document["tuning"] = {"search_space": tuning["search_space"], "limits": {"max_total_trials": 4},
                          "sampling_algorithm": {"type": "random", "seed": 3}}
    path.write_text(yaml.safe_dump(document))
    config = load_config(path)
    tuned = train(ws, config, actor="tester")
    [study] = ws.jobs.studies(tuned.job.id)
    assert len(study.trials) == 4 and study.metric == "wape" and study.goal == "minimize"
    node = [c.body for c in azure_sim.calls_to("PUT", r"/jobs/[^/]+$")][-1]["properties"]["jobs"]["train"]
    assert node["type"] == "sweep" and node["inputs"]["validation_metric"]["value"] == "wape"

"""Many models on Azure ML: the partitioned training submitted as a pipeline with a ``parallel``
step (one mini-batch per organisation over the prepared rows as an mltable), run by the
simulated service with the real entry script, gathered into the layout the local step writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_azure.azure import AzureWorkspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.errors import UserInputError
from mlops_azure.example.regime import append_months
from mlops_azure.lifecycle.training import TrainingFailed, train
from mlops_azure.testing import FakeCredential, SimulatedAzureML

CUSTOMER = "organisation_id=ORG-01/customer_id=CUST-0001"

pytestmark = pytest.mark.slow


@pytest.fixture
def many(project: ProjectConfig, azure_sim: SimulatedAzureML) -> ProjectConfig:
    """The example project, per organisation and per customer, on the simulated workspace."""
    path = project.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["backend"] = "azure"
    document["azure"] = azure_sim.project_settings()
    document["training"]["pipeline"] = "pipelines/training-partitioned.yml"
    document["training"]["params"]["n_estimators"] = 30
    document["partitions"] = {"levels": ["organisation_id", "customer_id"], "min_rows": 100,
                              "max_failed": 1}
    path.write_text(yaml.safe_dump(document))
    append_months(project.resolve(project.data.path), 12, new_customers=3)
    return load_config(path)


def _workspace(config: ProjectConfig) -> AzureWorkspace:
    return AzureWorkspace.from_config(config, credential=FakeCredential())


def _parallel_node(sim: SimulatedAzureML) -> dict[str, Any]:
    body = [c.body for c in sim.calls_to("PUT", r"/jobs/[^/]+$") if isinstance(c.body, dict)][-1]
    node: dict[str, Any] = body["properties"]["jobs"]["train_partitions"]
    return node


def test_partitions_train_as_a_parallel_job(
        many: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    ws = _workspace(many)
    done = train(ws, many, actor="tester")
    assert done.model is not None, done.decision.reason
    assert done.decision.partitions == {"new": 4 + 20}

    node = _parallel_node(azure_sim)
    assert node["type"] == "parallel"
    assert json.loads(node["partition_keys"]) == ["organisation_id"]  # the coarsest model level
    assert node["mini_batch_error_threshold"] == 1  # partitions.max_failed
    assert node["task"]["entry_script"] == "train_partitions/parallel_entry.py"
    assert "/environments/steel-training/versions/" in node["task"]["environment"]  # pinned

    folder = ws.models.local_path(done.model.name, done.model.version)
    index = json.loads((folder / "partitions" / "index.json").read_text())["partitions"]
    assert index[CUSTOMER]["status"] == "trained"
    assert (folder / "partitions" / CUSTOMER / "model.txt").is_file()
    fallback = sorted(n.rsplit("=", 1)[1] for n, e in index.items() if e["status"] == "fallback")
    assert fallback == ["CUST-0021", "CUST-0022", "CUST-0023"]
    logs = ws.jobs.logs(done.job.id, "train_partitions")
    assert "parallel_run: 4 mini-batch(es)" in logs and "partitioned by organisation_id" in logs
    results = ws.jobs.output_path(done.job.id, "candidate_model")
    assert (results / "partitions" / "index.json").is_file()


def test_failing_partitions_count_against_max_failed(
        many: ProjectConfig, azure_sim: SimulatedAzureML, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _workspace(many)
    monkeypatch.setenv("MLOPS_FAIL_PARTITIONS",
                       f"{CUSTOMER},organisation_id=ORG-02/customer_id=CUST-0002")
    with pytest.raises(TrainingFailed, match="2 partitions failed, more than max_failed=1"):
        train(ws, many, actor="tester")


def test_the_single_step_variant_stays_available(
        many: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    path = many.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["partitions"]["azure_parallel"] = False
    path.write_text(yaml.safe_dump(document))
    config = load_config(path)
    ws = _workspace(config)
    submission = _submission(config)
    job = ws.jobs.build_pipeline_job(submission, None)
    assert job.jobs["train_partitions"].type == "command"

    document["partitions"]["azure_parallel"] = True
    document["partitions"]["azure_pipeline"] = "pipelines/missing.yml"
    path.write_text(yaml.safe_dump(document))
    config = load_config(path)
    with pytest.raises(UserInputError, match=r"partitions\.azure_pipeline .* does not exist"):
        _workspace(config).jobs.build_pipeline_job(_submission(config), None)


def _submission(config: ProjectConfig) -> Any:
    from mlops_azure.workspace import PipelineSubmission

    return PipelineSubmission(config.resolve(config.training.pipeline),
                              {"partition_levels": "organisation_id,customer_id",
                               "model_levels": "customer_id", "max_failed_partitions": 0},
                              "steel")


def test_the_service_refuses_partition_keys_without_an_mltable(
        many: ProjectConfig, azure_sim: SimulatedAzureML, tmp_path: Path) -> None:
    ws = _workspace(many)
    source = many.resolve(Path("components/train_partitions_parallel/train_partitions_parallel.yml"))
    text = source.read_text().replace("training_data:\n    type: mltable",
                                      "training_data:\n    type: uri_folder")
    source.write_text(text)
    with pytest.raises(UserInputError, match="partition_keys need an mltable input_data"):
        ws.jobs.build_pipeline_job(_submission(many), None)

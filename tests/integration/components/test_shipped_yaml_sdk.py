"""Every pipeline mlops ships (the generic template ``mlops init --data`` copies, and the
examples) loads and validates with the real azure-ai-ml SDK, as ``mlops train --backend azure``
loads it, and every component names an environment its project registers (no workspace, no
network). The local runner once accepted a template pipeline Azure ML refuses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from mlops_azure.templates import generic_template_root

REPO = Path(__file__).resolve().parents[3]
PROJECTS = {"template": generic_template_root(), "steel": REPO / "examples" / "steel"}
PIPELINES = [(name, file) for name, root in PROJECTS.items()
             for file in sorted((root / "pipelines").glob("*.yml"))]


@pytest.mark.filterwarnings("ignore")  # the SDK's own marshmallow deprecation chatter
@pytest.mark.parametrize(("project", "pipeline"), PIPELINES,
                         ids=[f"{n}/{f.name}" for n, f in PIPELINES])
def test_a_shipped_pipeline_loads_with_the_sdk(project: str, pipeline: Path) -> None:
    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)  # experimental-class chatter
    from azure.ai.ml import load_job

    job = load_job(source=str(pipeline))
    result = job._validate()
    assert result.passed, result.error_messages

    registered = set()
    for file in (pipeline.parent.parent / "environments").glob("*-environment.yml"):
        registered.add(yaml.safe_load(file.read_text(encoding="utf-8"))["name"])
    for step, node in job.jobs.items():
        component = getattr(node, "trial", None) or node.component  # a sweep's is its trial
        wanted = str(getattr(component, "environment", None)
                     or getattr(getattr(component, "task", None), "environment", ""))
        name = wanted.removeprefix("azureml:").split("@")[0].split(":")[0]
        assert name in registered, f"{pipeline}: step {step} runs in {wanted}, not one of {registered}"

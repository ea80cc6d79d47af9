"""Azure ML YAML definitions (command components, pipeline jobs) executed as local subprocesses,
and the forked worker pool batch scoring runs in (``forked_pool``).

Backend-neutral: the embedded workspace runs pipeline jobs with it, and ``mlops data check``
runs the project's data check component with it, so a check answers the same on a laptop as
inside the pipeline. Only PyYAML: importing ``azure.ai.ml`` costs more than a whole step.

The names below are imported on first use, so importing one module of the package (the batch
pool's zygote imports ``forked_pool``) costs that module only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_azure.execution.definition import PipelineDefinition, load_component, load_pipeline
    from mlops_azure.execution.runner import (
        PipelineResult,
        StepResult,
        run_component,
        run_pipeline,
    )

_HOME = {
    "PipelineDefinition": "definition",
    "load_component": "definition",
    "load_pipeline": "definition",
    "PipelineResult": "runner",
    "StepResult": "runner",
    "run_component": "runner",
    "run_pipeline": "runner",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "PipelineDefinition",
    "PipelineResult",
    "StepResult",
    "load_component",
    "load_pipeline",
    "run_component",
    "run_pipeline",
]

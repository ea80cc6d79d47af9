"""Azure ML YAML definitions (command components, pipeline jobs) executed as local subprocesses.

Backend-neutral: the embedded workspace runs pipeline jobs with it, and ``mlops data check``
runs the project's data check component with it, so a check answers the same on a laptop as
inside the pipeline. Only PyYAML: importing ``azure.ai.ml`` costs more than a whole step.
"""

from mlops_azure.execution.definition import PipelineDefinition, load_component, load_pipeline
from mlops_azure.execution.runner import (
    PipelineResult,
    StepResult,
    run_component,
    run_pipeline,
)

__all__ = [
    "PipelineDefinition",
    "PipelineResult",
    "StepResult",
    "load_component",
    "load_pipeline",
    "run_component",
    "run_pipeline",
]

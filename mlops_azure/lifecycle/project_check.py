"""``mlops project check``: a project checked against the contract without running anything.

The config loads; the training pipeline parses, declares the inputs mlops binds and the outputs
it reads; every component parses and its script exists; the evaluate step declares the champion
metric; the scoring scripts define their functions (read with ``ast``, never imported: importing
would run the project's code and need its packages). Each finding is one sentence naming the
file and the field.
"""

from __future__ import annotations

import ast
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.contract import (
    BATCH_SCORE_FUNCTIONS,
    CONTRACT_VERSION,
    METRICS_TAG,
    REQUIRED_OUTPUTS,
    RESERVED_INPUTS,
    SCORE_FUNCTIONS,
    MitigationInputs,
    PartitionInputs,
    declared_metrics,
)
from mlops_azure.errors import UserInputError
from mlops_azure.execution.definition import (
    Component,
    PipelineDefinition,
    load_component,
    load_pipeline,
)
from mlops_azure.lifecycle.contract_checks import evaluate_step, shown_path, undeclared_metric
from mlops_azure.lifecycle.tuning_pipeline import tuned_pipeline

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem: an error fails the check, a warning does not."""

    severity: Severity
    check: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "check": self.check, "message": self.message}


@dataclass(frozen=True)
class ProjectCheck:
    """What ``check_project`` found, and what it looked at."""

    config_file: Path
    findings: tuple[Finding, ...]
    checked: tuple[str, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"config": str(self.config_file), "contract_version": CONTRACT_VERSION,
                "ok": self.ok, "checked": list(self.checked),
                "findings": [f.to_dict() for f in self.findings]}


class _Collector:
    def __init__(self, config: ProjectConfig) -> None:
        self.config = config
        self.findings: list[Finding] = []
        self.checked: list[str] = []

    def add(self, check: str, message: str, severity: Severity = "error") -> None:
        self.findings.append(Finding(severity, check, message))

    def shown(self, path: Path) -> str:
        return shown_path(path, self.config.root)


def entry_script(component: Component) -> Path | None:
    """The Python file a component's command runs (``python x.py`` or ``python -m a.b``), or
    None when the command does not say plainly."""
    first = component.command.parts[0] if component.command.parts else ""
    if not isinstance(first, str):
        return None
    try:
        words = shlex.split(first)
    except ValueError:
        return None
    for i, word in enumerate(words[:-1]):
        if not Path(word).name.startswith("python"):
            continue
        target = words[i + 1]
        if target == "-m" and i + 2 < len(words):
            base = component.code.joinpath(*words[i + 2].split("."))
            found = [p for p in (base.with_suffix(".py"), base / "__main__.py") if p.is_file()]
            return found[0] if found else base.with_suffix(".py")
        if target.endswith(".py"):
            return component.code / target
        return None
    return None


def _components(found: _Collector, components: list[Component]) -> None:
    for component in components:
        script = entry_script(component)
        if script is not None and not script.is_file():
            found.add("component", f"{component.shown}: command runs {found.shown(script)}, which "
                                   "does not exist")
        found.checked.append(found.shown(component.file))


def _pipeline(found: _Collector) -> PipelineDefinition | None:
    config = found.config
    file = config.resolve(config.training.pipeline)
    try:
        pipeline = load_pipeline(file)
    except UserInputError as exc:
        found.add("pipeline", exc.message)
        return None
    shown = found.shown(file)
    found.checked.append(shown)
    wanted = {name: "mlops binds it at every training" for name in RESERVED_INPUTS}
    if config.partitions is not None:
        wanted.update({n: "mlops.yaml has a partitions section" for n in PartitionInputs.model_fields})
    mitigation = config.responsible.mitigation if config.responsible else None
    if mitigation is not None and mitigation.reweight_by:
        wanted.update({n: "responsible.mitigation.reweight_by is set"
                       for n in MitigationInputs.model_fields})
    for name, why in wanted.items():
        if name not in pipeline.inputs:
            found.add("pipeline", f"{shown}: inputs.{name} is missing ({why})")
    for name in config.training.params:
        if name not in pipeline.inputs:
            found.add("pipeline", f"training.params.{name} is not an input of {shown}")
    for name in REQUIRED_OUTPUTS:
        if name not in pipeline.outputs:
            what = "the model folder mlops registers" if name == "model" else "metrics.json"
            found.add("pipeline", f"{shown}: outputs.{name} is missing (mlops reads {what} from it)")
    unique = {step.component.file.resolve(): step.component for step in pipeline.steps.values()}
    _components(found, list(unique.values()))
    _tuning(found, file)
    return pipeline


def _tuning(found: _Collector, pipeline_file: Path) -> None:
    """``tuning:`` applied to the pipeline, as ``mlops train`` would, and the result read back."""
    if found.config.tuning is None:
        return
    with tempfile.TemporaryDirectory(prefix="mlops-check-") as tmp:
        try:
            load_pipeline(tuned_pipeline(found.config, pipeline_file, Path(tmp)))
        except UserInputError as exc:
            found.add("tuning", exc.message)


def _metric(found: _Collector, pipeline: PipelineDefinition) -> None:
    problem = undeclared_metric(found.config, pipeline)
    if problem is not None:
        found.add("metric", problem)
        return
    step = evaluate_step(pipeline)
    if step is not None and declared_metrics(step.component.tags, found.config.model.task) is None:
        found.add("metric", f"{found.shown(step.component.file)} declares no metrics (tags: "
                            f"{METRICS_TAG}), so champion.metric '{found.config.champion.metric}' "
                            "is checked only after a training run", "warning")


def _functions(found: _Collector, script: Path, what: str, needs: tuple[str, ...],
               missing: Severity = "error") -> None:
    shown = found.shown(script)
    if not script.is_file():
        found.add("script", f"{what}: {shown} does not exist", missing)
        return
    try:
        tree = ast.parse(script.read_bytes(), filename=shown)
    except SyntaxError as exc:
        found.add("script", f"{shown} is not valid Python (line {exc.lineno}: {exc.msg})")
        return
    except OSError as exc:
        found.add("script", f"{shown} cannot be read ({exc})")
        return
    defined = {node.name: node for node in tree.body
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    found.checked.append(shown)
    for name in needs:
        if name not in defined:
            found.add("script", f"{shown} has no top-level {name}() function ({what} needs "
                                f"{', '.join(f'{n}()' for n in needs)})")
    run = defined.get("run")
    if "run" in needs and run is not None and not (run.args.posonlyargs or run.args.args
                                                   or run.args.vararg):
        found.add("script", f"{shown}: run() takes no argument, but it is called with the request")


def _scripts(found: _Collector) -> None:
    config = found.config
    seen: set[Path] = set()
    for name, stage in config.stages.items():
        script = config.resolve(stage.code) / stage.scoring_script
        if script.resolve() in seen:
            continue
        seen.add(script.resolve())
        _functions(found, script, f"stages.{name}.scoring_script", SCORE_FUNCTIONS)
    batch = config.resolve(config.batch.code) / config.batch.scoring_script
    # Only 'mlops score batch' needs it: a project without one is still a project.
    _functions(found, batch, "batch.scoring_script", BATCH_SCORE_FUNCTIONS, missing="warning")


def _data_check(found: _Collector) -> None:
    file = found.config.resolve(found.config.data.check_component)
    try:
        component = load_component(file)
    except UserInputError as exc:
        found.add("component", f"data.check_component: {exc.message}")
        return
    _components(found, [component])


#: training.params that must say what the config says elsewhere (the template's pipeline takes
#: them as inputs; mlops.yaml names them once more for the tool).
def _same_as(config: ProjectConfig) -> dict[str, tuple[str, str | None]]:
    return {"target": ("data.target", config.data.target), "task": ("model.task", config.model.task),
            "time_column": ("data.time_column", config.data.time_column or "none")}


def _params(found: _Collector) -> None:
    params = found.config.training.params
    for name, (where, said) in _same_as(found.config).items():
        if name in params and said is not None and str(params[name]) != str(said):
            found.add("config", f"training.params.{name} is '{params[name]}' but {where} says "
                                f"'{said}': the pipeline would train on one and mlops judge by the other")


def check_project(config_file: Path) -> ProjectCheck:
    """Check the project of ``config_file`` against the contract; nothing is run or imported."""
    try:
        config = load_config(config_file)
    except UserInputError as exc:
        return ProjectCheck(config_file, (Finding("error", "config", exc.message),), ())
    found = _Collector(config)
    found.checked.append(found.shown(config_file))
    _params(found)
    pipeline = _pipeline(found)
    if pipeline is not None:
        _metric(found, pipeline)
    _data_check(found)
    _scripts(found)
    return ProjectCheck(config_file, tuple(found.findings), tuple(dict.fromkeys(found.checked)))

"""Azure ML pipeline-job YAML and its command components, read and validated with PyYAML only.

``load_pipeline`` turns the documented pipeline-job shape (``type: pipeline``, ``inputs``,
``outputs``, ``jobs`` of ``type: command`` steps pointing at component YAML files) into a checked
graph. Every problem is a ``UserInputError`` with one sentence naming the file and the key path,
so a broken definition is reported before anything runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_azure import _yaml
from mlops_azure.errors import UserInputError
from mlops_azure.execution.command_template import (
    PATH_TYPES,
    PRIMITIVE_TYPES,
    CommandTemplate,
    ComponentInput,
    Literal,
    check_constraints,
    coerce_primitive,
    literal_type,
    parse_command,
    parse_input_spec,
)
from mlops_azure.execution.sweep_definition import SweepSettings, parse_sweep

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARENT_INPUT = re.compile(r"\$\{\{\s*parent\.inputs\.([A-Za-z_]\w*)\s*\}\}")
_STEP_OUTPUT = re.compile(r"\$\{\{\s*parent\.jobs\.([A-Za-z_]\w*)\.outputs\.([A-Za-z_]\w*)\s*\}\}")
_PARENT_OUTPUT = re.compile(r"\$\{\{\s*parent\.outputs\.([A-Za-z_]\w*)\s*\}\}")


@dataclass(frozen=True)
class Component:
    """A ``type: command`` component: its command template, ports and ``code`` folder."""

    file: Path
    shown: str  # the file as error messages name it
    name: str
    version: str
    code: Path
    command: CommandTemplate
    inputs: Mapping[str, ComponentInput]
    outputs: Mapping[str, str]  # output name -> type
    #: The component's ``tags`` (Azure ML keeps them as text), e.g. ``mlops.metrics``.
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Binding:
    """Where a step input gets its value: a literal, a pipeline input or another step's output."""

    kind: str  # "literal", "parent_input" or "step_output"
    literal: Literal | None = None
    source: str = ""  # the pipeline input, or the producing step
    output: str = ""  # the producing step's output


@dataclass(frozen=True)
class StepDefinition:
    """One ``type: command`` job of the pipeline, or a ``type: sweep`` job of trials of one."""

    name: str
    display_name: str
    component: Component  # a sweep's trial component
    inputs: Mapping[str, Binding]  # bound inputs only
    promoted: Mapping[str, str]  # step output -> pipeline output it is bound to
    sweep: SweepSettings | None = None

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The steps whose outputs this step reads, in binding order, without repeats."""
        return tuple(dict.fromkeys(b.source for b in self.inputs.values() if b.kind == "step_output"))


@dataclass(frozen=True)
class PipelineInput:
    """A pipeline-level input; ``optional`` means it may be left without a value."""

    name: str
    type: str
    default: Literal | None
    optional: bool


@dataclass(frozen=True)
class PipelineDefinition:
    """A validated pipeline: its inputs, steps in execution order and where outputs come from."""

    path: Path
    shown: str
    experiment_name: str
    display_name: str
    inputs: Mapping[str, PipelineInput]
    steps: Mapping[str, StepDefinition]
    step_order: tuple[str, ...]
    outputs: Mapping[str, tuple[str, str]]  # pipeline output -> (step, step output)

    @property
    def folder(self) -> Path:
        """The pipeline file's folder: relative paths inside it are resolved from here."""
        return self.path.resolve().parent

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self.outputs)


def _a(type_: str) -> str:
    return f"an {type_}" if type_[0] in "aeiou" else f"a {type_}"


def _read_yaml(file: Path, shown: str, what: str) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{shown}: {what} file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{shown}: cannot read the {what} file ({exc})") from None
    try:
        return _yaml.load(text)
    except _yaml.AliasExpansionError as exc:
        raise UserInputError(f"{shown}: refused: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserInputError(f"{shown}: not valid YAML{where}") from None


def _mapping(value: Any, shown: str, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserInputError(f"{shown}: {key} must be a mapping")
    for name in value:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UserInputError(f"{shown}: {key}.{name} is not a valid name (letters, digits, _)")
    return value


def _load_component(raw: Any, file: Path, shown: str) -> Component:
    if not isinstance(raw, dict):
        raise UserInputError(f"{shown}: expected a command component mapping")
    if raw.get("type", "command") != "command":
        raise UserInputError(f"{shown}: type '{raw.get('type')}' is not supported locally (only command)")
    if not isinstance(raw.get("command"), str) or not raw["command"].strip():
        raise UserInputError(f"{shown}: command is missing")
    code_raw = raw.get("code", ".")
    if not isinstance(code_raw, str) or "://" in code_raw or code_raw.startswith("azureml:"):
        raise UserInputError(f"{shown}: code must be a local folder path, not {code_raw!r}")
    code = file.parent / code_raw.removeprefix("file:")
    if not code.is_dir():
        raise UserInputError(f"{shown}: code refers to {os.path.normpath(code)}, which is not a folder")
    inputs = {n: parse_input_spec(n, spec, shown) for n, spec in _mapping(raw.get("inputs"), shown,
                                                                           "inputs").items()}
    outputs: dict[str, str] = {}
    for name, spec in _mapping(raw.get("outputs"), shown, "outputs").items():
        type_ = spec.get("type", "uri_folder") if isinstance(spec, dict) else "uri_folder"
        if type_ not in PATH_TYPES:
            raise UserInputError(f"{shown}: outputs.{name}.type '{type_}' is not a supported output type")
        outputs[name] = type_
    command = parse_command(raw["command"], shown, inputs=inputs, outputs=outputs)
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict):
        raise UserInputError(f"{shown}: tags must be a mapping of names to text")
    return Component(file=file, shown=shown, name=str(raw.get("name", file.stem)),
                     version=str(raw.get("version", "1")), code=code.resolve(), command=command,
                     inputs=inputs, outputs=outputs, tags={str(k): str(v) for k, v in tags.items()})


def _binding(value: Any, where: str) -> Binding | None:
    if isinstance(value, dict):
        if "path" not in value:
            raise UserInputError(f"{where} must be a value, a ${{{{parent...}}}} reference or have a 'path'")
        value = value["path"]
    if value is None:
        return None
    if isinstance(value, str):
        if match := _PARENT_INPUT.fullmatch(value.strip()):
            return Binding("parent_input", source=match.group(1))
        if match := _STEP_OUTPUT.fullmatch(value.strip()):
            return Binding("step_output", source=match.group(1), output=match.group(2))
        if "${{" in value:
            raise UserInputError(
                f"{where} is not a supported reference ({value!r}); use ${{{{parent.inputs.<name>}}}} "
                "or ${{parent.jobs.<step>.outputs.<name>}}"
            )
    if not isinstance(value, str | int | float | bool):
        raise UserInputError(f"{where} must be a single value, not a {type(value).__name__}")
    return Binding("literal", literal=value)


class _Loader:
    """Reads one pipeline file; components used by several steps are parsed once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = os.path.normpath(path)
        self.components: dict[Path, Component] = {}

    def component(self, ref: Any, key: str) -> Component:
        if not isinstance(ref, str) or not ref.strip():
            raise UserInputError(f"{self.shown}: {key} must be the path of a component YAML file")
        if ref.startswith("azureml:") or "://" in ref:
            raise UserInputError(
                f"{self.shown}: {key} refers to a registered component ({ref}); the local workspace "
                "needs the path of its YAML file"
            )
        file = self.path.parent / ref.strip().removeprefix("file:")
        shown = os.path.normpath(file)
        if not file.is_file():
            raise UserInputError(f"{self.shown}: {key} refers to {shown}, which does not exist")
        resolved = file.resolve()
        if resolved not in self.components:
            self.components[resolved] = _load_component(_read_yaml(file, shown, "component"), file, shown)
        return self.components[resolved]

    def step(self, name: str, job: Any, pipeline_outputs: Mapping[str, Any],
             promoted_by: dict[str, str]) -> StepDefinition:
        key = f"jobs.{name}"
        if not isinstance(job, dict):
            raise UserInputError(f"{self.shown}: {key} must be a mapping")
        kind = job.get("type", "command")
        if kind not in ("command", "sweep"):
            raise UserInputError(f"{self.shown}: {key}.type '{kind}' is not supported locally "
                                 "(command and sweep are)")
        port_key = "trial" if kind == "sweep" else "component"
        if port_key not in job:
            raise UserInputError(f"{self.shown}: {key}.{port_key} is missing")
        component = self.component(job[port_key], f"{key}.{port_key}")
        sweep = parse_sweep(job, component.inputs, f"{self.shown}: {key}") if kind == "sweep" else None
        swept = set(sweep.search_space) if sweep else set()
        inputs: dict[str, Binding] = {}
        for input_name, raw in _mapping(job.get("inputs"), self.shown, f"{key}.inputs").items():
            where = f"{self.shown}: {key}.inputs.{input_name}"
            if input_name not in component.inputs:
                raise UserInputError(f"{where} is not an input of component '{component.name}' "
                                     f"({component.shown})")
            binding = _binding(raw, where)
            if input_name in swept and binding is not None:
                raise UserInputError(f"{where} is swept (search_space.{input_name}), so it cannot also "
                                     "be bound")
            if binding is not None:
                inputs[input_name] = _checked_literal(binding, component.inputs[input_name], where)
        for port in component.inputs.values():
            if port.required and port.name not in inputs and port.name not in swept:
                raise UserInputError(f"{self.shown}: {key}.inputs.{port.name} is required by component "
                                     f"'{component.name}' but is not bound")
        promoted: dict[str, str] = {}
        for output_name, raw in _mapping(job.get("outputs"), self.shown, f"{key}.outputs").items():
            where = f"{self.shown}: {key}.outputs.{output_name}"
            if output_name not in component.outputs:
                raise UserInputError(f"{where} is not an output of component '{component.name}' "
                                     f"({component.shown})")
            if raw is None or isinstance(raw, dict):
                continue  # a per-step output setting (mode, type): the local path is always ours
            match = _PARENT_OUTPUT.fullmatch(raw.strip()) if isinstance(raw, str) else None
            if match is None:
                raise UserInputError(f"{where} must be ${{{{parent.outputs.<name>}}}} or a mapping")
            target = match.group(1)
            if target not in pipeline_outputs:
                raise UserInputError(f"{where} refers to unknown pipeline output '{target}'")
            if target in promoted_by:
                raise UserInputError(f"{where} binds pipeline output '{target}', already bound by "
                                     f"{promoted_by[target]}")
            promoted_by[target] = f"{key}.outputs.{output_name}"
            promoted[output_name] = target
        display = job.get("display_name")
        return StepDefinition(name, display if isinstance(display, str) else name, component, inputs,
                              promoted, sweep)


def _checked_literal(binding: Binding, port: ComponentInput, where: str) -> Binding:
    if binding.kind != "literal" or binding.literal is None:
        return binding
    if port.type in PATH_TYPES:
        if not isinstance(binding.literal, str):
            raise UserInputError(f"{where} must be a path for a {port.type} input, not {binding.literal!r}")
        return binding
    value = check_constraints(coerce_primitive(binding.literal, port.type, where), port, where)
    return Binding("literal", literal=value)


def _check_references(loader: _Loader, steps: Mapping[str, StepDefinition],
                      declared: Mapping[str, Any]) -> None:
    for step in steps.values():
        for input_name, binding in step.inputs.items():
            where = f"{loader.shown}: jobs.{step.name}.inputs.{input_name}"
            port = step.component.inputs[input_name]
            if binding.kind == "parent_input" and binding.source not in declared:
                raise UserInputError(f"{where} refers to unknown pipeline input '{binding.source}'")
            if binding.kind != "step_output":
                continue
            producer = steps.get(binding.source)
            if producer is None:
                raise UserInputError(f"{where} refers to unknown step '{binding.source}'")
            if binding.output not in producer.component.outputs:
                raise UserInputError(f"{where} refers to output '{binding.output}' of step "
                                     f"'{binding.source}', which its component does not declare")
            if port.type not in PATH_TYPES:
                raise UserInputError(f"{where} is {_a(port.type)} input but is bound to a step output")


def _topological_order(loader: _Loader, steps: Mapping[str, StepDefinition]) -> tuple[str, ...]:
    order: list[str] = []
    done: set[str] = set()
    pending = list(steps)  # declaration order breaks ties, so the order is stable
    while pending:
        ready = next((s for s in pending if set(steps[s].depends_on) <= done), None)
        if ready is None:
            raise UserInputError(f"{loader.shown}: jobs form a cycle: {_find_cycle(steps, pending)}")
        order.append(ready)
        done.add(ready)
        pending.remove(ready)
    return tuple(order)


def _find_cycle(steps: Mapping[str, StepDefinition], pending: list[str]) -> str:
    # Every pending step waits on another pending step, so walking dependencies must loop.
    path = [pending[0]]
    while True:
        nxt = next(d for d in steps[path[-1]].depends_on if d in pending)
        if nxt in path:
            loop = [*path[path.index(nxt):], nxt]
            return " -> ".join(loop)
        path.append(nxt)


#: A literal of each primitive type, for messages.
_EXAMPLE = {"string": "none", "integer": "1", "number": "0.5", "boolean": "false"}


def _pipeline_input(name: str, raw: Any, consumers: list[tuple[str, ComponentInput]],
                    shown: str) -> PipelineInput:
    key = f"inputs.{name}"
    if isinstance(raw, dict):
        type_ = raw.get("type")
        if not isinstance(type_, str) or type_ not in PATH_TYPES | PRIMITIVE_TYPES:
            raise UserInputError(f"{shown}: {key}.type {type_!r} is not a supported input type")
        # Azure ML's pipeline-job schema takes a mapping for data inputs only, and no
        # `optional`: refused here too, so a pipeline that runs locally also loads on Azure.
        if type_ in PRIMITIVE_TYPES:
            raise UserInputError(f"{shown}: {key} must be a value (e.g. '{name}: "
                                 f"{_EXAMPLE[type_]}'), not a mapping: Azure ML takes a {type_} "
                                 "pipeline input as a literal")
        if "optional" in raw:
            raise UserInputError(f"{shown}: {key}.optional is refused by Azure ML in a pipeline "
                                 "job: declare the component's input optional and leave this unbound")
        default = raw.get("default", raw.get("path"))
    elif raw is None:
        raise UserInputError(f"{shown}: {key} has no value, which Azure ML refuses: give it one "
                             f"(e.g. '{name}: none') or a mapping with a data 'type'")
    elif isinstance(raw, str | int | float | bool):
        default = raw
        # A bare literal has no declared type: a string feeding a path input is a path.
        path_consumer = next((port.type for _, port in consumers if port.type in PATH_TYPES), None)
        type_ = path_consumer if isinstance(raw, str) and path_consumer else literal_type(raw)
    else:
        raise UserInputError(f"{shown}: {key} must be a value or a mapping with a 'type'")
    if isinstance(default, list | dict):
        raise UserInputError(f"{shown}: {key}.default must be a single value")
    for where, port in consumers:
        if (port.type in PATH_TYPES) != (type_ in PATH_TYPES):
            raise UserInputError(f"{where} is {_a(port.type)} input but pipeline input '{name}' is {type_}")
        if default is not None and type_ in PRIMITIVE_TYPES:
            used = f"{shown}: {key} (used by {where.split(': ')[-1]})"
            check_constraints(coerce_primitive(default, port.type, used), port, used)
    if default is not None and type_ in PRIMITIVE_TYPES:
        default = coerce_primitive(default, type_, f"{shown}: {key}")
    elif default is not None and not isinstance(default, str):
        raise UserInputError(f"{shown}: {key} must be a path for a {type_} input, not {default!r}")
    required = default is None and any(port.required for _, port in consumers)
    return PipelineInput(name, type_, default, not required)


def load_component(component_file: Path) -> Component:
    """Parse and validate one command component YAML file."""
    file = Path(component_file)
    shown = os.path.normpath(file)
    return _load_component(_read_yaml(file, shown, "component"), file, shown)


def single_step(component: Component, bound: Collection[str]) -> PipelineDefinition:
    """A one-step pipeline running ``component`` alone, like an Azure ML command job.

    Each name in ``bound`` becomes a pipeline input of the same name and type.
    """
    unknown = sorted(set(bound) - set(component.inputs))
    if unknown:
        raise UserInputError(f"{component.shown}: there is no input named '{unknown[0]}'")
    for port in component.inputs.values():
        if port.required and port.name not in bound:
            raise UserInputError(f"{component.shown}: inputs.{port.name} is required but has no value")
    step = StepDefinition(component.name, component.name, component,
                          {n: Binding("parent_input", source=n) for n in bound}, {})
    return PipelineDefinition(
        path=component.file, shown=component.shown, experiment_name=component.name,
        display_name=component.name,
        inputs={n: PipelineInput(n, component.inputs[n].type, None, optional=False) for n in bound},
        steps={step.name: step}, step_order=(step.name,),
        outputs={out: (step.name, out) for out in component.outputs},
    )


def load_pipeline(pipeline_file: Path) -> PipelineDefinition:
    """Parse and validate an Azure ML pipeline-job YAML file and the components it uses."""
    loader = _Loader(Path(pipeline_file))
    shown = loader.shown
    raw = _read_yaml(loader.path, shown, "pipeline")
    if not isinstance(raw, dict):
        raise UserInputError(f"{shown}: expected a pipeline job mapping")
    if raw.get("type", "pipeline") != "pipeline":
        raise UserInputError(f"{shown}: type is '{raw.get('type')}', expected 'pipeline'")
    declared = _mapping(raw.get("inputs"), shown, "inputs")
    pipeline_outputs = _mapping(raw.get("outputs"), shown, "outputs")
    jobs = _mapping(raw.get("jobs"), shown, "jobs")
    if not jobs:
        raise UserInputError(f"{shown}: jobs is empty; a pipeline needs at least one step")
    promoted_by: dict[str, str] = {}
    steps = {name: loader.step(name, job, pipeline_outputs, promoted_by) for name, job in jobs.items()}
    _check_references(loader, steps, declared)
    order = _topological_order(loader, steps)
    for output in pipeline_outputs:
        if output not in promoted_by:
            raise UserInputError(f"{shown}: outputs.{output} is not bound by any step "
                                 f"(bind it with ${{{{parent.outputs.{output}}}}})")
    consumers: dict[str, list[tuple[str, ComponentInput]]] = {name: [] for name in declared}
    for step in steps.values():
        for input_name, binding in step.inputs.items():
            if binding.kind == "parent_input":
                consumers[binding.source].append(
                    (f"{shown}: jobs.{step.name}.inputs.{input_name}", step.component.inputs[input_name]))
    inputs = {name: _pipeline_input(name, spec, consumers[name], shown) for name, spec in declared.items()}
    outputs = {target: (step.name, output) for step in (steps[s] for s in order)
               for output, target in step.promoted.items()}
    experiment = raw.get("experiment_name") or loader.path.stem
    display = raw.get("display_name") or experiment
    if not isinstance(experiment, str) or not isinstance(display, str):
        raise UserInputError(f"{shown}: experiment_name and display_name must be text")
    return PipelineDefinition(path=loader.path, shown=shown, experiment_name=experiment,
                              display_name=display, inputs=inputs, steps=steps, step_order=order,
                              outputs={name: outputs[name] for name in pipeline_outputs})

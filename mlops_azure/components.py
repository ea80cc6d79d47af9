"""Azure ML command components, read from their own YAML and executed as local subprocesses.

Backend-neutral on purpose: the embedded workspace runs pipeline steps with it, and
``mlops data check`` runs the project's ``data_check`` component with it, so a check gives the
same answer on a laptop as inside the pipeline. Only PyYAML: importing ``azure.ai.ml`` costs
more than a whole step.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_azure.errors import BackendError, UserInputError

#: Input types whose values are local paths.
PATH_TYPES = frozenset({"uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model"})
PRIMITIVE_TYPES = frozenset({"string", "integer", "number", "boolean"})
_PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)

ComponentValue = str | int | float | bool | Path


@dataclass(frozen=True)
class PortSpec:
    """One declared input or output of a component."""

    name: str
    type: str
    optional: bool = False
    default: Any = None


@dataclass(frozen=True)
class CommandComponent:
    """A ``type: command`` component as declared in its YAML file."""

    file: Path
    name: str
    version: str
    command: str
    code: Path
    inputs: Mapping[str, PortSpec]
    outputs: Mapping[str, PortSpec]


def _ports(raw: Any, file: Path, key: str) -> dict[str, PortSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserInputError(f"{file}: {key} must be a mapping of name to definition")
    ports = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise UserInputError(f"{file}: {key}.{name} needs a 'type'")
        ports[str(name)] = PortSpec(str(name), str(spec["type"]), bool(spec.get("optional", False)),
                                    spec.get("default"))
    return ports


def load_component(file: Path) -> CommandComponent:
    """Parse a command component YAML file; ``UserInputError`` naming the file on any problem."""
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"{file}: component file does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise UserInputError(f"{file}: not a readable component YAML file ({exc})") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"{file}: expected a component definition mapping")
    if raw.get("type", "command") != "command":
        raise UserInputError(f"{file}: type '{raw.get('type')}' is not supported (only command)")
    if not isinstance(raw.get("command"), str):
        raise UserInputError(f"{file}: command is missing")
    code = file.parent / str(raw.get("code", "."))
    if not code.is_dir():
        raise UserInputError(f"{file}: code folder {code} does not exist")
    component = CommandComponent(
        file=file,
        name=str(raw.get("name", file.stem)),
        version=str(raw.get("version", "1")),
        command=raw["command"],
        code=code.resolve(),
        inputs=_ports(raw.get("inputs"), file, "inputs"),
        outputs=_ports(raw.get("outputs"), file, "outputs"),
    )
    for kind, name in _PLACEHOLDER.findall(component.command):
        declared = component.inputs if kind == "inputs" else component.outputs
        if name not in declared:
            raise UserInputError(f"{file}: command uses ${{{{{kind}.{name}}}}}, which is not declared")
    return component


def _as_text(value: ComponentValue) -> str:
    return str(value)  # bools become True/False, as Azure ML passes them


def render_command(
    component: CommandComponent,
    inputs: Mapping[str, ComponentValue],
    outputs: Mapping[str, Path],
) -> str:
    """The component's command with every placeholder replaced by a shell-quoted value.

    An optional block ``$[[ ... ]]`` is kept only when every input it mentions has a value.
    """

    def keep_block(match: re.Match[str]) -> str:
        body = match.group(1)
        needed = [n for kind, n in _PLACEHOLDER.findall(body) if kind == "inputs"]
        return body if all(n in inputs for n in needed) else ""

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "outputs":
            return shlex.quote(str(outputs[name]))
        if name not in inputs:
            raise UserInputError(
                f"{component.file}: required input '{name}' has no value"
            )
        return shlex.quote(_as_text(inputs[name]))

    without_optional = _OPTIONAL_BLOCK.sub(keep_block, component.command)
    return " ".join(_PLACEHOLDER.sub(substitute, without_optional).split())


def resolve_inputs(
    component: CommandComponent, given: Mapping[str, ComponentValue | None]
) -> dict[str, ComponentValue]:
    """Given values plus declared defaults, type-checked; ``UserInputError`` names the input."""
    unknown = sorted(set(given) - set(component.inputs))
    if unknown:
        raise UserInputError(f"{component.file}: no input named '{unknown[0]}'")
    values: dict[str, ComponentValue] = {}
    for name, spec in component.inputs.items():
        value = given.get(name)
        if value is None:
            value = spec.default
        if value is None:
            if not spec.optional:
                raise UserInputError(f"{component.file}: required input '{name}' has no value")
            continue
        values[name] = check_value(value, spec.type, f"{component.file}: input '{name}'")
    return values


def check_value(value: ComponentValue, type_: str, where: str) -> ComponentValue:
    """``value`` converted to ``type_`` (integer, number, boolean, string or a path type)."""
    if type_ in PATH_TYPES:
        path = Path(value) if not isinstance(value, Path) else value
        if not path.exists():
            raise UserInputError(f"{where}: {path} does not exist")
        return path.resolve()
    try:
        if type_ == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if type_ == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if type_ == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in ("true", "false"):
                raise ValueError
            return text == "true"
    except (TypeError, ValueError):
        raise UserInputError(f"{where}: {value!r} is not of type {type_}") from None
    return str(value)


@dataclass(frozen=True)
class Execution:
    """How one command ended."""

    exit_code: int
    log_path: Path


def execute(
    command: str, *, cwd: Path, log_path: Path, env: Mapping[str, str] | None = None
) -> Execution:
    """Run ``command`` with bash in ``cwd``; stdout and stderr go to ``log_path``.

    ``python`` on the PATH is the interpreter running mlops, as the steps must run in the
    environment whose hash lineage records. On interruption the whole process group is killed,
    so no step outlives the command that started it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), full_env.get("PATH", "")])
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    with log_path.open("wb") as log:
        try:
            process = subprocess.Popen(
                ["bash", "-c", command], cwd=cwd, env=full_env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except OSError as exc:
            raise BackendError(f"cannot start the step's command in {cwd}: {exc}") from None
        try:
            return Execution(process.wait(), log_path)
        except BaseException:
            _kill_group(process)
            raise


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def log_tail(log_path: Path, lines: int = 20) -> str:
    """The last ``lines`` non-empty lines of a log, for error messages."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])

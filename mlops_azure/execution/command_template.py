"""The pure part of an Azure ML command component: its typed inputs and its ``command`` template.

Azure ML fills ``${{inputs.x}}`` and ``${{outputs.y}}`` into the command and drops an optional
block ``$[[ ... ]]`` when an optional input inside it was not provided. This module does the same,
pure and without I/O, and shell-quotes every substituted value so that paths with spaces or quotes
survive ``bash -c``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlops_azure.errors import UserInputError

#: What a placeholder can be filled with.
TemplateValue = str | int | float | bool | Path
#: A value written in YAML or given for a primitive input.
Literal = str | int | float | bool
#: Input and output types whose values are local paths (files or folders).
PATH_TYPES = frozenset({"uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model"})
PRIMITIVE_TYPES = frozenset({"string", "integer", "number", "boolean"})

# One scan finds all three kinds of token; everything between them is literal text.
_TOKEN = re.compile(r"\$\[\[|\]\]|\$\{\{(?P<body>.*?)\}\}", re.DOTALL)
_REFERENCE = re.compile(r"\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*")


@dataclass(frozen=True)
class Placeholder:
    """``${{inputs.name}}`` or ``${{outputs.name}}``."""

    kind: str  # "inputs" or "outputs"
    name: str


@dataclass(frozen=True)
class OptionalBlock:
    """``$[[ ... ]]``: kept only when every input placeholder inside it has a value.

    Outputs always have a path, so an output inside a block never decides whether it is kept.
    """

    parts: tuple[str | Placeholder, ...]

    def input_names(self) -> list[str]:
        return [p.name for p in self.parts if isinstance(p, Placeholder) and p.kind == "inputs"]


Part = str | Placeholder | OptionalBlock


@dataclass(frozen=True)
class CommandTemplate:
    """A parsed component command; ``where`` prefixes every error (e.g. the component file)."""

    where: str
    parts: tuple[Part, ...]

    def _placeholders(self) -> Iterator[Placeholder]:
        for part in self.parts:
            if isinstance(part, Placeholder):
                yield part
            elif isinstance(part, OptionalBlock):
                yield from (inner for inner in part.parts if isinstance(inner, Placeholder))

    @property
    def input_names(self) -> frozenset[str]:
        """Every input the command mentions."""
        return frozenset(p.name for p in self._placeholders() if p.kind == "inputs")

    @property
    def output_names(self) -> frozenset[str]:
        """Every output the command mentions."""
        return frozenset(p.name for p in self._placeholders() if p.kind == "outputs")

    def render(
        self, inputs: Mapping[str, TemplateValue | None], outputs: Mapping[str, TemplateValue]
    ) -> str:
        """The command with each placeholder replaced by its shell-quoted value.

        An input missing from ``inputs`` (or ``None``) is "not provided": its optional blocks are
        dropped, and using it outside a block is a ``UserInputError``.
        """
        rendered: list[str] = []
        for part in self.parts:
            if isinstance(part, OptionalBlock):
                if all(inputs.get(name) is not None for name in part.input_names()):
                    rendered.extend(self._fill(inner, inputs, outputs) for inner in part.parts)
            else:
                rendered.append(self._fill(part, inputs, outputs))
        return "".join(rendered)

    def _fill(
        self,
        part: str | Placeholder,
        inputs: Mapping[str, TemplateValue | None],
        outputs: Mapping[str, TemplateValue],
    ) -> str:
        if isinstance(part, str):
            return part
        if part.kind == "outputs":
            if part.name not in outputs:
                raise UserInputError(f"{self.where}: command needs output '{part.name}' but it has no path")
            return shlex.quote(format_value(outputs[part.name]))
        value = inputs.get(part.name)
        if value is None:
            raise UserInputError(
                f"{self.where}: command needs input '{part.name}' but it has no value "
                "(an optional input must sit inside a $[[...]] block)"
            )
        return shlex.quote(format_value(value))


def output_paths(folders: Mapping[str, Path], types: Mapping[str, str]) -> dict[str, Path]:
    """What a command gets for each output: its folder, or for a ``uri_file`` a file named after
    the output inside it (so the folder can still be listed as a whole)."""
    return {name: folder / name if types[name] == "uri_file" else folder for name, folder in folders.items()}


def format_value(value: TemplateValue) -> str:
    """The text Azure ML passes for a value: booleans as ``True``/``False``, paths as-is."""
    return str(value)


def literal_type(value: Literal) -> str:
    """The Azure ML type of a bare YAML literal."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"


def coerce_primitive(value: object, type_: str, where: str) -> Literal:
    """``value`` as ``type_``; text (as typed on a command line: "42", "true") is parsed."""
    try:
        if type_ == "string" and isinstance(value, str | int | float | bool | Path):
            return str(value)
        if type_ == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
        elif type_ == "integer" and not isinstance(value, bool):
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
        elif type_ == "number" and not isinstance(value, bool):
            if isinstance(value, int | float):
                return value
            if isinstance(value, str):
                return float(value.strip())
    except ValueError:
        pass
    article = "an" if type_[0] in "aeiou" else "a"
    raise UserInputError(f"{where}: {value!r} is not {article} {type_}")


@dataclass(frozen=True)
class ComponentInput:
    """One declared input of a command component."""

    name: str
    type: str
    optional: bool = False
    default: Literal | None = None
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None

    @property
    def required(self) -> bool:
        """True when a step must bind it: not optional and without a default."""
        return not self.optional and self.default is None


def check_constraints(value: Literal, port: ComponentInput, where: str) -> Literal:
    """``value`` when it satisfies the input's ``enum`` / ``min`` / ``max``."""
    if port.enum is not None and str(value) not in port.enum:
        raise UserInputError(f"{where}: {value!r} is not one of {', '.join(port.enum)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if port.min is not None and value < port.min:
            raise UserInputError(f"{where}: {value} is below the minimum {port.min}")
        if port.max is not None and value > port.max:
            raise UserInputError(f"{where}: {value} is above the maximum {port.max}")
    return value


def parse_input_spec(name: str, spec: Any, shown: str) -> ComponentInput:
    """One entry of a component's ``inputs``; ``shown`` (its file) prefixes errors."""
    key = f"inputs.{name}"
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise UserInputError(f"{shown}: {key} needs a 'type'")
    type_ = spec["type"]
    if type_ not in PATH_TYPES | PRIMITIVE_TYPES:
        raise UserInputError(f"{shown}: {key}.type '{type_}' is not a supported input type")
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        raise UserInputError(f"{shown}: {key}.optional must be true or false")
    enum = spec.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise UserInputError(f"{shown}: {key}.enum must be a non-empty list")
    low, high = spec.get("min"), spec.get("max")
    if any(b is not None and (isinstance(b, bool) or not isinstance(b, int | float)) for b in (low, high)):
        raise UserInputError(f"{shown}: {key}.min and {key}.max must be numbers")
    port = ComponentInput(name, type_, optional, None, None if enum is None else tuple(map(str, enum)),
                          low, high)
    default = spec.get("default")
    where = f"{shown}: {key}.default"
    if default is None:
        return port
    if type_ in PATH_TYPES:
        if not isinstance(default, str):
            raise UserInputError(f"{where} must be a path, not {default!r}")
        return replace(port, default=default)
    return replace(port, default=check_constraints(coerce_primitive(default, type_, where), port, where))


def parse_command(
    command: str, where: str, *, inputs: Collection[str], outputs: Collection[str]
) -> CommandTemplate:
    """Parse ``command``; every placeholder must name a declared input or output.

    Raises ``UserInputError`` (prefixed with ``where``) on an unknown or malformed placeholder or
    a nested or unclosed ``$[[`` block.
    """
    top: list[Part] = []
    block: list[str | Placeholder] | None = None
    position = 0

    def add_text(text: str) -> None:
        if "${{" in text:
            raise UserInputError(f"{where}: command has a '${{{{' without its closing '}}}}'")
        if text:
            (top if block is None else block).append(text)

    for match in _TOKEN.finditer(command):
        add_text(command[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token == "$[[":
            if block is not None:
                raise UserInputError(f"{where}: command nests a $[[...]] block inside another one")
            block = []
        elif token == "]]":
            if block is None:
                top.append(token)  # a bash "[[ ... ]]" test, not ours
            else:
                top.append(OptionalBlock(tuple(block)))
                block = None
        else:
            placeholder = _placeholder(match.group("body"), where, inputs, outputs)
            (top if block is None else block).append(placeholder)
    add_text(command[position:])
    if block is not None:
        raise UserInputError(f"{where}: command opens a $[[ block that is never closed with ]]")
    return CommandTemplate(where, tuple(top))


def _placeholder(body: str, where: str, inputs: Collection[str], outputs: Collection[str]) -> Placeholder:
    reference = _REFERENCE.fullmatch(body)
    if reference is None:
        raise UserInputError(
            f"{where}: command uses unknown placeholder ${{{{{body.strip()}}}}} "
            "(only ${{inputs.<name>}} and ${{outputs.<name>}} are supported)"
        )
    kind, name = reference.group(1), reference.group(2)
    declared = inputs if kind == "inputs" else outputs
    if name not in declared:
        raise UserInputError(
            f"{where}: command uses ${{{{{kind}.{name}}}}} but the component declares no "
            f"{kind[:-1]} named '{name}'"
        )
    return Placeholder(kind, name)


__all__ = ["PATH_TYPES", "PRIMITIVE_TYPES", "CommandTemplate", "ComponentInput", "Literal", "OptionalBlock",
           "Placeholder", "TemplateValue", "check_constraints", "coerce_primitive", "format_value",
           "literal_type", "parse_command", "parse_input_spec"]

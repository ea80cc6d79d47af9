"""The README's CLI table against the CLI itself: every command it names exists with the options
it shows, and every command of the CLI has a row."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from mlops_azure.cli.main import app

README = Path(__file__).resolve().parents[3] / "README.md"
#: Options every command takes (the callback's).
GLOBAL = {"--config", "-c", "--backend", "--json", "--debug", "--actor", "--help", "-h"}


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in subcommands.items():
        yield from _commands(sub, (*path, name))


LEAVES = dict(_commands(get_command(app)))


def _table_rows() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The CLI"):]
    section = section[:section.index("\n## ", 4)]
    return [line for line in section.splitlines() if line.startswith("| `mlops ")]


def _resolve(tokens: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The longest command path that ``tokens`` start with, and the tokens after it."""
    for size in range(len(tokens), 0, -1):
        if tuple(tokens[:size]) in LEAVES:
            return tuple(tokens[:size]), tokens[size:]
    raise AssertionError(f"no command 'mlops {' '.join(tokens)}'")


def _documented() -> Iterator[tuple[str, tuple[str, ...], list[str]]]:
    """(row, command path, the words shown after it) for each command a row names."""
    for row in _table_rows():
        first_cell = row.split(" | ")[0]
        group: tuple[str, ...] = ()
        path: tuple[str, ...] = ()
        for span in re.findall(r"`([^`]+)`", first_cell):
            tokens = span.replace("\\|", " ").split()
            if tokens[0] == "mlops":
                path, rest = _resolve(tokens[1:])
                group = path[:-1]
            elif tokens[0].startswith("-"):
                rest = tokens  # more options of the command before
            else:
                path, rest = _resolve([*group, *tokens])
            yield row, path, rest


def test_every_command_the_table_names_exists_with_its_options() -> None:
    rows = list(_documented())
    assert len(rows) > 30
    for row, path, rest in rows:
        command = LEAVES[path]
        known = {o for p in command.params for o in getattr(p, "opts", [])} | GLOBAL
        for word in rest:
            option = re.sub(r"[\[\]()|]", "", word).split("=")[0]
            if option.startswith("-"):
                assert option in known, f"'mlops {' '.join(path)}' has no option {option}: {row}"


def test_every_command_of_the_cli_has_a_row() -> None:
    documented = {path for _, path, _ in _documented()}
    missing = sorted(" ".join(p) for p in LEAVES if p not in documented)
    assert not missing, f"commands without a row in the README's CLI table: {missing}"


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_every_command_has_help_with_a_first_line(path: tuple[str, ...]) -> None:
    assert (LEAVES[path].help or "").strip(), f"'mlops {' '.join(path)}' has no help text"

"""An ``mlops`` argument list checked against this CLI without running it: the command tree is
walked and each level parses its options as click would, so a renamed option or a typo in a CI
definition is found before the pipeline runs."""

from __future__ import annotations

import contextlib
import functools
import io
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml

from mlops_azure import _yaml
from mlops_azure.cli.ci_lines import PLACEHOLDER, mlops_lines_in, shell_texts

if TYPE_CHECKING:
    from mlops_azure.lifecycle.project_check import ProjectCheck

# Typer >= 0.22 parses with its own copy of click (typer._click); older Typer uses click itself.
try:
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click import exceptions as click_errors  # type: ignore[no-redef]


class InvalidInvocation(Exception):
    """An `mlops` argument list the CLI would refuse with a usage error."""


@functools.cache
def mlops_command() -> Any:
    from mlops_azure.cli.main import app

    return typer.main.get_command(app)


def _pending_args(ctx: Any) -> list[str]:
    # A group's parse_args keeps the sub-command name in `_protected_args` (the public
    # `protected_args` is deprecated in click 8.2+ and absent from Typer's copy) and the rest in `args`.
    protected = getattr(ctx, "_protected_args", None)
    if protected is None:
        protected = ctx.protected_args
    return [*protected, *ctx.args]


def _walk_command_tree(args: list[str], root: Any) -> str:
    command = root
    names = ["mlops"]
    ctx = command.make_context("mlops", list(args))
    # Groups (TyperGroup is not a click.Group subclass) are the commands that resolve sub-commands.
    while hasattr(command, "resolve_command"):
        rest = _pending_args(ctx)
        if not rest:
            if command.invoke_without_command:
                break
            raise InvalidInvocation(f"`{' '.join(names)}`: missing command")
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None and sub is not None  # resolve_command raises otherwise
        names.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return " ".join(names)


def validate_invocation(args: list[str], root: Any = None) -> str:
    """Parse ``mlops ARGS`` as the CLI would, without running it; returns the command path.

    Raises InvalidInvocation for unknown commands or options, missing arguments or required options,
    extra arguments, and bad literal values. A macro's value is only known inside the pipeline, so a
    type error is forgiven when the line parses with every macro standing for ``1`` (valid as a
    string, a number and a path).
    """
    root = root if root is not None else mlops_command()
    # `--help` prints while it parses: its page is not this caller's output.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return _validate(args, root)


def _validate(args: list[str], root: Any) -> str:
    try:
        try:
            return _walk_command_tree(args, root)
        except click_errors.BadParameter as exc:
            if isinstance(exc, click_errors.MissingParameter) or not any(PLACEHOLDER in a for a in args):
                raise
            try:
                return _walk_command_tree([a.replace(PLACEHOLDER, "1") for a in args], root)
            except click_errors.UsageError:
                raise exc from None
    except click_errors.UsageError as exc:
        raise InvalidInvocation(exc.format_message()) from exc
    except typer.Exit as exc:
        # --help and friends exit while parsing; only a non-zero exit is a refusal.
        if exc.exit_code:
            raise InvalidInvocation(f"exits with {exc.exit_code} while parsing") from exc
        return "mlops"


def check_ci_file(path: Path, shown: str) -> list[str]:
    """One sentence per problem of the CI definition at ``path`` (called ``shown``): YAML that
    does not parse, an ``mlops`` line that cannot be split or that the CLI would refuse."""
    try:
        doc = _yaml.load(path.read_text(encoding="utf-8"))  # aliases bounded, as for mlops.yaml
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        return [f"{shown}: not readable as YAML ({problem})"]
    problems = []
    for text in shell_texts(path, doc):
        for found in mlops_lines_in(text.text, path):
            where = f"{shown}:{found.line_number or '?'}"
            if found.args[:1] == ("<unparseable>",):
                problems.append(f"{where}: `{found.line}` cannot be split into words "
                                f"({found.args[1]})")
                continue
            try:
                validate_invocation(list(found.args))
            except InvalidInvocation as exc:
                if PLACEHOLDER in str(exc):
                    continue  # a command or arguments known only when the pipeline runs
                problems.append(f"{where}: `{found.line}` is not a valid mlops command: {exc}")
    return problems


def ci_definition_problems(root: Path) -> tuple[list[str], list[str]]:
    """The problems of the CI/CD definitions of the project at ``root``, those beside it and at
    the top of its git repository, and the files read; each shown relative to ``root``."""
    from mlops_azure.lifecycle.maturity_facts import ci_paths
    from mlops_azure.project_ci import repository_top

    problems: list[str] = []
    files: list[str] = []
    for path in ci_paths([root, repository_top(root) or root]):
        shown = Path(os.path.relpath(path, root)).as_posix()
        files.append(shown)
        problems += check_ci_file(path, shown)
    return problems, files


def with_ci_findings(found: ProjectCheck, root: Path) -> ProjectCheck:
    """``found`` (the project against the contract) with the CI/CD definitions' problems as
    errors of check ``pipelines``, and their files among those checked."""
    from mlops_azure.lifecycle.project_check import Finding

    problems, files = ci_definition_problems(root)
    return replace(found, checked=(*found.checked, *files),
                   findings=(*found.findings, *(Finding("error", "pipelines", p) for p in problems)))

"""MkDocs hook: the pages written from the code at build time, so they cannot go stale.

- ``reference/cli.md``: one section per command of the ``mlops`` Typer app (usage, help, options).
- ``readme.md``: the repository's README, its ``docs/`` links made site-relative.
- ``benchmarks.md``: its markers replaced by the files in ``benchmarks/results/`` and by
  ``benchmarks/README.md``, as they are in the checkout.

It also shows the docstrings' Sphinx roles (``:class:`X```) as the code they name.
"""

from __future__ import annotations

import html
import inspect
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The reference documents the code beside it, whatever else is installed.
sys.path.insert(0, str(ROOT))

CLI_PAGE = "reference/cli.md"
README_PAGE = "readme.md"
BENCH_MARKER = "<!-- benchmarks:results -->"
BENCH_README_MARKER = "<!-- benchmarks:readme -->"


# The commands and contexts are Typer's click classes (Typer >= 0.22 carries its own copy of
# click), so they are reached through the objects themselves, never through `import click`.
def _commands(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """Every command and group under ``command``, depth first, with a context naming its path."""
    yield command, ctx
    for name, sub in getattr(command, "commands", {}).items():
        if getattr(sub, "hidden", False):
            continue
        yield from _commands(sub, sub.context_class(sub, info_name=name, parent=ctx))


def _text(value: str) -> str:
    """Help text as Markdown: HTML escaped, and no character Markdown would read as emphasis."""
    return html.escape(inspect.cleandoc(value), quote=False).replace("*", r"\*").replace("\f", "")


def _cell(value: str) -> str:
    return _text(value).replace("|", r"\|").replace("\n", " ")


def _section(command: Any, ctx: Any) -> str:
    path = ctx.command_path
    # The root and its direct commands and groups are h2; a group's commands h3.
    lines = [f"{'#' * (2 if path.count(' ') <= 1 else 3)} {path}", ""]
    if command.help:
        lines += [_text(command.help), ""]
    usage = command.get_usage(ctx).removeprefix("Usage: ")
    lines += ["```text", usage, "```", ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    if arguments:
        lines += ["| argument | required | help |", "|---|---|---|"]
        for argument in arguments:
            help_text = getattr(argument, "help", None) or ""
            name = argument.metavar or (argument.name or "").upper()
            lines.append(f"| `{name}` | {'yes' if argument.required else 'no'} "
                         f"| {_cell(help_text)} |")
        lines.append("")
    if options:
        lines += ["| option | help |", "|---|---|"]
        for option in options:
            record = option.get_help_record(ctx)
            names, help_text = record if record else (", ".join(option.opts), "")
            lines.append(f"| `{names}` | {_cell(help_text)} |")
        lines.append("")
    return "\n".join(lines)


def cli_reference() -> str:
    """The CLI reference page: every command of ``mlops``, from the Typer app itself."""
    from typer.main import get_command

    from mlops_azure.cli.main import app

    root = get_command(app)
    sections = [
        "# CLI reference",
        "",
        "Generated at build time from the `mlops` Typer application (`mlops_azure.cli.main.app`):",
        "what `mlops COMMAND --help` prints. The global options come before the command",
        "(`mlops --backend azure train`). Exit codes: `0` ok, `1` a gate or check said no, `2` bad",
        "input or usage, `3` a backend or infrastructure failure",
        "(see [Troubleshooting](../troubleshooting.md)).",
        "",
    ]
    for command, ctx in _commands(root, root.context_class(root, info_name="mlops")):
        sections.append(_section(command, ctx))
    return "\n".join(sections)


def readme() -> str:
    """The README as a page: links into ``docs/`` made relative to the site."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.sub(r"\]\(docs/", "](", text)


def _demote(markdown: str, levels: int) -> str:
    """Headings of an included file moved ``levels`` down, under the page's own."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,5} ", line):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


def benchmarks_readme() -> str:
    """``benchmarks/README.md`` without its title, its sections one level down."""
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    return _demote(body.strip(), 1)


#: Keys that name an item of a list of results (a command, a project, a page).
LABELS = ("command", "name", "project", "method", "case")
#: Rows of a figures table before it is cut (the whole file follows it anyway).
MAX_ROWS = 60


def _flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(dotted key, scalar) for every figure: lists of labelled results by label, other lists
    (per-run samples) left to the whole file."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            label = next((item[k] for k in LABELS if isinstance(item, dict) and k in item), None)
            if label is None:
                return
            rest = {k: v for k, v in item.items() if k not in LABELS}
            yield from _flatten(rest, f"{path}[{label}]" if path else str(label))
    elif isinstance(value, float):
        yield path, f"{value:.4g}"
    else:
        yield path, value


def _figures_table(data: Any) -> str:
    """The figures of a results file as a two-column table, the first ``MAX_ROWS`` of them."""
    rows = list(_flatten(data, ""))
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(str(value))} |" for key, value in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"| … | {len(rows) - MAX_ROWS} more in the whole file |")
    return "\n".join(lines)


def benchmark_results() -> str:
    """Each file of ``benchmarks/results/``: Markdown as written, JSON in a collapsed block."""
    parts: list[str] = []
    for path in sorted((ROOT / "benchmarks" / "results").iterdir()):
        if path.suffix == ".md":
            body = _demote(path.read_text(encoding="utf-8").strip(), 3)
            parts += [f"### {path.name}", "", body, ""]
        elif path.suffix == ".json":
            pretty = json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=1)
            block = "\n".join("    " + line for line in ["```json", *pretty.splitlines(), "```"])
            table = _figures_table(json.loads(path.read_text(encoding="utf-8")))
            parts += [f"### {path.name}", "", table, "", f'??? abstract "{path.name} (the whole file)"',
                      "", block, ""]
    return "\n".join(parts)


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, CLI_PAGE, content=cli_reference()))
    files.append(File.generated(config, README_PAGE, content=readme()))
    return files


def on_page_content(html_text: str, page: Any, config: Any, files: Any) -> str:
    """Docstrings name things the Sphinx way (``:class:`Project```, ``Example::``); Markdown keeps
    the role's prefix and the second colon, which read as noise on the page."""
    html_text = re.sub(r":(?:class|meth|func|mod|data|attr|exc|obj):(<code>)", r"\1", html_text)
    return html_text.replace("</code>::", "</code>:")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if BENCH_MARKER in markdown:
        markdown = markdown.replace(BENCH_MARKER, benchmark_results())
    if BENCH_README_MARKER in markdown:
        markdown = markdown.replace(BENCH_README_MARKER, benchmarks_readme())
    return markdown

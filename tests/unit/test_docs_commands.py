"""The shell commands the README and docs/ show are commands that work: every ```bash block's
`mlops` line parses against the CLI, its `make` targets exist, and any other command is in a block
marked `<!-- illustrative: reason -->` (a block that needs Azure, or minutes, or a real machine).
Every ```python block names the test that runs it (`<!-- run by tests/....py -->`), and every
```yaml block of mlops.yaml settings loads."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_azure.cli.invocations import InvalidInvocation, validate_invocation
from tests.unit.cli.test_readme_cli_table import LEAVES, _resolve

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md")
                                         if "_hooks" not in p.parts)]
MARKER = re.compile(r"<!--\s*illustrative:\s*(?P<reason>.*?)\s*-->")
#: Commands a reader runs that change nothing worth a test.
HARMLESS = {"cd"}
#: Global options that take a value (they come before the command path).
GLOBAL_WITH_VALUE = {"--config", "-c", "--backend", "--actor"}


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    lines: tuple[str, ...]
    illustrative: str | None  # the marker's reason

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path, language: str) -> list[Block]:
    """Every ```LANGUAGE block of a Markdown file, with the illustrative marker right before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = re.match(rf"^(\s*)```{language}\s*$", lines[index])
        if not opening:
            index += 1
            continue
        indent, start = opening.group(1), index
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.search(previous)
        body = tuple(line.removeprefix(indent) for line in lines[start + 1:end])
        blocks.append(Block(path, start + 1, body, marker.group("reason") if marker else None))
        index = end + 1
    return blocks


def commands(block: Block) -> list[list[str]]:
    """The block's commands as argument lists: continuations joined, comments dropped, and
    `a && b`, `a; b`, `a | b` split."""
    text = re.sub(r"\\\n", " ", "\n".join(block.lines))
    found: list[list[str]] = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in [*words, ";"]:
            if word in {"&&", "||", ";", "|"}:
                # Leading VAR=value words set the environment of the command after them.
                while current and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", current[0]):
                    current.pop(0)
                if current:
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found


def is_mlops(words: list[str]) -> bool:
    return words[0] == "mlops" or words[0].endswith("/mlops")


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", makefile, flags=re.MULTILINE))


BLOCKS = [block for path in DOCUMENTS for block in fenced_blocks(path, "bash")]


def test_the_documents_have_blocks_to_check() -> None:
    files = {block.file.name for block in BLOCKS}
    assert {"README.md", "getting-started.md", "release.md"} <= files
    assert sum(is_mlops(c) for block in BLOCKS for c in commands(block)) > 40


def test_a_marker_gives_its_reason() -> None:
    for block in BLOCKS:
        assert block.illustrative is None or len(block.illustrative) >= 10, (
            f"{block.where}: say why the block is illustrative: <!-- illustrative: reason -->")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.illustrative is None],
                         ids=lambda b: b.where)
def test_every_command_of_a_block_not_marked_illustrative_is_checked(block: Block) -> None:
    targets = make_targets()
    for words in commands(block):
        if is_mlops(words):
            try:
                validate_invocation(words[1:])
            except InvalidInvocation as exc:
                pytest.fail(f"{block.where}: `{shlex.join(words)}` does not parse: {exc}")
            # A command, never a bare group (`mlops --help` aside): what the README's table names.
            if not {"--help", "-h"} & set(words):
                path, _ = _resolve(_without_globals(words[1:]))
                assert path in LEAVES
        elif words[0] == "make":
            missing = [t for t in words[1:] if not t.startswith("-") and t not in targets]
            assert not missing, f"{block.where}: the Makefile has no target {missing}"
        else:
            assert words[0] in HARMLESS, (
                f"{block.where}: `{shlex.join(words)}` is not an mlops command nobody checks: "
                "make it one, or mark the block <!-- illustrative: reason -->")


def _without_globals(words: list[str]) -> list[str]:
    """The words from the command path on: global options before it skipped."""
    index = 0
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in GLOBAL_WITH_VALUE else 1
    return words[index:]


def test_a_wrong_option_is_caught() -> None:
    """The check itself: a block with an option the CLI lacks fails it."""
    block = Block(ROOT / "README.md", 1, ("mlops deploy m:1 --stage staging --no-such-option",), None)
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        test_every_command_of_a_block_not_marked_illustrative_is_checked(block)
    unmarked = Block(ROOT / "README.md", 1, ("curl https://example.org",), None)
    with pytest.raises(AssertionError, match="illustrative"):
        test_every_command_of_a_block_not_marked_illustrative_is_checked(unmarked)


def test_every_mlops_yaml_section_the_documents_show_is_valid(tmp_path: Path) -> None:
    """A ```yaml block made of `mlops.yaml` sections, put into the steel example's config in place
    of its own (or, a whole file, alone), loads: the keys, values and cross-checks (columns of the
    schema) all hold."""
    import yaml

    from mlops_azure.config import ProjectConfig, load_config

    base = yaml.safe_load((ROOT / "examples" / "steel" / "mlops.yaml").read_text(encoding="utf-8"))
    checked = 0
    for path in DOCUMENTS:
        for block in fenced_blocks(path, "yaml"):
            snippet = yaml.safe_load("\n".join(block.lines))
            if not isinstance(snippet, dict) or not set(snippet) <= set(ProjectConfig.model_fields):
                continue  # another kind of YAML: a pipeline, a component
            config = tmp_path / f"{path.stem}-{block.line}.yaml"
            # A whole file (it names its project) stands alone; sections go into the example's.
            whole = snippet if "project" in snippet else {**base, **snippet}
            config.write_text(yaml.safe_dump(whole), encoding="utf-8")
            try:
                load_config(config)
            except Exception as exc:
                pytest.fail(f"{block.where}: not a valid mlops.yaml section: {exc}")
            checked += 1
    assert checked >= 5


RUN_BY = re.compile(r"<!--.*?\brun by (?P<test>tests/[\w/]+\.py)\b.*?-->")


def python_block_markers(path: Path) -> list[tuple[int, str | None, str | None]]:
    """(line, test that runs it, illustrative reason) of each ```python block: the nearest
    `<!-- ... run by tests/X.py ... -->` or `<!-- illustrative: ... -->` of its section (a
    marker before a run of blocks covers them all)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[tuple[int, str | None, str | None]] = []
    in_fence = False
    test: str | None = None
    reason: str | None = None
    for number, line in enumerate(lines, start=1):
        if line.strip().startswith("```"):
            if not in_fence and line.strip() == "```python":
                found.append((number, test, reason))
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if line.startswith("#"):
            test = reason = None  # a new section: its blocks need their own marker
        elif (run_by := RUN_BY.search(line)) is not None:
            test, reason = run_by.group("test"), None
        elif (marker := MARKER.search(line)) is not None:
            test, reason = None, marker.group("reason")
    return found


PYTHON_BLOCKS = [(path, *found) for path in DOCUMENTS for found in python_block_markers(path)]


def test_the_documents_have_python_blocks_to_check() -> None:
    assert len(PYTHON_BLOCKS) >= 8


@pytest.mark.parametrize(("path", "line", "test", "reason"), PYTHON_BLOCKS,
                         ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _, _ in PYTHON_BLOCKS])
def test_every_python_block_is_run_by_a_test_or_marked_illustrative(
        path: Path, line: int, test: str | None, reason: str | None) -> None:
    where = f"{path.relative_to(ROOT)}:{line}"
    assert test or reason, (f"{where}: say which test runs this block "
                            "(<!-- run by tests/....py -->) or why it is <!-- illustrative: ... -->")
    if test is not None:
        runner = ROOT / test
        assert runner.is_file(), f"{where}: {test} does not exist"
        # The test must read this very document, or the marker is a claim nobody checks.
        assert path.name in runner.read_text(encoding="utf-8"), f"{where}: {test} never reads {path.name}"


def test_a_python_block_without_a_marker_is_found(tmp_path: Path) -> None:
    """The check itself: the marker covers its section's blocks only."""
    page = tmp_path / "page.md"
    page.write_text("## One\n\n<!-- run by tests/x.py -->\n```python\n# not a heading\nx = 1\n```\n\n"
                    "```python\ny = 2\n```\n\n## Two\n\n```python\nz = 3\n```\n", encoding="utf-8")
    assert python_block_markers(page) == [(4, "tests/x.py", None), (9, "tests/x.py", None),
                                          (15, None, None)]

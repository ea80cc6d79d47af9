"""YAML reading: aliases are bounded ("billion laughs" is refused), recursion is refused, positions."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_azure import _yaml

MLOPS = str(Path(sys.executable).with_name("mlops"))

# Nine levels of nine: 9**9 (387 million) values once expanded, from under 500 bytes of YAML.
BOMB = "".join(
    [f"l0: &l0 [{', '.join(['lol'] * 9)}]\n"]
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)]
)


def test_plain_documents_and_reused_anchors_load_as_with_safe_load() -> None:
    text = "base: &base {a: 1, b: [x, y]}\nstage: {<<: *base, c: 2}\nother: *base\n"
    assert _yaml.load(text) == {"base": {"a": 1, "b": ["x", "y"]},
                                "stage": {"a": 1, "b": ["x", "y"], "c": 2},
                                "other": {"a": 1, "b": ["x", "y"]}}
    assert _yaml.load("") is None


def test_an_alias_bomb_is_refused_when_composed() -> None:
    with pytest.raises(_yaml.AliasExpansionError, match=r"aliases would add [\d,]+ values"):
        _yaml.load(BOMB)


def test_expansion_up_to_the_limit_is_accepted() -> None:
    def reused(times: int) -> str:  # an anchor of 1,000 nodes, aliased `times` times
        return f"a: &a [{', '.join(['v'] * 999)}]\nb: [{', '.join(['*a'] * times)}]\n"

    limit = _yaml.MAX_ALIAS_EXPANSION // 1000
    assert len(_yaml.load(reused(limit))["b"]) == limit
    with pytest.raises(_yaml.AliasExpansionError):
        _yaml.load(reused(limit + 1))


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(_yaml.AliasExpansionError, match="line 1"):
        _yaml.load("a: &a [1, *a]\n")


def test_a_deeply_nested_document_is_checked_without_recursion() -> None:
    depth = 1000  # libyaml stops at its own nesting limit above this; Python would at 1000 frames
    assert len(_yaml.key_lines("[" * depth + "]" * depth)) == depth - 1


def test_key_lines_give_the_line_and_column_of_each_key_path() -> None:
    places = _yaml.key_lines("a:\n  b: 1\n  c: [x, {d: 2}]\n")
    assert places[("a",)] == (1, 1)
    assert places[("a", "b")] == (2, 3)
    assert places[("a", "c", 1, "d")] == (3, 11)
    assert _yaml.key_lines("a: [unclosed\n") == {}


def _limited() -> None:
    # Were the protection gone, the child would run out of memory here instead of the machine.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_the_cli_refuses_an_alias_bomb_with_exit_2_and_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text(BOMB, encoding="utf-8")
    done = subprocess.run([MLOPS, "config", "validate"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "300"}, timeout=20, preexec_fn=_limited)
    assert done.returncode == 2, done.stderr
    assert "mlops.yaml: refused: its aliases would add" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

"""``mlops maturity``'s table: it fits 80 columns and says what each criterion saw or lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from mlops_azure.cli import commands_maturity, output
from mlops_azure.lifecycle.maturity import CRITERIA, judge
from mlops_azure.lifecycle.maturity_facts import Facts


def test_the_table_fits_80_columns_and_ends_with_the_gap_list(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(output, "console", console)
    commands_maturity._render(judge(Facts(root=tmp_path / ("deep-" * 12)), project="[p]"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "MLOps maturity of [p]" in text and "Level 0: No MLOps" in text
    assert "Level 1 needs:" in text and "- code-versioned:" in text
    # Every criterion has its row (wrapped text: look for the first word of each).
    assert all(c.text.split()[0] in text for c in CRITERIA)

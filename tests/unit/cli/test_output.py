"""Rendering must never choke on text that looks like rich markup (server errors, paths)."""

from __future__ import annotations

import pytest

from mlops_azure.cli import output


def test_tables_fields_and_errors_print_markup_like_text_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    # Regression: a scoring server's error "[/score] failed" raised rich's MarkupError.
    output.table("t", ["detail"], [["HTTP 500: [/score] failed [bold]"]])
    output.fields("f", {"path": "data/[raw]/x.csv"})
    output.error("cannot read [/tmp/x]")
    captured = capsys.readouterr()
    assert "[/score] failed [bold]" in captured.out and "data/[raw]/x.csv" in captured.out
    assert "[/tmp/x]" in captured.err

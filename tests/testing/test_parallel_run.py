"""The local parallel runtime (what the simulated service runs for a ``parallel`` step):
mini-batches by partition keys, init()/run() with the program arguments, retries, thresholds,
append_row."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.execution.parallel import as_command
from mlops_azure.execution.parallel_run import main

ENTRY = textwrap.dedent('''
    import argparse, json, os, time
    state = {}
    def init():
        if os.environ.get("BAD_INIT"):
            raise ValueError("no model here")
        parser = argparse.ArgumentParser()
        parser.add_argument("--tag")
        args, _ = parser.parse_known_args()
        state["tag"] = args.tag
    def run(mini_batch, mini_batch_context):
        keys = mini_batch_context.partition_key_value
        if keys["org"] in os.environ.get("CRASH", "").split(","):
            raise RuntimeError("boom")
        if keys["org"] == os.environ.get("HANG"):
            time.sleep(3600)
        if keys["org"] == os.environ.get("DIE"):
            os._exit(3)
        return [json.dumps({"org": keys["org"], "rows": len(mini_batch), "tag": state["tag"]})]
''')


@pytest.fixture
def table(tmp_path: Path) -> Path:
    folder = tmp_path / "table"
    folder.mkdir()
    (folder / "rows.csv").write_text("org,value\n007,1\n007,2\nB,3\nC,4\n")
    (folder / "MLTable").write_text(textwrap.dedent('''
        paths:
          - file: ./rows.csv
        transformations:
          - read_delimited:
              delimiter: ','
          - convert_column_types:
              - columns: [org]
                column_type: string
    '''))
    (tmp_path / "entry.py").write_text(ENTRY)
    return folder


def _run(tmp_path: Path, table: Path, *extra: str) -> int:
    return main(["--entry_script", str(tmp_path / "entry.py"), "--input_data", str(table),
                 "--partition_keys", "org", "--append_row_to", str(tmp_path / "out"),
                 "--max_retries", "1", *extra, "--", "--tag", "x"])


def test_one_mini_batch_per_key_value_appended(tmp_path: Path, table: Path) -> None:
    assert _run(tmp_path, table) == 0
    lines = (tmp_path / "out" / "parallel_run_step.txt").read_text().splitlines()
    assert sorted(lines) == ['{"org": "007", "rows": 2, "tag": "x"}',  # "007" stays text
                             '{"org": "B", "rows": 1, "tag": "x"}',
                             '{"org": "C", "rows": 1, "tag": "x"}']


def test_failed_mini_batches_over_the_threshold_fail_the_step(
        tmp_path: Path, table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRASH", "B")
    assert _run(tmp_path, table, "--mini_batch_error_threshold", "1") == 0
    assert len((tmp_path / "out" / "parallel_run_step.txt").read_text().splitlines()) == 2
    monkeypatch.setenv("CRASH", "B,C")
    assert _run(tmp_path, table, "--mini_batch_error_threshold", "1") == 1
    # item failures: a failed mini-batch's rows count against error_threshold
    monkeypatch.setenv("CRASH", "007")
    assert _run(tmp_path, table, "--error_threshold", "1") == 1


@pytest.mark.timeout(120)
def test_a_hung_or_dying_mini_batch_loses_its_process_not_the_step(
        tmp_path: Path, table: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HANG", "B")
    monkeypatch.setenv("DIE", "C")
    assert _run(tmp_path, table, "--timeout", "1", "--workers", "2",
                "--mini_batch_error_threshold", "2") == 0
    said = capsys.readouterr().out
    assert "mini-batch 1 (org=B) timed out after 1 s; retry 1/1" in said
    assert "mini-batch 1 (org=B) FAILED: timed out after 1 s" in said
    assert "mini-batch 2 (org=C) FAILED: its process died (exit code 3)" in said
    lines = (tmp_path / "out" / "parallel_run_step.txt").read_text().splitlines()
    assert lines == ['{"org": "007", "rows": 2, "tag": "x"}']  # the others were retried, then failed
    assert _run(tmp_path, table, "--timeout", "1", "--mini_batch_error_threshold", "1") == 1


def test_a_failing_init_fails_the_step(tmp_path: Path, table: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BAD_INIT", "1")
    assert _run(tmp_path, table) == 1
    said = capsys.readouterr().err
    assert "failed: ValueError: no model here" in said and "entry.py" in said


def test_what_azure_refuses_in_a_parallel_step(tmp_path: Path) -> None:
    component = {"inputs": {"data": {"type": "uri_folder"}}, "input_data": "${{inputs.data}}",
                 "partition_keys": ["org"], "task": {"entry_script": "e.py"}}
    with pytest.raises(UserInputError, match="partition_keys need an mltable"):
        as_command("s", component, {}, tmp_path)
    component["inputs"] = {"data": {"type": "mltable"}}
    with pytest.raises(UserInputError, match="mini_batch_error_threshold must be -1"):
        as_command("s", component, {"mini_batch_error_threshold": -5}, tmp_path)
    with pytest.raises(UserInputError, match="input_data must be"):
        as_command("s", {**component, "input_data": "${{inputs.other}}"}, {}, tmp_path)
    spec = as_command("s", component, {"partition_keys": '["org", "x"]'}, tmp_path)
    assert "--partition_keys org,x" in spec["command"]

"""`mlops schedule create | list | delete | run-due` on the embedded workspace (each documented example)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_create_list_delete(project_dir: Path) -> None:
    assert invoke("data", "upload", "data/purchases.csv", "--name", "steel-purchases")[0] == 0
    code, out, _ = invoke("schedule", "create", "nightly", "--cron", "30 2 * * 1-5",
                          "--time-zone", "Europe/Berlin")
    assert code == 0, out
    assert "does not fire them" in out and "mlops schedule run-due" in out
    assert "CRON_TZ=Europe/Berlin" in out and "mlops train --data steel-purchases" in out
    assert 'cron: "30 2 * * 1-5"' in out

    code, out, _ = invoke("--json", "schedule", "create", "weekly", "--every", "1", "--unit", "week")
    assert code == 0
    weekly = json.loads(out)
    assert weekly["when"] == "every week (UTC)" and weekly["fires"] is False
    assert weekly["inputs"]["raw_data"] == "azureml:steel-purchases@latest"
    assert Path(weekly["inputs"]["schema"]).is_file()  # kept by the workspace, not a temp file
    assert weekly["crontab"].startswith("0 0 * * 0 cd ")
    assert weekly["run_due"].startswith("*/5 * * * * cd ")
    assert weekly["run_due"].endswith(" && mlops schedule run-due")

    code, out, _ = invoke("schedule", "list", "--json")
    assert code == 0 and [s["name"] for s in json.loads(out)] == ["nightly", "weekly"]
    code, out, _ = invoke("schedule", "list")
    assert code == 0 and "nightly" in out and "every week (UTC)" in out

    assert invoke("schedule", "delete", "nightly")[0] == 0
    assert [s["name"] for s in json.loads(invoke("schedule", "list", "--json")[1])] == ["weekly"]
    code, out, _ = invoke("--json", "history")
    assert {"schedule.create", "schedule.delete"} <= {e["action"] for e in json.loads(out)}


def test_run_due_with_nothing_due(project_dir: Path) -> None:
    assert invoke("data", "upload", "data/purchases.csv", "--name", "steel-purchases")[0] == 0
    assert invoke("schedule", "create", "weekly", "--every", "1", "--unit", "week")[0] == 0
    code, out, _ = invoke("schedule", "run-due")
    assert code == 0 and "no schedule is due" in out
    code, out, _ = invoke("--json", "schedule", "run-due")
    assert code == 0 and json.loads(out) == []


@pytest.mark.parametrize(("args", "words"), [
    (["bad", "--cron", "0 25 * * *"], "hour field"),
    (["bad", "--cron", "0 2 * *"], "5"),
    (["bad", "--every", "0", "--unit", "day"], "interval"),
    (["bad", "--every", "1", "--unit", "fortnight"], "fortnight"),
    (["bad", "--cron", "0 2 * * *", "--time-zone", "Mars/Base"], "time zone"),
    (["bad name", "--cron", "0 2 * * *"], "name"),
    (["bad", "--cron", "0 2 * * *", "--data", "nothing-here"], "upload one first"),
    (["bad"], "needs --cron"),
])
def test_bad_input_is_one_sentence_with_exit_2(project_dir: Path, args: list[str], words: str) -> None:
    invoke("data", "upload", "data/purchases.csv", "--name", "steel-purchases")
    code, _, err = invoke("schedule", "create", *args)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert json.loads(invoke("--json", "schedule", "list")[1]) == []


def test_deleting_an_unknown_schedule_exits_2(project_dir: Path) -> None:
    code, _, err = invoke("schedule", "delete", "ghost")
    assert code == 2 and "schedule 'ghost' does not exist" in err

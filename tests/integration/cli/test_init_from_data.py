"""`mlops init --data`: a project from the user's table, or one sentence and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.config import load_config

ROWS = "\n".join(f"{i},{'ab'[i % 2]},{i * 0.5},{'yes' if i % 3 else 'no'},2024-{i % 12 + 1:02d}-01"
                 for i in range(40))
TABLE = "id,kind,size,churned,month\n" + ROWS + "\n"


def init(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    data = tmp_path / "table.csv"
    if not data.exists():
        data.write_text(TABLE, encoding="utf-8")
    done = CliRunner().invoke(app, ["--json", "init", str(tmp_path / "p"), "--data", str(data), *args])
    return done.exit_code, done.stdout, done.stderr


def test_a_classifier_project_with_a_time_split(tmp_path: Path) -> None:
    code, out, _ = init(tmp_path, "--target", "churned", "--time-column", "month")
    assert code == 0
    made = json.loads(out)
    assert made["task"] == "classification" and made["metric"] == "auc"
    assert made["id_columns"] == ["id"] and made["features"] == ["size", "kind"]
    config = load_config(tmp_path / "p" / "mlops.yaml")
    assert (config.model.task, config.champion.metric, config.champion.direction) == (
        "classification", "auc", "maximize")
    assert config.data.time_column == "month" and config.data.target == "churned"
    assert config.training.params["time_column"] == "month"
    assert config.monitoring.numeric == ["size"] and config.monitoring.categorical == ["kind"]
    assert "# responsible:" in (tmp_path / "p" / "mlops.yaml").read_text(encoding="utf-8")
    request = json.loads((tmp_path / "p" / "sample-request.json").read_text(encoding="utf-8"))
    assert request["data"][0] == {"size": 0.0, "kind": "a"}
    assert (tmp_path / "p" / "components" / "tabular" / "request.py").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "colour"], "--target 'colour' is not a column of"),
    (["--target", "churned", "--id-columns", "nope"], "--id-columns 'nope' is not a column"),
    (["--target", "kind", "--task", "regression"], "holds text, so it cannot be regressed"),
    (["--target", "size", "--task", "classification"], "only binary classification is supported"),
    (["--target", "churned", "--time-column", "kind"], "are not dates"),
    (["--target", "churned", "--task", "ranking"], "--task must be regression or classification"),
    (["--target", "churned", "--example", "steel"], "--data and --example exclude each other"),
    ([], "--data needs --target COLUMN"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = init(tmp_path, *args)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no staging folder left behind


def test_an_existing_project_is_not_replaced_without_force(tmp_path: Path) -> None:
    assert init(tmp_path, "--target", "churned")[0] == 0
    code, _, err = init(tmp_path, "--target", "size")
    assert code == 2 and "pass --force" in err
    assert load_config(tmp_path / "p" / "mlops.yaml").model.task == "classification"
    assert init(tmp_path, "--target", "size", "--force")[0] == 0
    assert load_config(tmp_path / "p" / "mlops.yaml").model.task == "regression"


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = init(tmp_path, "--target", "churned")
    assert code == 2 and "table.csv" in err


def test_the_commented_responsible_section_is_valid_once_uncommented(tmp_path: Path) -> None:
    """It names only columns that can form groups: a float 'age' would make the config invalid."""
    data = tmp_path / "table.csv"
    data.write_text("age,sex,size,churned\n" + "\n".join(
        f"{20 + i * 0.37:.2f},{1 + i % 2},{i * 0.5},{'yes' if i % 3 else 'no'}" for i in range(40))
        + "\n", encoding="utf-8")
    code, _, err = init(tmp_path, "--target", "churned")
    assert code == 0, err
    config_file = tmp_path / "p" / "mlops.yaml"
    text = config_file.read_text(encoding="utf-8")
    assert "# age may hold one too, but as floats: bin them" in text
    lines = text.splitlines()
    start = lines.index("# responsible:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("#   ")), len(lines))
    lines[start:end] = [line.removeprefix("# ") for line in lines[start:end]]  # that section only
    config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_config(config_file).responsible.sensitive == ["sex"]


def test_project_check_passes_a_made_project_and_catches_a_target_said_twice_differently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert init(tmp_path, "--target", "churned")[0] == 0
    monkeypatch.chdir(tmp_path / "p")
    done = CliRunner().invoke(app, ["project", "check"])
    assert done.exit_code == 0, done.stdout + done.stderr
    config = tmp_path / "p" / "mlops.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("target: churned,", "target: size,"),
                      encoding="utf-8")
    done = CliRunner().invoke(app, ["project", "check"])
    assert done.exit_code == 2
    assert "training.params.target is 'size' but data.target says 'churned'" in done.stdout


def test_a_column_without_values_is_never_monitored(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text(TABLE.replace("month\n", "month,blank\n").replace(
        "-01\n", "-01,\n"), encoding="utf-8")
    code, out, _ = init(tmp_path, "--target", "size")
    assert code == 0 and "'blank' has no values at all" in " ".join(json.loads(out)["notes"])
    config = load_config(tmp_path / "p" / "mlops.yaml")
    assert "blank" in config.data.data_schema.columns
    assert "blank" not in [*(config.monitoring.numeric or []), *(config.monitoring.categorical or [])]

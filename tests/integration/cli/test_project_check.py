"""``mlops project check`` catches each break of the contract in one sentence (exit 2), without
running anything; ``mlops train`` catches the champion metric before submitting and a wrong
metrics.json right after the job."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def check(runner: CliRunner, *options: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*options, "project", "check"])
    return result.exit_code, result.stdout, result.stderr


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new), encoding="utf-8")


def test_the_example_project_keeps_the_contract(runner: CliRunner, project_dir: Path) -> None:
    code, out, _ = check(runner)
    assert code == 0 and "project OK" in out
    code, out, _ = check(runner, "--json")
    found = json.loads(out)
    assert code == 0 and found["ok"] and found["findings"] == []
    assert {"pipelines/training.yml", "components/evaluate/evaluate.yml",
            "components/score/score.py", ".azure-pipelines/release.yml"} <= set(found["checked"])


def test_an_mlops_line_of_a_pipeline_the_cli_would_refuse(
        runner: CliRunner, project_dir: Path) -> None:
    release = project_dir / ".azure-pipelines" / "release.yml"
    edit(release, 'mlops deploy "$MODEL_REF" --stage staging',
         'mlops deploy "$MODEL_REF" --stag staging')
    (project_dir / ".azure-pipelines" / "broken.yml").write_text("steps: [\n", encoding="utf-8")
    code, out, _ = check(runner)
    number = release.read_text(encoding="utf-8").splitlines().index(
        '                mlops deploy "$MODEL_REF" --stag staging') + 1
    assert code == 2
    assert (f".azure-pipelines/release.yml:{number}: `mlops deploy \"$MODEL_REF\" --stag staging` "
            "is not a valid mlops command: No such option: --stag") in out
    assert ".azure-pipelines/broken.yml: not readable as YAML" in out


def test_the_pipelines_at_the_top_of_the_repository_are_checked_too(
        runner: CliRunner, tmp_path: Path, project_dir: Path) -> None:
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True, timeout=60)
    top = tmp_path / ".github" / "workflows"
    top.mkdir(parents=True)
    (top / "ci.yml").write_text("jobs:\n  t:\n    steps:\n      - run: mlops trian\n",
                                encoding="utf-8")
    code, out, _ = check(runner)
    assert code == 2 and "../.github/workflows/ci.yml:4: `mlops trian` is not a valid" in out


def test_a_missing_pipeline_output(runner: CliRunner, project_dir: Path) -> None:
    pipeline = project_dir / "pipelines" / "training.yml"
    edit(pipeline, "  metrics:\n    type: uri_folder", "  scores:\n    type: uri_folder")
    edit(pipeline, "${{parent.outputs.metrics}}", "${{parent.outputs.scores}}")
    code, out, err = check(runner)
    assert code == 2
    assert "pipelines/training.yml: outputs.metrics is missing (mlops reads metrics.json from it)" in out
    assert "1 error(s)" in err


def test_a_champion_metric_the_evaluate_step_does_not_write(
    runner: CliRunner, project_dir: Path
) -> None:
    edit(project_dir / "mlops.yaml", "  metric: wape\n  direction: minimize",
         "  metric: mape\n  direction: minimize")
    code, out, _ = check(runner, "--json")
    assert code == 2
    [finding] = json.loads(out)["findings"]
    assert finding == {"severity": "error", "check": "metric", "message":
                       "champion.metric 'mape' is not among the metrics "
                       "components/evaluate/evaluate.yml declares (mae, rmse, wape)"}


def test_an_evaluate_component_without_the_tag_is_a_warning(
    runner: CliRunner, project_dir: Path
) -> None:
    edit(project_dir / "components" / "evaluate" / "evaluate.yml",
         "tags:\n  mlops.metrics: mae,rmse,wape\n", "")
    code, out, _ = check(runner)
    assert code == 0
    assert "declares no metrics (tags: mlops.metrics)" in out and "project OK" in out


def test_a_metric_direction_contradiction(runner: CliRunner, project_dir: Path) -> None:
    edit(project_dir / "mlops.yaml", "  metric: wape\n  direction: minimize",
         "  metric: rmse\n  direction: maximize")
    code, out, err = check(runner)
    assert code == 2
    assert "champion" in out and "direction" in out and "1 error(s)" in err


def test_a_score_script_without_run(runner: CliRunner, project_dir: Path) -> None:
    edit(project_dir / "components" / "score" / "score.py", "def run(raw_data", "def score(raw_data")
    code, out, _ = check(runner)
    assert code == 2
    assert ("components/score/score.py has no top-level run() function "
            "(stages.staging.scoring_script needs init(), run())") in out


def test_a_score_script_that_does_not_parse_is_not_imported(
    runner: CliRunner, project_dir: Path
) -> None:
    script = project_dir / "components" / "score" / "score.py"
    script.write_text("raise SystemExit('imported')\ndef init(:\n", encoding="utf-8")
    code, out, _ = check(runner)
    assert code == 2 and "components/score/score.py is not valid Python (line 2" in out


def test_a_component_whose_script_is_missing(runner: CliRunner, project_dir: Path) -> None:
    (project_dir / "components" / "prep" / "prep.py").unlink()
    code, out, _ = check(runner)
    assert code == 2 and "command runs components/prep/prep.py, which does not exist" in out


def test_train_refuses_an_undeclared_champion_metric_before_submitting(
    runner: CliRunner, project_dir: Path
) -> None:
    edit(project_dir / "mlops.yaml", "  metric: wape\n  direction", "  metric: mape\n  direction")
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2
    assert "champion.metric 'mape' is not among the metrics components/evaluate/evaluate.yml " \
           "declares (mae, rmse, wape)" in result.stderr
    assert json.loads(runner.invoke(app, ["--json", "jobs", "list"]).stdout) == []


def test_train_catches_a_wrong_metrics_key_right_after_the_job(
    runner: CliRunner, project_dir: Path
) -> None:
    # Without the tag nothing is known before the run; metrics.json is checked after it.
    edit(project_dir / "components" / "evaluate" / "evaluate.yml",
         "tags:\n  mlops.metrics: mae,rmse,wape\n", "")
    edit(project_dir / "mlops.yaml", "  metric: wape\n  direction", "  metric: mape\n  direction")
    result = runner.invoke(app, ["train", "-p", "n_estimators=20"])
    assert result.exit_code == 2
    assert ("output metrics/metrics.json: field 'candidate' has no 'mape' (champion.metric); "
            "it has mae, rmse, rows, wape") in result.stderr
    assert json.loads(runner.invoke(app, ["--json", "models", "list"]).stdout) == []


def test_a_tuning_section_azure_would_refuse(runner: CliRunner, project_dir: Path) -> None:
    config = project_dir / "mlops.yaml"
    with config.open("a", encoding="utf-8") as handle:
        handle.write("\ntuning:\n  search_space:\n    num_leaves: {type: choice, values: [15, 31]}\n"
                     "  sampling_algorithm: grid\n  limits: {max_total_trials: 4}\n")
    code, out, _ = check(runner)
    assert code == 0 and "project OK" in out
    edit(config, "num_leaves: {type: choice, values: [15, 31]}",
         "num_leaves: {type: uniform, min_value: 15, max_value: 31}")
    code, out, _ = check(runner, "--json")
    [finding] = json.loads(out)["findings"]
    assert code == 2 and finding["check"] == "tuning"
    assert "tuning.search_space.num_leaves: 'num_leaves' is an integer input" in finding["message"]

"""`mlops experiments list` and `compare` on the embedded workspace: real training jobs (registered,
not better, failed), their holdout metrics as the gate read them, and bad input as one sentence
with nothing written."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops_azure.backends import open_workspace
from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.config import load_config

MODEL = "steel-purchase-forecast"


def mlops(*args: str, code: int | None = 0) -> Any:
    try:
        done = CliRunner().invoke(app, list(args))
    finally:
        STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process
    if code is None:
        assert done.exit_code in (0, 1), done.stderr[-2000:] or done.stdout[-2000:]
        return done
    assert done.exit_code == code, done.stderr[-2000:] or done.stdout[-2000:]
    if code == 0 and "--json" in args:
        return json.loads(done.stdout)
    return done


@pytest.fixture(scope="module")
def runs_dir(trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The trained project (v1: 60 trees, v2: 200 trees) plus a run that was not better and one
    that failed in its train step, newest first: failed, not better, v2, v1."""
    root = tmp_path_factory.mktemp("experiments") / "proj"
    shutil.copytree(trained_template, root, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        mlops("train", "-p", "n_estimators=200")  # same model again: not better, not registered
        mlops("train", "-p", "num_leaves=1", code=1)  # LightGBM refuses: the job fails
        yield root


def test_list_shows_each_run_with_its_data_params_metrics_and_model(
        runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(runs_dir)
    runs = mlops("experiments", "list", "--json")
    assert [r["status"] for r in runs] == ["Failed", "Completed", "Completed", "Completed"]
    failed, again, v2, v1 = runs
    assert [r["registered"] for r in runs] == [None, None, f"{MODEL}:2", f"{MODEL}:1"]
    assert failed["metrics"] is None and failed["params"]["num_leaves"] == 1
    assert (v1["params"]["n_estimators"], v2["params"]["n_estimators"]) == (60, 200)
    assert {"raw_data", "schema", "champion_model"}.isdisjoint(v2["params"])
    assert {r["data"] for r in runs} == {"steel-purchases:1"}
    # The metrics the gate judged are those the registry recorded for the version.
    config = load_config(runs_dir / "mlops.yaml")
    registry = {m.ref: m.metrics for m in open_workspace(config).models.versions(MODEL)}
    for run in (v1, v2):
        assert run["metrics"] == pytest.approx(dict(registry[run["registered"]]))
    assert again["metrics"]["wape"] == pytest.approx(v2["metrics"]["wape"])
    assert all(r["sweep"] is None and r["studies"] == [] for r in runs)

    assert len(mlops("experiments", "list", "--json", "--limit", "2")) == 2
    assert mlops("experiments", "list", "--json", "--experiment", "elsewhere") == []
    table = mlops("experiments", "list").stdout
    assert "Runs of steel-forecast" in table and f"{MODEL}:2" in table


def test_compare_runs_side_by_side_with_an_html_page(runs_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(runs_dir)
    ids = [r["job_id"] for r in mlops("experiments", "list", "--json")]
    page = tmp_path / "out" / "runs.html"
    found = mlops("--json", "experiments", "compare", ids[3], ids[2], ids[3], "--html", str(page))
    assert [r["job_id"] for r in found["runs"]] == [ids[3], ids[2]]  # as named, once each
    assert found["studies"] == [] and found["html"] == str(page)
    html = page.read_text(encoding="utf-8")
    assert all(job in html for job in ids[2:]) and "<svg" not in html  # no study, no plot
    last = mlops("experiments", "compare", "--last", "2", "--json")
    assert [r["job_id"] for r in last["runs"]] == ids[:2]
    table = mlops("experiments", "compare", ids[0], ids[2]).stdout
    assert "param num_leaves" in table and "registered" in table


def test_a_study_is_found_by_its_name_and_listed_with_its_job(
        runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    shutil.copytree(runs_dir, root, symlinks=True)
    monkeypatch.chdir(root)
    with open("mlops.yaml", "a", encoding="utf-8") as config:
        config.write("\ntuning:\n  search_space:\n    num_leaves: {type: choice, values: [7, 15, 31]}\n"
                     "    learning_rate: {type: uniform, min_value: 0.02, max_value: 0.2}\n"
                     "  limits: {max_total_trials: 8, max_concurrent_trials: 2}\n"
                     "  early_termination: {type: median_stopping, delay_evaluation: 20}\n")
    mlops("train", "-p", "n_estimators=60", code=None)  # registered or not: the study is the point
    newest = mlops("experiments", "list", "--json")[0]
    study = open_workspace(load_config(root / "mlops.yaml")).jobs.studies(newest["job_id"])[0]
    best = study.best
    assert best is not None and best.value is not None and len(study.trials) == 8
    assert newest["sweep"] == f"sweep: 8 trials, best wape={best.value:.4g}"
    assert newest["studies"] == [study.name]
    assert {k: newest["params"][k] for k in best.params} == dict(best.params)

    page = tmp_path / "study.html"
    found = mlops("experiments", "compare", study.name, "--json", "--html", str(page))
    assert found["runs"] == [] and found["studies"] == [study.to_dict()]
    html = page.read_text(encoding="utf-8")
    for plot in ("history", "parallel", "importance"):
        assert f'data-plot="{plot}"' in html
    table = mlops("experiments", "compare", study.name).stdout
    assert f"Trials of {study.name}" in table


def test_bad_input_is_one_sentence_and_writes_nothing(runs_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(runs_dir)
    job = mlops("experiments", "list", "--json")[1]["job_id"]
    page = tmp_path / "page.html"
    done = mlops("experiments", "compare", job, "no-such-run", "--html", str(page), code=2)
    assert "'no-such-run' is neither a job id nor the name of a study of experiment " \
           "'steel-forecast'" in done.stderr and "Traceback" not in done.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    done = mlops("experiments", "compare", job, "--html", str(blocker / "page.html"), code=2)
    assert f"cannot write --html {blocker / 'page.html'}" in done.stderr
    (tmp_path / "a-folder").mkdir()
    done = mlops("experiments", "compare", job, "--html", str(tmp_path / "a-folder"), code=2)
    assert "cannot write --html" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]
    assert list((tmp_path / "a-folder").iterdir()) == []  # no temporary file left behind
    done = mlops("experiments", "compare", code=2)
    assert "name at least one run (job id) or study to compare, or --last N" in done.stderr


def test_a_project_made_from_a_table_lists_and_compares_its_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    draw = random.Random(1)
    rows = ["id,kind,size,price"]
    for i in range(300):
        kind, size = "abc"[i % 3], draw.uniform(0, 10)
        rows.append(f"{i},{kind},{size:.3f},{3 * size + 5 * (kind == 'a') + draw.gauss(0, 1):.3f}")
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    mlops("init", str(tmp_path / "own"), "--data", str(tmp_path / "table.csv"), "--target", "price")
    monkeypatch.chdir(tmp_path / "own")
    mlops("train", "-p", "n_estimators=50")
    [run] = mlops("experiments", "list", "--json")
    assert run["experiment"] == "own" and run["registered"] == "own-model:1"
    assert run["data"] == "own-data:1" and run["params"]["n_estimators"] == 50
    assert set(run["metrics"]) >= {"rmse", "mae"}  # rmse: the project's champion.metric
    found = mlops("experiments", "compare", "--last", "1", "--json", "--html", "runs.html")
    assert found["runs"] == [run] and (tmp_path / "own" / "runs.html").is_file()

"""The comparison page from studies of real Optuna runs: three plots per study drawn from the
trials, importances from fANOVA, nothing loaded from anywhere, the same bytes every time."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, datetime
from typing import Any

import optuna
import pytest

from mlops_azure.lifecycle.experiments import Comparison, Run, sweep_summary
from mlops_azure.lifecycle.experiments_html import render_page
from mlops_azure.lifecycle.experiments_importance import distribution, param_importances
from mlops_azure.records_tuning import Study, TrialState
from mlops_azure.responsible._plots_svg import fmt
from mlops_azure.workspace import JobStatus
from tests.support.studies import SEARCH_SPACE, optuna_study, to_record


@pytest.fixture(scope="module")
def study() -> Study:
    return optuna_study(16)


def _svg(page: str, plot: str) -> str:
    found = re.findall(rf'<svg data-plot="{plot}".*?</svg>', page, re.S)
    assert len(found) == 1, f"{plot}: {len(found)} plots"
    return found[0]


def test_each_plot_draws_the_trials_it_should(study: Study) -> None:
    page = render_page(Comparison((), (study,)))
    with_value = [t for t in study.trials if t.value is not None]
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert study.count(TrialState.PRUNED) >= 1  # the median pruner stopped some

    history = _svg(page, "history")
    dots = re.findall(r'<circle class="mark"[^>]*fill="([^"]+)"', history)
    assert len(dots) == len(with_value)
    assert dots.count("#fff") == study.count(TrialState.PRUNED)  # pruned: hollow
    assert history.count('<path class="mark"') == 1  # the best-so-far line
    best = study.best
    assert best is not None and f"best wape so far: {fmt(best.value, 4)}</title>" in history

    parallel = _svg(page, "parallel")
    assert parallel.count('<path class="mark"') == len(complete)
    assert "learning_rate (log)" in parallel and "n_estimators (log)" not in parallel
    for leaves in (">15<", ">31<", ">63<", ">127<"):  # the declared choices, as categories
        assert leaves in parallel

    bars = re.findall(r'<rect class="mark"', _svg(page, "importance"))
    assert len(bars) == len(SEARCH_SPACE)
    for trial in study.trials:  # every trial is a row of the table
        assert f"<td>{trial.number}</td><td>{trial.state.value.lower()}</td>" in page


def test_the_page_is_self_contained_and_reproducible(study: Study) -> None:
    page = render_page(Comparison((), (study,)))
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert "default-src 'none'" in page
    assert render_page(Comparison((), (study,))) == page


def test_importances_find_the_parameter_that_matters() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    # y is noise: x decides the value.
    run.optimize(lambda t: (t.suggest_float("x", -3, 3) ** 2
                            + 0.01 * t.suggest_float("y", -3, 3)), n_trials=30)
    record = dataclasses.replace(to_record(run, name="x-matters", job_id="j"),
                                 search_space={"x": {"type": "uniform", "min_value": -3,
                                                     "max_value": 3},
                                               "y": {"type": "uniform", "min_value": -3,
                                                     "max_value": 3}})
    found = param_importances(record)
    assert found is not None and list(found) == ["x", "y"]
    assert found["x"] > 0.9 and math.isclose(sum(found.values()), 1.0, rel_tol=1e-6)


def test_too_few_completed_trials_give_a_sentence_not_a_plot(study: Study) -> None:
    first = next(t for t in study.trials if t.state is TrialState.COMPLETE)
    lonely = dataclasses.replace(study, trials=(first,), best_trial=first.number)
    assert param_importances(lonely) is None
    page = render_page(Comparison((), (lonely,)))
    assert 'data-plot="importance"' not in page
    assert "Importances need at least 2 completed trials" in page
    assert 'data-plot="history"' in page and 'data-plot="parallel"' in page
    empty = dataclasses.replace(study, trials=(), best_trial=None)
    page = render_page(Comparison((), (empty,)))
    assert "<svg" not in page and "No trial reported a value yet." in page
    assert sweep_summary(empty) == "sweep: 0 trials, best wape=-"


def test_distributions_follow_azure_ml_search_space_types() -> None:
    log = distribution(SEARCH_SPACE["learning_rate"], [0.05])
    assert log.log and math.isclose(log.low, math.exp(-4.6)) and math.isclose(log.high, math.exp(-1.6))
    randint = distribution(SEARCH_SPACE["min_data_in_leaf"], [3, 40])
    assert (randint.low, randint.high) == (0, 49)
    choice = distribution(SEARCH_SPACE["num_leaves"], [31, 255])  # a value outside is kept
    assert choice.choices == (15, 31, 63, 127, 255)
    assert distribution(None, ["gbdt", "dart"]).choices == ("gbdt", "dart")


def test_hostile_names_stay_text(study: Study) -> None:
    hostile = dataclasses.replace(study, name="<script>alert(1)</script>",
                                  metric="<b>wape</b>")
    run = Run(job_id="<img src=x>", experiment="e", status=JobStatus.COMPLETED,
              created_at=datetime(2025, 1, 1, tzinfo=UTC), data="d:1",
              params={"p": "<i>"}, metrics={"<m>": 1.0}, registered=None)
    page = render_page(Comparison((run,), (hostile,)))
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_json_is_the_study_as_the_seam_gives_it(study: Study) -> None:
    document: dict[str, Any] = Comparison((), (study,)).to_dict()
    assert document == {"runs": [], "studies": [study.to_dict()]}


def test_a_maximised_study_keeps_its_highest_value_as_the_best_so_far() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=5))
    run.optimize(lambda t: -((t.suggest_float("x", -3, 3) - 1) ** 2), n_trials=12)
    record = to_record(run, name="up", job_id="j")
    assert record.goal == "maximize" and record.best_trial == run.best_trial.number
    history = _svg(render_page(Comparison((), (record,))), "history")
    assert f"best wape so far: {fmt(run.best_value, 4)}</title>" in history

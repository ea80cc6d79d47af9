"""Explanations and the model card, measured in one run on the example model.

1. Per-row SHAP values for 100,000 rows: LightGBM's own exact tree SHAP
   (``Booster.predict(pred_contrib=True)``, what mlops uses) against ``shap.TreeExplainer`` (the
   peer), on the same booster and the same float matrix, after a warm-up on 1,000 rows. LightGBM
   runs with its default threads (all cores) and with one thread. For a LightGBM booster,
   ``TreeExplainer.shap_values`` hands the work to ``pred_contrib`` itself, so the benchmark also
   runs shap's own tree SHAP (its internal tree ensemble): on the example model, whose categorical
   splits it cannot represent (its answer is printed as the largest error), and on a model of the
   same data with the numeric features only, where both are exact.
2. The model card of the example model: the responsible-ML analysis (fairlearn's MetricFrame per
   sensitive feature, the cohort search) on its holdout, then the Markdown and HTML renderings.

The model is the example's: `mlops init`'s data generator (4 organisations x 25 customers x 6
materials x 48 months), the project's own prep and train code (300 trees). The 100,000 rows are
its holdout rows repeated.

Usage: python benchmarks/bench_explain.py [ROWS]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "steel" / "components"))

from steel.explain import contributions, explanations  # noqa: E402
from steel.features import (  # noqa: E402
    CATEGORICAL,
    NUMERIC,
    FeatureSpec,
    add_features,
    category_lists,
    clean,
    split_by_period,
)
from steel.model_io import LoadedModel  # noqa: E402
from tabular.frame import encode  # noqa: E402
from train.train import fit  # noqa: E402

from mlops_azure.config import load_config  # noqa: E402
from mlops_azure.example import write_purchases  # noqa: E402


def timed(action: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    """(median seconds over ``runs``, the last result)."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


PARAMS = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
          "seed": 42, "deterministic": True, "force_row_wise": True, "verbosity": -1}


def example_model(folder: Path) -> tuple[LoadedModel, pd.DataFrame, pd.DataFrame]:
    data = write_purchases(folder / "purchases.csv", organisations=4, customers_per_organisation=25)
    frame = pd.read_csv(data, dtype={c: str for c in ["period", *CATEGORICAL]})
    cleaned, _ = clean(frame)
    train, holdout = split_by_period(add_features(cleaned), 6)
    spec = FeatureSpec(features=[*CATEGORICAL, *NUMERIC], categorical_features=list(CATEGORICAL),
                       categories=category_lists(train))
    booster = fit(PARAMS, spec, train, 300, None)
    return LoadedModel(booster, spec, folder), train, holdout


def _own_shap(booster: Any) -> Any:
    """``shap.TreeExplainer`` made to use its own tree SHAP instead of LightGBM's."""
    import shap

    explainer = shap.TreeExplainer(booster)
    explainer.model.model_type = "internal"
    return explainer


def bench_shap(model: LoadedModel, train: pd.DataFrame, holdout: pd.DataFrame,
               rows: int) -> dict[str, float]:
    import shap

    repeats = -(-rows // len(holdout))
    many = pd.concat([holdout] * repeats, ignore_index=True).head(rows)
    matrix = encode(many, model.spec)
    warm = matrix.head(1000)
    contributions(model.booster, warm)
    explainer = shap.TreeExplainer(model.booster)
    explainer.shap_values(warm)
    ours, values = timed(lambda: contributions(model.booster, matrix), runs=1)
    single, _ = timed(lambda: np.asarray(model.booster.predict(matrix, pred_contrib=True,
                                                               num_threads=1)), runs=1)
    theirs, peer = timed(lambda: explainer.shap_values(matrix), runs=1)
    sample = matrix.head(2000)
    own_error = np.max(np.abs(_own_shap(model.booster).shap_values(sample, check_additivity=False)
                              - values[:2000, :-1]))
    # The same data and parameters with the numeric features only: shap's own algorithm is
    # exact there, so its speed can be compared fairly.
    numeric = FeatureSpec(features=list(NUMERIC), categorical_features=[], categories={})
    plain = fit(PARAMS, numeric, train, 300, None)
    numeric_matrix = encode(many, numeric)
    plain_ours, plain_values = timed(lambda: contributions(plain, numeric_matrix), runs=1)
    own = _own_shap(plain)
    own.shap_values(numeric_matrix.head(1000))
    plain_theirs, plain_peer = timed(lambda: own.shap_values(numeric_matrix), runs=1)
    return {"rows": float(len(matrix)), "ours": ours, "ours_1_thread": single, "shap": theirs,
            "max_abs_diff": float(np.max(np.abs(values[:, :-1] - peer))),
            "own_error": float(own_error), "numeric_ours": plain_ours,
            "numeric_own": plain_theirs,
            "numeric_diff": float(np.max(np.abs(plain_values[:, :-1] - plain_peer)))}


def bench_card(model: LoadedModel, holdout: pd.DataFrame) -> dict[str, float]:
    from mlops_azure.responsible import ModelCard, analyse, render_html, render_markdown, with_verdict

    config = load_config(ROOT / "examples" / "steel" / "mlops.yaml")
    assert config.responsible is not None
    predictions = holdout[["segment", "region", "company_size", "material_id",
                           "quantity_tonnes"]].copy()
    predictions["candidate"] = model.predict(holdout)
    explain_s, explained = timed(lambda: explanations(model, holdout), runs=1)
    analyse(predictions.head(500), config.responsible, y_true="quantity_tonnes",
            y_pred="candidate")  # imports fairlearn and scikit-learn once

    def analysis() -> Any:
        report = analyse(predictions, config.responsible, y_true="quantity_tonnes",
                         y_pred="candidate", explanations=explained)
        return with_verdict(report, config.responsible.policy, at="registration")

    analyse_s, report = timed(analysis)
    card = ModelCard(name="steel-purchase-forecast", version="1", responsible=report.to_dict(),
                     metrics={"wape": 0.25})
    html_s, html = timed(lambda: render_html(card), runs=5)
    markdown_s, _ = timed(lambda: render_markdown(card), runs=5)
    return {"holdout_rows": float(len(holdout)), "explanations": explain_s, "analyse": analyse_s,
            "html": html_s, "markdown": markdown_s, "html_kib": len(html.encode()) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model, train, holdout = example_model(Path(tmp))
        print(f"# bench_explain on {platform.processor() or platform.machine()}, "
              f"python {platform.python_version()}")
        shap_figures = bench_shap(model, train, holdout, args.rows)
        rows = int(shap_figures["rows"])
        print(f"\nSHAP values for {rows:,} rows x {len(model.spec.features)} features "
              f"(300 trees, 31 leaves):")
        print("| method | wall time | rows/s | vs pred_contrib |\n|---|---:|---:|---:|")
        for name, key in (("LightGBM pred_contrib (default threads)", "ours"),
                          ("LightGBM pred_contrib, 1 thread", "ours_1_thread"),
                          ("shap.TreeExplainer.shap_values", "shap")):
            seconds = shap_figures[key]
            print(f"| {name} | {seconds:.2f} s | {rows / seconds:,.0f} | "
                  f"{seconds / shap_figures['ours']:.1f}x |")
        print(f"largest difference between the two: {shap_figures['max_abs_diff']:.2e} "
              "(TreeExplainer calls pred_contrib for a LightGBM booster)")
        print(f"shap's own tree SHAP on this model (categorical splits): largest error "
              f"{shap_figures['own_error']:.3g} tonnes on 2,000 rows")
        print(f"\nThe numeric features only ({len(NUMERIC)}), same data and parameters:")
        print("| method | wall time | rows/s | vs pred_contrib |\n|---|---:|---:|---:|")
        for name, key in (("LightGBM pred_contrib (default threads)", "numeric_ours"),
                          ("shap's own tree SHAP (TreeExplainer, internal)", "numeric_own")):
            seconds = shap_figures[key]
            print(f"| {name} | {seconds:.2f} s | {rows / seconds:,.0f} | "
                  f"{seconds / shap_figures['numeric_ours']:.1f}x |")
        print(f"largest difference: {shap_figures['numeric_diff']:.2e}")
        card = bench_card(model, holdout)
        print(f"\nModel card of the example model ({int(card['holdout_rows']):,} holdout rows, "
              "3 sensitive features, 4 cohort features):")
        print("| part | wall time |\n|---|---:|")
        for name, key in (("explanations (evaluate step: importance, SHAP summary)", "explanations"),
                          ("responsible-ML analysis + verdict", "analyse"),
                          ("HTML card", "html"), ("Markdown card", "markdown")):
            print(f"| {name} | {card[key] * 1000:.0f} ms |")
        print(f"HTML card size: {card['html_kib']:.0f} KiB")


if __name__ == "__main__":
    main()

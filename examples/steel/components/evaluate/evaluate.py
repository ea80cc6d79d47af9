"""Score the candidate model, and the champion when given, on the same holdout.

Writes ``metrics.json``, ``predictions.csv`` (the holdout's raw columns, so quality can be read
per group, with each model's predictions) and ``explanations.json`` (the candidate's importance and
SHAP values) to the ``metrics`` folder. Each model encodes the holdout with its own
``features.json``: the champion may have been trained on other data.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steel.explain import explanations
from steel.features import KEYS, RAW_COLUMNS, TARGET, read_frame
from steel.metrics import regression_metrics
from steel.model_io import load_model
from tabular.model_io import candidate_and_champion
from tabular.step import StepError, output_folder, prefixed, run_step, write_json, write_text

EXPLAINED_ROWS = 5_000


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the candidate model folder")
    parser.add_argument("--prepared", type=Path, required=True, help="the prep step's output folder")
    parser.add_argument("--champion_model", type=Path, default=None,
                        help="the model to beat (optional)")
    parser.add_argument("--metrics", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    candidate, champion = candidate_and_champion(load_model, args.model, args.champion_model)
    holdout_file = args.prepared / "holdout.csv"
    holdout = read_frame(holdout_file, "holdout", [*KEYS, TARGET])
    if holdout.empty:
        raise StepError(f"holdout {holdout_file} has no rows")
    actual = holdout[TARGET].to_numpy(dtype="float64")

    # Every raw column the holdout has: responsible-ML checks read quality per group from here.
    predictions = holdout[[c for c in RAW_COLUMNS if c in holdout.columns]].copy()
    metrics: dict[str, Any] = {"champion": None}
    for role, model in (("candidate", candidate), ("champion", champion)):
        if model is not None:
            with prefixed(f"{role} model cannot score the holdout: "):
                predictions[role] = model.predict(holdout)
            metrics[role] = regression_metrics(actual, predictions[role].to_numpy())
    periods = holdout["period"]
    metrics["holdout"] = {
        "start": str(periods.min()), "end": str(periods.max()), "rows": len(holdout),
        "sha256": hashlib.sha256(holdout_file.read_bytes()).hexdigest(),
    }

    # Where the per-row evidence is, for checks that read quality per group (responsible ML).
    metrics["predictions"] = {"file": "predictions.csv", "actual": TARGET, "predicted": "candidate"}
    out = output_folder(args.metrics, "metrics")
    write_text(out / "predictions.csv", predictions.to_csv(index=False, lineterminator="\n"))
    write_json(out / "metrics.json", metrics)
    # SHAP over at most EXPLAINED_ROWS holdout rows spread evenly: importance needs the spread.
    step = max(1, -(-len(holdout) // EXPLAINED_ROWS))
    write_json(out / "explanations.json", explanations(candidate, holdout.iloc[::step]))
    line = ", ".join(f"{k}={v:.4f}" for k, v in metrics["candidate"].items() if k != "rows")
    print(f"evaluate: candidate {line} on {len(holdout)} holdout rows")
    if metrics["champion"] is not None:
        line = ", ".join(f"{k}={v:.4f}" for k, v in metrics["champion"].items() if k != "rows")
        print(f"evaluate: champion  {line}")


if __name__ == "__main__":
    sys.exit(run_step("evaluate", main))

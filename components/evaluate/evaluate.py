"""Score the candidate model, and the champion when given, on the same holdout.

Writes ``metrics.json`` (each model's metrics, see ``tabular.metrics.METRICS``), ``predictions.csv``
(the holdout's columns with each model's predictions, so quality can be read per group) and
``explanations.json`` (the candidate's importance and SHAP values) to the ``metrics`` folder. Each
model encodes the holdout with its own ``features.json``: the champion may have been trained on
other data. For a classifier, ``actual`` and ``candidate`` are 1 for the positive class, and
``candidate_probability`` is its probability.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabular.explain import explanations
from tabular.frame import read_frame
from tabular.metrics import task_metrics
from tabular.model_io import candidate_and_champion, load_model
from tabular.step import StepError, output_folder, prefixed, run_step, write_json, write_text

EXPLAINED_ROWS = 5_000


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the candidate model folder")
    parser.add_argument("--prepared", type=Path, required=True, help="the prep step's output folder")
    parser.add_argument("--champion_model", type=Path, default=None, help="the model to beat (optional)")
    parser.add_argument("--metrics", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    candidate, champion = candidate_and_champion(load_model, args.model, args.champion_model)
    spec = candidate.spec
    holdout_file = args.prepared / "holdout.csv"
    holdout = read_frame(holdout_file, "holdout", [spec.target], spec.text_columns)
    if holdout.empty:
        raise StepError(f"holdout {holdout_file} has no rows")
    classifier = spec.task == "classification"
    actual = spec.label_codes(holdout) if classifier else holdout[spec.target].to_numpy(dtype="float64")

    predictions = holdout.copy()
    if classifier:
        predictions["actual"] = actual.astype(int)
    metrics: dict[str, Any] = {"task": spec.task, "champion": None}
    for role, model in (("candidate", candidate), ("champion", champion)):
        if model is None:
            continue
        with prefixed(f"{role} model cannot score the holdout: "):
            scored = model.predict(holdout)
        metrics[role] = task_metrics(spec.task, actual, scored)
        if classifier:
            predictions[f"{role}_probability"] = scored
            predictions[role] = (scored >= 0.5).astype(int)
        else:
            predictions[role] = scored
    holdout_info = {"rows": len(holdout), "sha256": hashlib.sha256(holdout_file.read_bytes()).hexdigest(),
                    "split": spec.holdout.get("split", "")}
    if spec.time_column:
        times = holdout[spec.time_column]
        holdout_info.update(start=str(times.min()), end=str(times.max()))
    metrics["holdout"] = holdout_info
    # Where the per-row evidence is, for checks that read quality per group (responsible ML).
    metrics["predictions"] = {"file": "predictions.csv", "actual": "actual" if classifier else spec.target,
                              "predicted": "candidate"}
    out = output_folder(args.metrics, "metrics")
    write_text(out / "predictions.csv", predictions.to_csv(index=False, lineterminator="\n"))
    write_json(out / "metrics.json", metrics)
    # SHAP over at most EXPLAINED_ROWS holdout rows spread evenly: importance needs the spread.
    step = max(1, -(-len(holdout) // EXPLAINED_ROWS))
    write_json(out / "explanations.json", explanations(candidate, holdout.iloc[::step]))
    for role in ("candidate", "champion"):
        if metrics.get(role):
            line = ", ".join(f"{k}={v:.4f}" for k, v in metrics[role].items() if k != "rows")
            print(f"evaluate: {role:9} {line} on {len(holdout)} holdout rows")


if __name__ == "__main__":
    sys.exit(run_step("evaluate", main))

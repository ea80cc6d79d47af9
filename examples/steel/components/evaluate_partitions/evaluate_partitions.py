"""The champion gate per partition: score candidate and champion partition by partition on the
same holdout, and assemble the model to register from the winners.

For every partition that either model has (and for the global model), both are scored on that
partition's holdout rows with their own model for it. The candidate's model replaces the
champion's only where it is better by the policy (``improved``); elsewhere the champion's stays
(``stayed``: not better enough; ``regressed``: worse; ``failed``/``fallback``: the candidate has no
model there). A partition only the candidate has is judged against the champion's coarser model
for its rows (its parent's, or a single model's) and joins only if better; with no champion at
all it is ``new``. The ``model`` output is that
assembly, a complete partitioned model; ``metrics.json`` holds both models' routed metrics on the
whole holdout, the per-partition decisions and their counts.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from steel.features import KEYS, RAW_COLUMNS, TARGET, read_frame
from steel.metrics import regression_metrics
from steel.partitions import (
    GLOBAL,
    PARTITIONS_DIR,
    TRAINED,
    PartitionedModel,
    partition_names,
    write_index,
)
from tabular.model_io import (
    PARITY_FILE,
    REFERENCE_PREDICTIONS_FILE,
    parity_sample,
    reference_predictions,
)
from tabular.step import StepError, output_folder, run_step, write_json, write_text

IMPROVED, STAYED, REGRESSED, NEW = "improved", "stayed", "regressed", "new"
METRICS = ("wape", "mae", "rmse")


@dataclass(frozen=True)
class Policy:
    """The champion policy of mlops.yaml, applied to one partition's rows."""

    metric: str = "wape"
    direction: str = "minimize"
    min_abs: float = 0.0
    min_rel: float = 0.0

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise StepError(f"champion metric '{self.metric}' is not one of {', '.join(METRICS)}")
        if self.direction not in ("minimize", "maximize"):
            raise StepError(f"champion direction '{self.direction}' is not minimize or maximize")

    def score(self, actual: np.ndarray, predicted: np.ndarray) -> float:
        error = np.abs(actual - np.clip(predicted, 0.0, None))
        if self.metric == "mae":
            return float(error.mean())
        if self.metric == "rmse":
            return float(np.sqrt(np.mean(error**2)))
        return float(error.sum() / (float(np.abs(actual).sum()) or 1.0))  # wape

    def judge(self, candidate: float, champion: float) -> str:
        """``improved`` when the candidate is better by both minimums (relative to the
        champion's value), else ``regressed`` when worse, else ``stayed``."""
        gain = champion - candidate if self.direction == "minimize" else candidate - champion
        if gain > 0 and gain >= self.min_abs and (champion == 0 or gain / abs(champion) >= self.min_rel):
            return IMPROVED
        return REGRESSED if gain < 0 else STAYED


def entries(model: PartitionedModel | None) -> dict[str, dict[str, Any]]:
    return dict((model.index or {}).get("partitions", {})) if model else {}


def decide_all(candidate: PartitionedModel, champion: PartitionedModel | None,
               holdout: pd.DataFrame, policy: Policy) -> dict[str, dict[str, Any]]:
    """The decision for the global model and every partition either model knows."""
    mine, theirs = entries(candidate), entries(champion)
    plan = candidate.plan
    names_at = {level: partition_names(holdout, plan.columns(level)).to_numpy()
                for level in (plan.model_levels if plan else ())}
    # Each model folder encodes the holdout once; partitions take their rows from it.
    mine_x = candidate.encode(holdout)
    theirs_x = champion.encode(holdout) if champion is not None else None
    actual_all = holdout[TARGET].to_numpy(dtype="float64")
    decisions: dict[str, dict[str, Any]] = {}
    for name in [GLOBAL, *sorted(set(mine) | set(theirs))]:
        entry = mine.get(name) or theirs.get(name) or {"level": GLOBAL}
        level = entry["level"]
        has_mine = name == GLOBAL or mine.get(name, {}).get("status") == TRAINED
        has_theirs = champion is not None and (
            name == GLOBAL or theirs.get(name, {}).get("status") == TRAINED)
        at = (np.ones(len(holdout), dtype=bool) if name == GLOBAL else names_at[level] == name
              if level in names_at else np.zeros(len(holdout), dtype=bool))
        rows = int(at.sum())
        decision: dict[str, Any] = {"level": level, "holdout_rows": rows}
        if has_mine and not has_theirs and (champion is None or rows == 0):
            decision.update(outcome=NEW, source="candidate")
        elif has_mine and not has_theirs:
            # The champion serves these rows with a coarser model (its parent's, or a single
            # model): the new partition model must beat that, or its rows keep falling back.
            assert champion is not None and theirs_x is not None
            actual = actual_all[at]
            ours = policy.score(actual, candidate.predict_partition(name, mine_x[at]))
            best = policy.score(actual, champion.predict_matrix(theirs_x[at]))
            outcome = policy.judge(ours, best)
            decision.update(outcome=outcome, source="candidate" if outcome == IMPROVED else None,
                            candidate=ours, champion=best,
                            note="against the champion's coarser model")
        elif has_theirs and not has_mine:
            decision.update(outcome=mine.get(name, {}).get("status", "absent"), source="champion")
        elif not has_mine:
            continue  # neither has a model: the parent level serves it in both
        elif rows == 0:
            decision.update(outcome=STAYED, source="champion", note="no holdout rows")
        else:
            assert champion is not None and theirs_x is not None
            actual = actual_all[at]
            ours = policy.score(actual, candidate.predict_partition(name, mine_x[at]))
            best = policy.score(actual, champion.predict_partition(name, theirs_x[at]))
            outcome = policy.judge(ours, best)
            decision.update(outcome=outcome, source="candidate" if outcome == IMPROVED
                            else "champion", candidate=ours, champion=best)
        decisions[name] = decision
    return decisions


def assemble(out: Path, candidate: PartitionedModel, champion: PartitionedModel | None,
             decisions: dict[str, dict[str, Any]]) -> None:
    """Write the model to register: every decision's winner, from the folder it won in."""
    winner = {"candidate": candidate, "champion": champion}
    root_from = winner[decisions[GLOBAL]["source"]]
    assert root_from is not None
    shutil.copytree(root_from.root, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(PARTITIONS_DIR))
    plan = candidate.plan
    if plan is None:
        return
    index: dict[str, dict[str, Any]] = {}
    for name, entry in entries(candidate).items():
        if entry.get("status") != TRAINED:
            index[name] = {k: entry.get(k) for k in ("level", "status", "rows", "error")}
    for name, decision in decisions.items():
        if name == GLOBAL or decision["source"] is None:
            continue  # not better than the coarser model: its rows fall back to the parent
        source = winner[decision["source"]]
        assert source is not None
        shutil.copytree(source.root / PARTITIONS_DIR / name, out / PARTITIONS_DIR / name,
                        dirs_exist_ok=True)
        previous = entries(source).get(name, {})
        index[name] = {"level": decision["level"], "status": TRAINED,
                       "rows": previous.get("rows"), "error": None,
                       "source": decision["source"],
                       # The version a kept model was first trained in travels with it.
                       "origin": previous.get("origin") if decision["source"] == "champion" else None}
    write_index(out, plan, index)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="evaluate_partitions", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the candidate (partitioned)")
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--champion_model", type=Path, default=None)
    parser.add_argument("--metric", default="wape", help="wape, mae or rmse")
    parser.add_argument("--direction", default="minimize")
    parser.add_argument("--min_abs_improvement", type=float, default=0.0)
    parser.add_argument("--min_rel_improvement", type=float, default=0.0)
    parser.add_argument("--metrics", type=Path, required=True, help="output folder")
    parser.add_argument("--merged", type=Path, required=True, help="the model to register")
    args = parser.parse_args(argv)

    candidate = PartitionedModel(args.model)
    champion = PartitionedModel(args.champion_model) if args.champion_model else None
    holdout = read_frame(args.prepared / "holdout.csv", "holdout",
                         [*KEYS, TARGET, *candidate.spec.features])
    if holdout.empty:
        raise StepError("the holdout has no rows")
    policy = Policy(args.metric, args.direction, args.min_abs_improvement,
                    args.min_rel_improvement)
    decisions = decide_all(candidate, champion, holdout, policy)
    merged_out = output_folder(args.merged, "merged model")
    assemble(merged_out, candidate, champion, decisions)
    merged = PartitionedModel(merged_out)
    # What the QA gate checks online and prediction drift compares with: the merged model's own.
    write_json(merged_out / PARITY_FILE, parity_sample(merged, holdout))
    write_json(merged_out / REFERENCE_PREDICTIONS_FILE, reference_predictions(merged, holdout))
    actual = holdout[TARGET].to_numpy(dtype="float64")
    # Every raw column the holdout has: responsible-ML checks read quality per group from here.
    predictions = holdout[[c for c in RAW_COLUMNS if c in holdout.columns]].copy()
    predictions["candidate"] = candidate.predict(holdout)
    predictions["merged"] = merged.predict(holdout)
    metrics: dict[str, Any] = {
        "policy": {"metric": policy.metric, "direction": policy.direction},
        "candidate": regression_metrics(actual, predictions["merged"].to_numpy()),
        "candidate_alone": regression_metrics(actual, predictions["candidate"].to_numpy()),
        "champion": None,
        "partitions": {"summary": Counter(d["outcome"] for n, d in decisions.items()
                                            if n != GLOBAL),
                       "global": decisions[GLOBAL]["outcome"], "decisions": decisions},
        "holdout": {"start": str(holdout["period"].min()), "end": str(holdout["period"].max()),
                    "rows": len(holdout)},
        "predictions": {"file": "predictions.csv", "actual": TARGET, "predicted": "merged"},
    }
    if champion is not None:
        predictions["champion"] = champion.predict(holdout)
        metrics["champion"] = regression_metrics(actual, predictions["champion"].to_numpy())
    out = output_folder(args.metrics, "metrics")
    write_text(out / "predictions.csv", predictions.to_csv(index=False, lineterminator="\n"))
    write_json(out / "metrics.json", metrics)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(metrics["partitions"]["summary"].items()))
    print(f"evaluate_partitions: {counts or 'no partitions'}; global model "
          f"{decisions[GLOBAL]['outcome']}; merged wape {metrics['candidate']['wape']:.4f}"
          + (f" vs champion {metrics['champion']['wape']:.4f}" if champion else ""))


if __name__ == "__main__":
    sys.exit(run_step("evaluate_partitions", main))

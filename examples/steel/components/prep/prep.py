"""Prepare checked purchase data for training: clean, build features, split off a time holdout.

Writes ``train.csv``, ``holdout.csv`` and ``features.json`` to the ``prepared`` folder. Refuses to
run when the data check's ``report.json`` says the data did not pass.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from steel.features import (
    CATEGORICAL,
    KEYS,
    NUMERIC,
    PERIOD,
    RAW_COLUMNS,
    TARGET,
    FeatureSpec,
    add_features,
    category_lists,
    clean,
    read_frame,
    split_by_period,
)
from steel.mltable import write_mltable
from tabular.frame import FEATURES_FILE
from tabular.step import output_folder, require_passed_check, run_step, write_json, write_text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="prep", description=__doc__)
    parser.add_argument("--raw_data", type=Path, required=True, help="the purchases CSV")
    parser.add_argument("--check_report", type=Path, required=True,
                        help="the data check's output folder (with report.json)")
    parser.add_argument("--holdout_months", type=int, default=6,
                        help="the last N periods are held out for evaluation")
    parser.add_argument("--prepared", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)

    require_passed_check(args.check_report)
    raw = read_frame(args.raw_data, "raw data", RAW_COLUMNS)
    cleaned, stats = clean(raw)
    featured = add_features(cleaned)
    train, holdout = split_by_period(featured, args.holdout_months)
    spec = FeatureSpec(
        features=[*CATEGORICAL, *NUMERIC],
        categorical_features=list(CATEGORICAL),
        # From the training rows only: a category first seen in the holdout is unknown to the model.
        categories=category_lists(train),
        train={"start": train[PERIOD].min(), "end": train[PERIOD].max(), "rows": len(train)},
        holdout={"start": holdout[PERIOD].min(), "end": holdout[PERIOD].max(),
                 "months": args.holdout_months, "rows": len(holdout)},
        cleaning=stats,
    )
    out = output_folder(args.prepared, "prepared")
    for name, part in (("train.csv", train), ("holdout.csv", holdout)):
        write_text(out / name, part.to_csv(index=False, lineterminator="\n"))
    write_json(out / FEATURES_FILE, spec.to_json())
    # The training rows as a table for Azure ML's parallel job (one model per partition).
    write_mltable(out, "train.csv", list(dict.fromkeys([*KEYS, *CATEGORICAL])))
    print(f"prep: {len(train)} training rows ({spec.train['start']} to {spec.train['end']}), "
          f"{len(holdout)} holdout rows ({spec.holdout['start']} to {spec.holdout['end']}); "
          f"{stats['duplicates_dropped']} duplicate(s) dropped, {stats['prices_imputed']} price(s) "
          f"imputed, {stats['quantities_capped']} quantity spike(s) capped; target {TARGET}")


if __name__ == "__main__":
    sys.exit(run_step("prep", main))

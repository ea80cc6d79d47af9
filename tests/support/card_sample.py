"""A realistic model card for the card tests: the steel demand example with three
sensitive features, four customer segments (one too small to trust), 20 features with 300 SHAP
summary points each, two worst cohorts, a reweighting mitigation and a warning verdict."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from mlops_azure.responsible._card import Champion, GateResult, Lineage, ModelCard

FEATURES = ("lag_1", "lag_7", "rolling_mean_28", "price_index", "order_backlog", "day_of_week",
            "month", "segment", "region", "company_size", "lead_time_days", "discount",
            "contract_length", "steel_grade", "thickness_mm", "width_mm", "holiday",
            "inventory_days", "promo", "weather_index")
_CATEGORICAL = {"segment", "region", "company_size", "steel_grade", "day_of_week"}


def _groups(rng: random.Random, sizes: dict[str, int], overall: float, minimum: int,
            worse: str | None = None) -> dict[str, Any]:
    total = sum(sizes.values())
    rows: list[dict[str, Any]] = []
    for group, n in sizes.items():
        wape = overall * (1.9 if group == worse else rng.uniform(0.85, 1.15))
        rows.append({"group": group, "rows": n, "share": round(n / total, 4), "trusted": n >= minimum,
                     "mae": round(wape * 41.7, 3), "wape": round(wape, 4), "rmse": round(wape * 58.2, 3)})
    trusted = [r for r in rows if r["trusted"]]
    worst = max(trusted, key=lambda r: r["wape"])
    best = min(trusted, key=lambda r: r["wape"])
    return {"by_group": rows,
            "difference": {m: round(worst[m] - best[m], 4) for m in ("mae", "wape", "rmse")},
            "ratio": {m: round(worst[m] / best[m], 4) for m in ("mae", "wape", "rmse")},
            "worst_group": worst["group"], "trusted_groups": len(trusted)}


def _summary(rng: random.Random, importance: dict[str, float]) -> dict[str, Any]:
    summary = {}
    for feature, scale in importance.items():
        values: list[float | None] = []
        shap = []
        for _ in range(300):
            if feature in _CATEGORICAL:
                values.append(None)
                shap.append(round(rng.gauss(0, scale * 1.2), 4))
            else:
                value = rng.random()
                # Higher feature value, higher impact (with noise): what a reviewer expects to see.
                values.append(round(value, 4))
                shap.append(round((value - 0.5) * 2.4 * scale + rng.gauss(0, scale * 0.3), 4))
        summary[feature] = {"values": values, "shap": shap}
    return summary


def sample_report(seed: int = 7) -> dict[str, Any]:
    """A responsible-ML report in the analysis library's JSON shape."""
    rng = random.Random(seed)
    overall = {"rows": 2400, "mae": 6.92, "wape": 0.166, "rmse": 9.71}
    importance = {f: round(8.0 * 0.8 ** i + rng.uniform(0, 0.2), 4) for i, f in enumerate(FEATURES)}
    segment = {"construction": 1020, "automotive": 860, "machinery": 498, "energy": 22}
    region = {"north": 700, "south": 610, "east": 560, "west": 530}
    size = {"small": 640, "medium": 980, "large": 780}
    contributions = {f: round(rng.gauss(0, importance[f]), 3) for f in FEATURES}
    by_segment = _groups(rng, segment, 0.166, 30, worse="machinery")
    ratio = by_segment["ratio"]["wape"]
    return {
        "task": "regression", "metric": "wape", "min_group_size": 30, "overall": overall,
        "groups": {"segment": by_segment,
                   "region": _groups(rng, region, 0.166, 30),
                   "company_size": _groups(rng, size, 0.166, 30)},
        "exploration": {
            "segment": {"sizes": segment, "imbalance_ratio": round(1020 / 22, 2),
                        "small_groups": ["energy"]},
            "region": {"sizes": region, "imbalance_ratio": round(700 / 530, 2), "small_groups": []},
            "company_size": {"sizes": size, "imbalance_ratio": round(980 / 640, 2),
                             "small_groups": []}},
        "cohorts": [
            {"features": {"segment": "machinery", "region": "north"}, "rows": 152, "wape": 0.349,
             "mae": 14.6, "ratio_to_overall": 2.1},
            {"features": {"segment": "machinery"}, "rows": 498, "wape": 0.312, "mae": 13.0,
             "ratio_to_overall": 1.88},
            {"features": {"company_size": "small", "region": "west"}, "rows": 141, "wape": 0.221,
             "mae": 9.2, "ratio_to_overall": 1.33},
            {"features": {"region": "east"}, "rows": 560, "wape": 0.188, "mae": 7.8,
             "ratio_to_overall": 1.13}],
        "explanations": {
            "gain": {f: round(v * 1520.0, 1) for f, v in importance.items()},
            "mean_abs_shap": importance, "base_value": 41.7,
            "summary": _summary(rng, importance),
            "examples": [{"row": {f: (rng.choice(["construction", "energy"]) if f == "segment" else
                                      round(rng.uniform(0, 100), 2)) for f in FEATURES},
                          "prediction": round(41.7 + sum(contributions.values()), 3),
                          "contributions": contributions}]},
        "mitigation": {"method": "reweight", "by": "segment", "metric": "wape",
                       "before": {"overall": 0.171, "groups": {"construction": 0.151,
                                                               "automotive": 0.158,
                                                               "machinery": 0.329, "energy": 0.41}},
                       "after": {"overall": 0.166, "groups": {"construction": 0.155,
                                                              "automotive": 0.16,
                                                              "machinery": 0.262, "energy": 0.37}}},
        "verdict": {"status": "warn", "at": "registration", "findings": [
            {"kind": "max_ratio", "feature": "segment", "group": "machinery", "metric": "wape",
             "value": ratio, "limit": 1.5,
             "message": f"segment=machinery: WAPE {ratio:.2f}x the best trusted group (limit 1.5x)"}]},
    }


def sample_card(seed: int = 7) -> ModelCard:
    """The full card around :func:`sample_report`."""
    return ModelCard(
        name="steel-demand", version="12",
        description="Daily steel demand (tonnes) per customer and product, 28 days ahead.",
        created=datetime(2025, 11, 28, 14, 5, tzinfo=UTC), creator="mlops run (pipeline train)",
        intended_use="Planning rolling-mill capacity and raw material purchases a month ahead. Not "
                     "for pricing individual customers or for credit decisions.",
        limitations=("Trained on 2021-2025 orders: a demand shock outside that range is "
                     "extrapolated.",),
        lineage=Lineage(data_asset="steel-orders:37", data_sha256="9f2c" * 16,
                        code_commit="1e9d7b8c0ffee", job_id="train-steel-demand-20251128-1405",
                        pipeline="pipelines/train.yml",
                        params={"num_leaves": 63, "learning_rate": 0.05, "n_estimators": 800,
                                "reweight": {"by": "segment"}},
                        environment_hash="sha256:ab12cd34"),
        metrics={"wape": 0.166, "mae": 6.92, "rmse": 9.71},
        champion=Champion("steel-demand", "11", {"wape": 0.174, "mae": 7.31, "rmse": 10.2}),
        gates=(GateResult("data-quality", "pass", "0 of 38 checks failed", "2025-11-28T13:58Z"),
               GateResult("champion", "pass", "wape 0.166 vs 0.174", "2025-11-28T14:04Z"),
               GateResult("responsible-ml", "warn", "segment wape ratio above 1.5", "2025-11-28T14:05Z")),
        responsible=sample_report(seed))

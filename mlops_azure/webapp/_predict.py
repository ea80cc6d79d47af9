"""``GET/POST /predict``: a form over the model a stage serves, sent to that stage's endpoint.

The form's fields come from the model (its ``parity.json`` rows and ``features.json``) and the
schema (``_forms``); it starts from a real row (``?row=N``). A submission is typed as the scoring
script types a request, checked against the schema, and scored server-side through
``Project.invoke`` (the endpoint key never reaches the browser); the page shows the prediction,
the deployment that answered, its latency, the row's top contributions and, for a forecasting
project, the series' history with the forecast. It all works as a plain form with JavaScript off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, request
from markupsafe import Markup

from mlops_azure.errors import UserInputError
from mlops_azure.rules import whole_number
from mlops_azure.webapp._context import default_stage, project, render
from mlops_azure.webapp._forms import FieldSpec, parse_row, prefill
from mlops_azure.webapp._model_inputs import ModelInputs, model_inputs, serving_stages
from mlops_azure.webapp._predict_charts import (
    Contribution,
    contributions_chart,
    series_chart,
    top_contributions,
)
from mlops_azure.webapp._security import check_csrf
from mlops_azure.webapp._series_history import series_history

blueprint = Blueprint("predict", __name__)

#: Form fields carry the feature name after this prefix (no clash with ``stage``/``csrf_token``).
FIELD_PREFIX = "f."


@dataclass(frozen=True)
class Prediction:
    """The endpoint's answer for the submitted row, ready to show."""

    value: float
    label: str | None
    deployment: str
    latency_ms: float
    base_value: float | None
    space: str
    contributions: list[Contribution]
    contributions_svg: Markup | None
    series_svg: Markup | None
    series_caption: str


@blueprint.route("/predict", methods=["GET", "POST"])
def form() -> tuple[str, int]:
    """The form; on POST, the prediction for the submitted row (or the form with its errors)."""
    if request.method == "POST":
        check_csrf()
    found = project()
    ws, config = found.workspace, found.config
    serving = {s.name: s for s in serving_stages(ws, config)}
    stages = list(serving)
    if not stages:
        return render("predict.html", stages=[], stage=None, status=200)
    stage = _stage(request.values.get("stage"), stages)
    choice = serving[stage]
    inputs = model_inputs(ws, config, found.backend, choice.model_name, choice.model_version)
    specs = inputs.specs(config)
    page: dict[str, Any] = {"stages": stages, "stage": stage, "model": inputs.model,
                            "specs": specs, "rows": _row_labels(inputs, specs),
                            "prefix": FIELD_PREFIX, "errors": {}, "prediction": None,
                            "target": config.data.target, "problem": None,
                            "classes": inputs.classes, "number": shown_number}
    if request.method == "GET":
        row = _row_number(request.args.get("row"), len(inputs.rows))
        return render("predict.html", values=prefill(specs, inputs.rows[row - 1]), row=row,
                      **page)
    submitted = {s.name: request.form.get(FIELD_PREFIX + s.name, "") for s in specs}
    page.update(values=submitted, row=_row_number(request.form.get("row"), len(inputs.rows)))
    parsed = parse_row(specs, submitted)
    if not parsed.ok:
        count = len(parsed.errors)
        problem = (next(iter(parsed.errors.values())) if count == 1
                   else f"{count} fields are not valid ({', '.join(parsed.errors)}): see the "
                        "message next to each")
        return render("predict.html", status=400, **{**page, "errors": parsed.errors,
                                                       "problem": problem})
    # The deployment the fields were built for answers, not whichever the traffic split picks.
    answer = found.invoke(stage, {"data": [parsed.row], "explain": True},
                          deployment=choice.deployment)
    refused = answer.refusal()
    if refused is not None:
        return render("predict.html", status=400, **{**page, "problem": (
            f"the {stage} endpoint refused the row: {refused}")})
    if not answer.ok:
        return render("predict.html", status=503, **{**page, "problem": (
            f"the {stage} endpoint did not answer: {answer.message()}")})
    try:
        body = answer.json()
        prediction = _prediction(body, submitted, answer.deployment, answer.seconds)
    except (ValueError, KeyError, TypeError, IndexError):
        return render("predict.html", status=503, **{**page, "problem": (
            f"the {stage} endpoint answered with something that is not a prediction: "
            f"{answer.body[:200].decode('utf-8', errors='replace')}")})
    prediction = _with_series(prediction, inputs, parsed.row)
    return render("predict.html", **{**page, "prediction": prediction})


def shown_number(value: float) -> str:
    """A prediction as people read it: two decimals from 1 on (thousands separated), four
    significant digits below."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e15 or (value != 0 and abs(value) < 1e-4):
        return f"{value:.4g}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _stage(chosen: str | None, stages: list[str]) -> str:
    if not chosen:
        return default_stage(stages) or stages[0]
    if chosen not in stages:
        raise UserInputError(f"stage '{chosen}' has no deployment to predict with (stages with "
                             f"one: {', '.join(stages)})")
    return chosen


def _row_number(raw: str | None, count: int) -> int:
    """The real row the form starts from, counted from 1."""
    if raw is None or raw == "":
        return 1
    number = whole_number(raw)
    if number is None or not 1 <= number <= count:
        raise UserInputError(f"row must be a number from 1 to {count}, not '{raw[:20]}'")
    return number


def _row_labels(inputs: ModelInputs, specs: list[FieldSpec]) -> list[str]:
    """A short description of each real row for the row selector: its first text values (they
    usually say which series or case it is) and its first two numbers."""
    text = [s.name for s in specs if s.kind == "category"][:4]
    numbers = [s.name for s in specs if s.kind != "category"][:2]
    labels = []
    for row in inputs.rows:
        shown = ", ".join([*(str(row[n]) for n in text if row.get(n) is not None),
                           *(f"{n} {row[n]}" for n in numbers if row.get(n) is not None)])
        labels.append(shown if len(shown) <= 80 else shown[:79] + "\u2026")
    return labels


def _prediction(body: Mapping[str, Any], typed: Mapping[str, str], deployment: str,
                seconds: float) -> Prediction:
    """The answer's first row; ``typed`` (the form's values as typed) labels the contributions."""
    value = float(body["predictions"][0])
    labels = body.get("labels")
    label = str(labels[0]) if isinstance(labels, list) and labels else None
    explained = body.get("explanations")
    first = explained[0] if isinstance(explained, list) and explained else None
    items: list[Contribution] = []
    base: float | None = None
    space = "model units"
    svg = None
    if isinstance(first, dict) and isinstance(first.get("contributions"), dict):
        base = float(first["base_value"]) if first.get("base_value") is not None else None
        space = str(first.get("space") or space)
        items = top_contributions({str(k): float(v) for k, v in first["contributions"].items()},
                                  typed)
        if items:
            svg = contributions_chart("contributions-plot", items, base or 0.0, space)
    return Prediction(value, label, deployment, seconds * 1000, base, space, items, svg, None, "")


def _with_series(prediction: Prediction, inputs: ModelInputs, row: dict[str, Any]) -> Prediction:
    """The prediction with its series' history chart, for a forecasting project."""
    found = project()
    config = found.config
    history = series_history(found.workspace, config, found.backend, inputs, row)
    if history is None:
        return prediction
    keys = inputs.series_keys(config)
    series = ", ".join(f"{k}={row[k]}" for k in keys)
    target = config.data.target or "target"
    svg = series_chart("series-plot", [t.to_pydatetime() for t in history.times], history.values,
                       [(history.forecast_at.to_pydatetime(), prediction.value)], target, series)
    caption = (f"{target} of {series} over {config.data.time_column} in the model's training "
               f"data ({history.source}, {len(history.times)} periods); the forecast is placed "
               f"one period after the last point ({history.period}, "
               f"{history.forecast_at:%Y-%m-%d}).")
    return replace(prediction, series_svg=svg, series_caption=caption)

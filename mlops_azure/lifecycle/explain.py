"""Individual explanations and what-if questions for a registered model version.

The project's own scoring script answers them (``"explain": true`` in the request), run in this
process over the version's files: the explanation is computed by exactly the code that serves
the model, whatever model type the project uses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle._scripts import load_scoring_script
from mlops_azure.lifecycle.refs import resolve_model
from mlops_azure.workspace import Workspace

#: Rows explained when no ``--rows`` file is given: the first of the model's parity sample.
DEFAULT_ROWS = 5


@dataclass(frozen=True)
class RowExplanation:
    """One row's prediction and each feature's contribution to it (largest first)."""

    row: dict[str, Any]
    prediction: float
    base_value: float
    contributions: dict[str, float]
    #: The unit of ``base_value`` and ``contributions`` as the scoring script names it (e.g.
    #: "log-odds of churned=yes" for a classifier, whose ``prediction`` is a probability); ""
    #: when the script does not say, i.e. the prediction's own units.
    space: str = ""

    @property
    def raw_prediction(self) -> float:
        """Base value plus contributions: the prediction in ``space`` (before any link)."""
        return self.base_value + sum(self.contributions.values())

    def top(self, count: int) -> list[tuple[str, float]]:
        return list(self.contributions.items())[:count]

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "prediction": self.prediction, "base_value": self.base_value,
                "contributions": self.contributions, "space": self.space,
                "raw_prediction": self.raw_prediction}


def _scoring_module(config: ProjectConfig, model_dir: Path, stage: str | None) -> ModuleType:
    chosen = config.stage(stage) if stage else next(iter(config.stages.values()))
    return load_scoring_script(config.resolve(chosen.code) / chosen.scoring_script, model_dir,
                               module_name=f"mlops_explain_{abs(hash(model_dir))}",
                               needs=("init", "run"))


def _ask(module: ModuleType, rows: Sequence[Mapping[str, Any]], where: str) -> list[RowExplanation]:
    answer = module.run(json.dumps({"data": list(rows), "explain": True}))
    if getattr(answer, "status_code", 200) != 200:
        error = json.loads(answer.get_data(as_text=True)).get("error", "rejected")
        raise UserInputError(f"{where}: {error}")
    if not isinstance(answer, dict) or "explanations" not in answer:
        raise UserInputError(f"{where}: the scoring script does not answer \"explain\": true")
    found = []
    for row, prediction, explained in zip(rows, answer["predictions"], answer["explanations"],
                                          strict=True):
        contributions = dict(sorted(explained["contributions"].items(),
                                    key=lambda item: -abs(item[1])))
        found.append(RowExplanation(dict(row), float(prediction), float(explained["base_value"]),
                                    contributions, str(explained.get("space") or "")))
    return found


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows from a CSV file or a JSON file (a scoring request ``{"data": [...]}``, a list of
    rows, or one row as an object)."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such file of rows to explain")
    if path.suffix.lower() == ".csv":
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserInputError(f"{path} is not a readable CSV file ({exc})") from None
        records = frame.to_dict(orient="records")
        return [{str(k): (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in row.items()} for row in records]
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path} is not valid JSON ({exc})") from None
    rows = body.get("data", body) if isinstance(body, dict) and "data" in body else body
    rows = [rows] if isinstance(rows, dict) else rows
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise UserInputError(f"{path} holds no rows: give a CSV file, a list of objects or "
                             "a scoring request {\"data\": [...]}")
    return rows


def explain(ws: Workspace, config: ProjectConfig, ref: str, rows: Sequence[Mapping[str, Any]] | None,
            *, stage: str | None = None, where: str = "rows") -> list[RowExplanation]:
    """Explanations of ``rows`` (default: the first rows of the model's parity sample)."""
    model = resolve_model(ws, ref)
    folder = ws.models.local_path(model.name, model.version)
    if rows is None:
        parity = folder / "parity.json"
        if not parity.is_file():
            raise UserInputError(f"{model.ref} has no parity sample to explain: pass --rows FILE")
        rows = json.loads(parity.read_text(encoding="utf-8"))["request"]["data"][:DEFAULT_ROWS]
        where = f"{model.ref}'s parity sample"
    return _ask(_scoring_module(config, folder, stage), rows, where)


def parse_assignments(items: Sequence[str], row: Mapping[str, Any]) -> dict[str, Any]:
    """``feature=value`` settings, typed like the row's current value (``null`` for missing)."""
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserInputError(f"--set {item!r}: write it as FEATURE=VALUE")
        if name not in row:
            raise UserInputError(f"--set {name}: the row has no feature '{name}'")
        if text.strip().lower() == "null":
            changes[name] = None
        elif isinstance(row[name], str):
            changes[name] = text
        else:
            try:
                changes[name] = float(text)
            except ValueError:
                raise UserInputError(f"--set {name}={text}: '{name}' takes a number") from None
    if not changes:
        raise UserInputError("what-if needs at least one --set FEATURE=VALUE")
    return changes


def what_if(ws: Workspace, config: ProjectConfig, ref: str, row: Mapping[str, Any],
            changes: Mapping[str, Any], *, stage: str | None = None
            ) -> tuple[RowExplanation, RowExplanation]:
    """The row as it is and with ``changes`` applied, each explained."""
    before, after = explain(ws, config, ref, [dict(row), {**row, **changes}], stage=stage,
                            where="the what-if row")
    return before, after

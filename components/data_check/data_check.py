"""Data sanity gate: check a CSV against a JSON schema and write ``report.json``.

Exit 0 when the data passes (warnings allowed), 1 when a check fails, 2 when the data or the
schema cannot be read at all. ``report.json`` is written in every case the output folder allows.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabular.frame import robust_center_scale
from tabular.step import EXIT_FAILED, StepError, output_folder, run_step, write_json

TYPES = ("string", "integer", "float", "date", "boolean")
_COLUMN_KEYS = {"type", "required", "max_null_fraction", "min", "max", "allowed"}
_SCHEMA_KEYS = {"columns", "unique_key", "min_rows", "allow_extra_columns", "outliers"}
_OUTLIER_KEYS = {"columns", "group_by", "robust_z", "max_fraction"}
_BOOLEAN_TEXT = {"true", "false", "1", "0", "yes", "no"}


@dataclass
class Report:
    """Findings so far; ``passed`` means no errors."""

    rows: int = 0
    columns: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def error(self, check: str, column: str | None, message: str, count: int) -> None:
        self.errors.append({"check": check, "column": column, "message": message, "count": count})

    def warning(self, check: str, column: str | None, message: str, count: int) -> None:
        self.warnings.append({"check": check, "column": column, "message": message, "count": count})

    @property
    def passed(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "rows": self.rows, "columns": self.columns,
                "errors": self.errors, "warnings": self.warnings}


# -- the schema ---------------------------------------------------------------------------------

def _number(value: Any, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StepError(f"{where} must be a number, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise StepError(f"{where} must be between {low} and {high}, not {value}")
    return float(value)


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StepError(f"{where} must be a list of column names")
    return list(value)


def _unknown(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise StepError(f"{where} has an unknown key '{extra[0]}'")


def load_schema(path: Path) -> dict[str, Any]:
    """Read and validate the schema JSON, filling in defaults; ``StepError`` on any problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StepError(f"schema file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StepError(f"schema file {path} is not valid JSON ({exc})") from None
    where = f"schema {path}"
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict) or not raw["columns"]:
        raise StepError(f"{where}: expected an object with a non-empty 'columns' mapping")
    _unknown(raw, _SCHEMA_KEYS, where)
    columns: dict[str, dict[str, Any]] = {}
    for name, spec in raw["columns"].items():
        at = f"{where}: columns.{name}"
        if not isinstance(spec, dict) or spec.get("type") not in TYPES:
            raise StepError(f"{at}.type must be one of {', '.join(TYPES)}")
        _unknown(spec, _COLUMN_KEYS, at)
        allowed = spec.get("allowed")
        columns[name] = {
            "type": spec["type"],
            "required": spec.get("required", True),
            "max_null_fraction": _number(spec.get("max_null_fraction", 0.0), f"{at}.max_null_fraction",
                                         0.0, 1.0),
            "min": None if spec.get("min") is None else _number(spec["min"], f"{at}.min"),
            "max": None if spec.get("max") is None else _number(spec["max"], f"{at}.max"),
            "allowed": None if allowed is None else [str(v) for v in _names(allowed, f"{at}.allowed")],
        }
        if not isinstance(columns[name]["required"], bool):
            raise StepError(f"{at}.required must be true or false")
    schema = {
        "columns": columns,
        "unique_key": _names(raw.get("unique_key", []), f"{where}: unique_key"),
        "min_rows": int(_number(raw.get("min_rows", 1), f"{where}: min_rows", 0.0)),
        "allow_extra_columns": raw.get("allow_extra_columns", True),
        "outliers": None,
    }
    if not isinstance(schema["allow_extra_columns"], bool):
        raise StepError(f"{where}: allow_extra_columns must be true or false")
    rule = raw.get("outliers")
    if rule is not None:
        at = f"{where}: outliers"
        if not isinstance(rule, dict):
            raise StepError(f"{at} must be an object or null")
        _unknown(rule, _OUTLIER_KEYS, at)
        schema["outliers"] = {
            "columns": _names(rule.get("columns"), f"{at}.columns"),
            "group_by": _names(rule.get("group_by", []), f"{at}.group_by"),
            "robust_z": _number(rule.get("robust_z", 8.0), f"{at}.robust_z", 1e-9),
            "max_fraction": _number(rule.get("max_fraction", 0.01), f"{at}.max_fraction", 0.0, 1.0),
        }
    undeclared = [c for c in [*schema["unique_key"], *(schema["outliers"] or {}).get("columns", []),
                              *(schema["outliers"] or {}).get("group_by", [])] if c not in columns]
    if undeclared:
        raise StepError(f"{where}: '{undeclared[0]}' is used but not declared under columns")
    return schema


# -- the checks ---------------------------------------------------------------------------------

def read_data(path: Path) -> pd.DataFrame:
    """Every column as text (NaN where empty): the checks parse types themselves."""
    try:
        return pd.read_csv(path, dtype=str)
    except FileNotFoundError:
        raise StepError(f"data file {path} does not exist") from None
    except IsADirectoryError:
        raise StepError(f"data path {path} is a folder, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise StepError(f"data file {path} is empty") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StepError(f"data file {path} is not a readable CSV file ({first})") from None


def _example(values: pd.Series) -> str:
    return f", e.g. {values.iloc[0]!r}" if len(values) else ""


def parse_column(text: pd.Series, type_: str) -> tuple[pd.Series | None, pd.Series]:
    """(numeric values or None, mask of present values that do not parse as ``type_``)."""
    present = text.notna()
    stripped = text.str.strip()
    if type_ == "string":
        return None, pd.Series(False, index=text.index)
    if type_ in ("integer", "float"):
        number = pd.to_numeric(stripped, errors="coerce").astype("float64")
        valid = np.isfinite(number)
        if type_ == "integer":
            valid &= number == np.round(number)
        return number.where(valid), present & ~valid
    if type_ == "date":
        parsed = pd.to_datetime(stripped, format="ISO8601", errors="coerce")
        return None, present & parsed.isna()
    return None, present & ~stripped.str.lower().isin(_BOOLEAN_TEXT)


def check_column(report: Report, name: str, text: pd.Series, spec: dict[str, Any]) -> pd.Series | None:
    """Type, null, range and allowed-value checks on one column; returns its numeric values."""
    rows = len(text)
    number, bad = parse_column(text, spec["type"])
    if bad.any():
        report.error("type", name, f"{int(bad.sum())} value(s) are not of type {spec['type']}"
                     f"{_example(text[bad])}", int(bad.sum()))
    nulls = int(text.isna().sum())
    if nulls and rows:
        fraction, limit = nulls / rows, spec["max_null_fraction"]
        message = f"{fraction:.2%} of values are missing ({nulls} of {rows}); at most {limit:.2%} allowed"
        if fraction > limit:
            report.error("nulls", name, message, nulls)
        else:
            report.warning("nulls", name, message, nulls)
    if number is not None:
        for bound, outside, word in (("min", number < (spec["min"] or 0), "below the minimum"),
                                     ("max", number > (spec["max"] or 0), "above the maximum")):
            if spec[bound] is not None and outside.any():
                count = int(outside.sum())
                report.error("range", name, f"{count} value(s) {word} {spec[bound]:g}"
                             f"{_example(text[outside])}", count)
    if spec["allowed"] is not None:
        outside = text.notna() & ~text.isin(spec["allowed"])
        if outside.any():
            count = int(outside.sum())
            report.error("allowed", name, f"{count} value(s) outside {spec['allowed']}"
                         f"{_example(text[outside])}", count)
    return number


def check_duplicates(report: Report, data: pd.DataFrame, key: list[str]) -> None:
    if not key or any(c not in data.columns for c in key):
        return  # a missing key column is already a 'columns' error
    repeated = data.duplicated(subset=key, keep="first")
    if repeated.any():
        first = data.loc[repeated, key].iloc[0]
        shown = ", ".join(f"{c}={first[c]}" for c in key)
        report.error("duplicates", None, f"{int(repeated.sum())} row(s) repeat a key already seen "
                     f"({', '.join(key)}), e.g. {shown}", int(repeated.sum()))


def check_outliers(report: Report, data: pd.DataFrame, numbers: dict[str, pd.Series],
                   rule: dict[str, Any]) -> None:
    groups = [data[c] for c in rule["group_by"] if c in data.columns]
    within = f" within {', '.join(rule['group_by'])} groups" if groups else ""
    for name in rule["columns"]:
        values = numbers.get(name)
        if values is None or not values.notna().any():
            continue  # absent or non-numeric: reported by the other checks
        median, scale = robust_center_scale(values, groups)
        z = (values - median).abs() / scale.where(scale > 0)
        count, present = int((z > rule["robust_z"]).sum()), int(values.notna().sum())
        if not count:
            continue
        fraction = count / present
        message = (f"{count} value(s) ({fraction:.2%}) have a robust z-score above "
                   f"{rule['robust_z']:g}{within}; at most {rule['max_fraction']:.2%} allowed")
        if fraction > rule["max_fraction"]:
            report.error("outliers", name, message, count)
        else:
            report.warning("outliers", name, message, count)


def check(data: pd.DataFrame, schema: dict[str, Any]) -> Report:
    """Run every check of ``schema`` on ``data`` (all columns as text)."""
    report = Report(rows=len(data), columns=len(data.columns))
    columns: dict[str, dict[str, Any]] = schema["columns"]
    for name, spec in columns.items():
        if name not in data.columns and spec["required"]:
            report.error("columns", name, "required column is missing", 1)
    for name in data.columns:
        if name not in columns:
            message = "column is not declared in the schema"
            if schema["allow_extra_columns"]:
                report.warning("columns", str(name), message, 1)
            else:
                report.error("columns", str(name), message + " and extra columns are not allowed", 1)
    numbers: dict[str, pd.Series] = {}
    for name, spec in columns.items():
        if name in data.columns:
            number = check_column(report, name, data[name], spec)
            if number is not None:
                numbers[name] = number
    check_duplicates(report, data, schema["unique_key"])
    if schema["outliers"] is not None:
        check_outliers(report, data, numbers, schema["outliers"])
    if len(data) < schema["min_rows"]:
        report.error("rows", None, f"only {len(data)} row(s); at least {schema['min_rows']} required",
                     len(data))
    return report


def summary(report: Report) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [f"data check {verdict}: {report.rows} rows, {report.columns} columns, "
             f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"]
    for level, findings in (("error", report.errors), ("warning", report.warnings)):
        for f in findings:
            lines.append(f"  {level} [{f['check']}] {f['column'] or '-'}: {f['message']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="data_check", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the CSV file to check")
    parser.add_argument("--schema", type=Path, required=True, help="the schema JSON file")
    parser.add_argument("--report", type=Path, required=True, help="folder for report.json")
    args = parser.parse_args(argv)
    try:
        report = check(read_data(args.data), load_schema(args.schema))
    except StepError as exc:
        # Unreadable input: still leave a report behind, so whoever runs the check can show why.
        report = Report()
        report.error("read", None, exc.message, 1)
        try:
            _write(args.report, report)
        except StepError as unwritable:
            print(f"data_check: {unwritable.message}", file=sys.stderr)
        raise
    _write(args.report, report)
    if not report.passed:
        first = report.errors[0]
        where = f"{first['column']}: " if first["column"] else ""
        raise StepError(f"{len(report.errors)} check(s) failed, first [{first['check']}] {where}"
                        f"{first['message']}", EXIT_FAILED)


def _write(folder: Path, report: Report) -> None:
    print(summary(report))
    write_json(output_folder(folder, "report") / "report.json", report.to_json())


if __name__ == "__main__":
    sys.exit(run_step("data_check", main))

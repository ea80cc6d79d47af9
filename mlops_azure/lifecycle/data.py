"""Data assets and the data sanity gate."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_azure import contract
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import validate
from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.execution.runner import log_tail, run_component
from mlops_azure.lifecycle.refs import parse_ref
from mlops_azure.workspace import DataAsset, Workspace


def resolve_training_data(ws: Workspace, config: ProjectConfig, ref: str | None) -> DataAsset:
    """The data asset to train on: ``NAME[:VERSION]`` when given, else ``data.path`` uploaded."""
    if ref:
        name, version = parse_ref(ref, what="data asset")
        return ws.data.get(name, version)
    path = config.resolve(config.data.path)
    if not path.exists():
        raise UserInputError(
            f"data.path {config.data.path} does not exist under {config.root} "
            "(generate it with 'mlops init', or pass --data NAME:VERSION)"
        )
    return ws.data.upload(config.data.asset, path)


def local_data(ws: Workspace | None, source: str | Path) -> tuple[Path, str]:
    """A local file for ``source`` (a path, or a data asset ``azureml:NAME[:VERSION]``, fetched
    from the workspace) and how to name it in reports."""
    text = str(source)
    if not text.startswith("azureml:"):
        return Path(source), str(Path(source).resolve())
    name, version = parse_ref(text.removeprefix("azureml:"), what="data asset")
    if ws is None:
        raise UserInputError(f"{text}: a data asset needs a workspace")
    asset = ws.data.get(name, version)
    return ws.data.local_path(asset), f"data asset {asset.ref}"


@dataclass(frozen=True)
class DataCheckReport:
    """What the data check component found: errors fail the gate, warnings do not."""

    path: Path
    passed: bool
    rows: int
    columns: int
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "passed": self.passed, "rows": self.rows,
                "columns": self.columns, "errors": self.errors, "warnings": self.warnings}


def check_data(config: ProjectConfig, path: Path) -> DataCheckReport:
    """Run the project's data check component on ``path`` against ``data.schema``.

    The same component runs as the pipeline's first step, so this answer is the pipeline's.
    """
    if not path.is_file():
        raise UserInputError(f"{path}: no such data file")
    component = config.resolve(config.data.check_component)
    with tempfile.TemporaryDirectory(prefix="mlops-check-") as tmp:
        schema = Path(tmp) / "schema.json"
        schema.write_text(config.data.data_schema.to_json(), encoding="utf-8")
        ran = run_component(component, {"data": path.resolve(), "schema": schema}, Path(tmp) / "run")
        step = ran.steps[0]
        tail = log_tail(step.log_path, 5)
        # A failed step's outputs are not published, but a failed check still wrote its report.
        report = ran.outputs.get("report") or step.log_path.parents[1] / "outputs" / "report"
        try:
            doc = json.loads((report / contract.DATA_CHECK_REPORT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = None
    if step.exit_code == 2:
        first = (doc or {}).get("errors") or [{"message": tail or "unreadable input"}]
        message = str(first[0]["message"])
        raise UserInputError(message if path.name in message else f"{path}: {message}")
    if step.exit_code not in (0, 1) or doc is None:
        raise BackendError(f"the data check component {component} crashed "
                           f"(exit code {step.exit_code}): {tail}")
    found = validate(contract.DataCheckReport, doc, f"the data check component's "
                     f"{contract.DATA_CHECK_REPORT_FILE}", BackendError)
    return DataCheckReport(path, found.passed and step.exit_code == 0, found.rows, found.columns,
                           list(doc["errors"]), list(doc["warnings"]))

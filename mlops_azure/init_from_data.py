"""``mlops init DIR --data FILE --target COLUMN``: a working project made from the user's table.

The project is the generic template (``components/``, ``pipelines/``, ``environments/``) with an
``mlops.yaml`` written for the data: the inferred schema, the task and its champion metric, the
monitored features (the schema minus target, identifiers and time), a commented ``responsible:``
section naming candidate sensitive columns, and a ``sample-request.json`` of real rows. It is
built in a temporary folder beside the target and moved into place at the end, so a refused or
interrupted init leaves nothing half-written.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlops_azure.errors import UserInputError
from mlops_azure.schema_inference import InferredSchema, infer_schema, infer_task

if TYPE_CHECKING:
    import pandas as pd

    from mlops_azure.config import ProjectConfig

TEMPLATE_PARTS = ("components", "pipelines", "environments")
#: The champion metric of each task (its direction is known to mlops).
CHAMPION_METRIC = {"regression": "rmse", "classification": "auc"}
CHAMPION_DIRECTION = {"rmse": "minimize", "auc": "maximize"}
#: Column names that often hold a protected attribute: named in the commented responsible section.
_SENSITIVE = re.compile(r"(sex|gender|age|race|ethnic|religion|nationality|marital|disab|pregnan)",
                        re.IGNORECASE)
_NAME = re.compile(r"[^a-z0-9-]+")
#: A commented sweep of LightGBM's main hyper-parameters, for every generated mlops.yaml.
TUNING_SECTION = (
    "# Hyper-parameter tuning: uncomment to sweep the train step (Optuna on the embedded workspace,",
    "# a sweep job on Azure ML). Each trial trains on the earliest 80 % of the training rows, reports",
    "# the champion metric on the rest after every boosting round and is refit on all of them; the",
    "# best trial's model goes to the champion gate. `mlops experiments compare STUDY --html` shows it.",
    "# loguniform bounds are natural-log exponents: -4.6..-1.6 is a learning rate of 0.01..0.2.",
    "# tuning:",
    "#   search_space:",
    "#     n_estimators: {type: quniform, min_value: 100, max_value: 800, q: 50}",
    "#     learning_rate: {type: loguniform, min_value: -4.6, max_value: -1.6}",
    "#     num_leaves: {type: choice, values: [15, 31, 63, 127]}",
    "#     min_data_in_leaf: {type: quniform, min_value: 5, max_value: 60, q: 5}",
    "#   sampling_algorithm: {type: random, seed: 42}",
    "#   limits: {max_total_trials: 20, max_concurrent_trials: 2}",
    "#   early_termination: {type: median_stopping, evaluation_interval: 10, delay_evaluation: 50}",
)


@dataclass(frozen=True)
class InitFromData:
    """What ``init_from_data`` made."""

    root: Path
    source: Path
    data_file: str
    rows: int
    target: str
    task: str
    features: list[str]
    id_columns: list[str]
    split: str
    metric: str
    notes: list[str] = field(default_factory=list)
    #: Files of the folder's ``.azure-pipelines/`` and ``tests/`` kept instead of mlops's (edited
    #: since mlops init wrote them, or never written by it).
    kept: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "root": str(self.root), "source": str(self.source)}


def read_table(path: Path) -> pd.DataFrame:
    """The user's CSV or Parquet file, every column as text (types are inferred, not guessed by
    the reader); ``UserInputError`` naming the file when it cannot be read."""
    import pandas as pd

    if not path.is_file():
        raise UserInputError(f"--data {path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            try:
                frame = pd.read_parquet(path)
            except ImportError:
                raise UserInputError(f"--data {path}: reading Parquet needs pyarrow "
                                     "(pip install pyarrow), or give a CSV file") from None
            return frame.astype("string").astype(object).where(frame.notna(), None)
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    except UserInputError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserInputError(f"--data {path} is not a readable CSV or Parquet file ({first})") from None


def _check_columns(frame: pd.DataFrame, path: Path, target: str, ids: list[str],
                   time_column: str | None) -> None:
    if frame.empty:
        raise UserInputError(f"--data {path} has no rows")
    named = [("--target", target), *(("--id-columns", c) for c in ids),
             *((("--time-column", time_column),) if time_column else ())]
    for flag, column in named:
        if column not in frame.columns:
            shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if frame.shape[1] > 12 else "")
            raise UserInputError(f"{flag} '{column}' is not a column of {path} (columns: {shown})")
    odd = [str(c) for c in frame.columns if "," in str(c) or not str(c).strip()]
    if odd:
        raise UserInputError(f"{path}: column name {odd[0]!r} is empty or holds a comma; rename it")
    if target in ids or target == time_column:
        raise UserInputError(f"--target '{target}' cannot also be an identifier or the time column")


def _task(frame: pd.DataFrame, target: str, task: str | None) -> str:
    import pandas as pd

    found = infer_task(frame[target], target) if task is None else task
    if found not in ("regression", "classification"):
        raise UserInputError(f"--task must be regression or classification, not '{found}'")
    values = frame[target].dropna()
    if found == "classification" and values.nunique() != 2:
        shown = ", ".join(map(str, sorted(values.unique())[:5]))
        raise UserInputError(f"--target '{target}' has {values.nunique()} classes ({shown}"
                             f"{', ...' if values.nunique() > 5 else ''}): only binary classification "
                             "is supported (multiclass is not yet)")
    if found == "regression" and pd.to_numeric(values, errors="coerce").isna().any():
        raise UserInputError(f"--target '{target}' holds text, so it cannot be regressed: use "
                             "--task classification")
    return found


def _features(schema: InferredSchema, target: str, time_column: str | None) -> tuple[list[str], list[str]]:
    """(numeric, categorical) features as the template's prep chooses them from the schema."""
    left_out = {target, *schema.id_columns, *([time_column] if time_column else [])}
    kept = {c: s["type"] for c, s in schema.columns.items() if c not in left_out}
    return ([c for c, t in kept.items() if t in ("integer", "float")],
            [c for c, t in kept.items() if t in ("string", "boolean")])


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()


def render_config(*, name: str, source: str, data_file: str, target: str, task: str, time_column: str | None,
                  schema: InferredSchema, numeric: list[str], categorical: list[str]) -> str:
    """``mlops.yaml`` for the project, with comments saying what each section does."""
    metric = CHAMPION_METRIC[task]
    ids = schema.id_columns
    # Text with an allowed list, and booleans, are categories drift can compare.
    monitored_text = [c for c in categorical if c not in schema.empty and (
        "allowed" in schema.columns[c] or schema.columns[c]["type"] == "boolean")]
    monitored_numbers = [c for c in numeric if c not in schema.empty]
    named = [c for c in [*categorical, *numeric] if _SENSITIVE.search(c)]
    # Groups are exact values: a float column (a scaled age) must be binned before it can be one.
    sensitive = [c for c in named if schema.columns[c]["type"] not in ("float", "date")]
    to_bin = [c for c in named if c not in sensitive]
    columns = "\n".join(f"      {json.dumps(c)}: {_flow(s)}" for c, s in schema.columns.items())
    params = {"target": target, "task": task, "id_columns": ",".join(ids) or "none",
              "time_column": time_column or "none", "holdout_fraction": 0.2, "seed": 42,
              "n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20}
    lines = [
        f"# mlops-azure project made by `mlops init --data` from {source}, predicting {target}.",
        "# Relative paths are relative to this file. ${VAR} and ${VAR:-default} read the environment.",
        f"project: {name}",
        "",
        "model:",
        f"  name: {name}-model",
        f"  task: {task}",
        f"  description: Predicts {target} ({task}).",
        "",
        "# local: the embedded workspace in .mlops/ (no Azure account needed); azure: Azure ML.",
        "backend: ${MLOPS_BACKEND:-local}",
        "",
        "azure:",
        "  # Blank: config.json from the Azure ML studio, or AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP",
        "  # and AZUREML_WORKSPACE_NAME. Sign-in is DefaultAzureCredential; no secret goes here.",
        "  subscription_id: ${AZURE_SUBSCRIPTION_ID:-}",
        "  resource_group: ${AZURE_RESOURCE_GROUP:-}",
        "  workspace_name: ${AZUREML_WORKSPACE_NAME:-}",
        "  compute: cpu-cluster",
        "",
        "data:",
        f"  asset: {name}-data",
        f"  path: {data_file}",
        f"  target: {json.dumps(target)}",
        f"  id_columns: {_flow(ids)}",
        *([f"  time_column: {json.dumps(time_column)}"] if time_column else []),
        "  # Inferred from the data: ranges have a 10 % margin, text with few values lists them.",
        "  # The data check (a pipeline step, and `mlops data check`) holds new data to it.",
        "  schema:",
        f"    min_rows: {schema.min_rows}",
        *([f"    unique_key: {_flow(schema.unique_key)}"] if schema.unique_key else []),
        "    columns:",
        columns,
        "",
        "training:",
        "  pipeline: pipelines/training.yml",
        f"  experiment: {name}",
        "  # The pipeline's inputs: what to predict, how to split, LightGBM's hyper-parameters.",
        f"  params: {_flow(params)}",
        "",
        *TUNING_SECTION,
        "",
        "# The champion/challenger gate: a candidate must beat the model serving in production (or,",
        "# before the first release, the latest registered version) on the same holdout.",
        "champion:",
        f"  metric: {metric}",
        f"  direction: {CHAMPION_DIRECTION[metric]}",
        "  min_rel_improvement: 0.0",
        "",
        "stages:",
        "  staging:",
        f"    endpoint: {name}-staging",
        "    target: local",
        "  production:",
        f"    endpoint: {name}-production",
        "    target: local",
        "    requires_approval: true",
        "",
        "# Drift monitoring (mlops monitor drift): the features compared with the training data, never",
        "# the target, identifiers or time (inference data has no target). A feature drifts at PSI >= 0.25,",
        "# Jensen-Shannon >= 0.1, or KS p <= 0.05 with Wasserstein >= 0.1 std. The dataset drifts (exit 1;",
        "# --retrain retrains) when half the features drifted (drifted_share), a critical feature reached",
        "# its PSI level on its own, or the predictions drifted; the output names the rule. A window of",
        "# fewer than min_rows rows gets no verdict. The tool's own QA and rollout requests never count.",
        "monitoring:",
        f"  numeric: {_flow(monitored_numbers)}",
        f"  categorical: {_flow(monitored_text)}",
        "  # drifted_share: 0.5",
        f"  # critical: {{{json.dumps((monitored_numbers or monitored_text or ['<feature>'])[0])}: 1.0}}",
        "  # min_rows: 500",
        "",
        "# Responsible ML: quality per group of sensitive columns, the worst cohorts and a model card",
        "# with every registered version. Uncomment and name the columns that hold protected groups"
        + (" (by their names, candidates here are: " + ", ".join(sensitive) + ")." if sensitive else "."),
        *([f"# {', '.join(to_bin)} may hold one too, but as floats: bin them into text or integer "
           "columns first."] if to_bin else []),
        "# responsible:",
        f"#   sensitive: {_flow(sensitive[:2] or ['<column>'])}",
        "#   min_group_size: 30",
        "#   policy:",
        "#     on_registration: warn",
    ]
    return "\n".join(lines) + "\n"


def _sample_request(frame: pd.DataFrame, features: list[str], numeric: list[str],
                    rows: int = 5) -> dict[str, Any]:
    """The first rows with a value in every feature (else the first rows), features only."""
    import pandas as pd

    complete = frame[features].dropna()
    head = (complete if len(complete) >= rows else frame[features]).head(rows)
    records = []
    for _, row in head.iterrows():
        record: dict[str, Any] = {}
        for name in features:
            value = row[name]
            if value is None or (isinstance(value, float) and pd.isna(value)):
                record[name] = None
            elif name in numeric:
                number = float(value)
                record[name] = int(number) if number.is_integer() and "." not in str(value) else number
            else:
                record[name] = str(value)
        records.append(record)
    return {"data": records}


def _project_name(target: Path, name: str | None) -> str:
    found = _NAME.sub("-", (name or target.name).lower()).strip("-")[:40].strip("-")
    if not found or not found[0].isalnum():
        raise UserInputError(f"cannot make a project name from '{name or target.name}': pass --name")
    return found


def init_from_data(target: Path, data: Path, *, column: str, task: str | None = None,
                   time_column: str | None = None, id_columns: list[str] | None = None,
                   name: str | None = None, force: bool = False) -> InitFromData:
    """Make a project in folder ``target`` for the table ``data``, predicting ``column``
    (``task`` inferred from it when None)."""
    from mlops_azure.project_ci import PipelineValues, folder_in_repository, write_project_ci
    from mlops_azure.templates import (
        copy_parts,
        generic_template_root,
        project_target,
        staged_project,
    )

    ids = list(dict.fromkeys(id_columns or []))
    root = project_target(target, (*TEMPLATE_PARTS, "mlops.yaml", "data", "sample-request.json"),
                          force=force)
    frame = read_table(data)
    _check_columns(frame, data, column, ids, time_column)
    found_task = _task(frame, column, task)
    schema = infer_schema(frame, target=column, id_columns=ids, time_column=time_column)
    numeric, categorical = _features(schema, column, time_column)
    if not numeric and not categorical:
        raise UserInputError(f"{data}: no feature columns are left once the target, identifiers and "
                             "time column are set aside")
    project = _project_name(root, name)
    data_file = f"data/{_NAME.sub('-', data.stem.lower()).strip('-') or 'data'}.csv"
    config = render_config(name=project, source=data.name, data_file=data_file, target=column,
                           task=found_task, time_column=time_column, schema=schema,
                           numeric=numeric, categorical=categorical)
    request = _sample_request(frame, [*numeric, *categorical], numeric)
    kept: list[str] = []
    with staged_project(root, kept) as staging:
        copy_parts(generic_template_root(), staging, TEMPLATE_PARTS)
        (staging / "data").mkdir()
        if data.suffix.lower() == ".csv":
            shutil.copy2(data, staging / data_file)
        else:
            frame.to_csv(staging / data_file, index=False, lineterminator="\n")
        (staging / "mlops.yaml").write_text(config, encoding="utf-8")
        (staging / "sample-request.json").write_text(json.dumps(request, indent=2) + "\n", encoding="utf-8")
        written = _validate(staging / "mlops.yaml")
        write_project_ci(staging, PipelineValues(name=project, data_asset=written.data.asset,
                                                 data_path=data_file,
                                                 project_dir=folder_in_repository(root)))
    split = f"time split on {time_column}" if time_column else (
        "stratified random split" if found_task == "classification" else "random split")
    return InitFromData(root, data, data_file, len(frame), column, found_task, [*numeric, *categorical],
                        schema.id_columns, split, CHAMPION_METRIC[found_task], schema.notes, kept)


def _validate(config_file: Path) -> ProjectConfig:
    """The written config must load: a bug here must not leave the user a broken project."""
    from mlops_azure.config import load_config

    return load_config(config_file)

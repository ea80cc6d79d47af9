"""The contract between the tool and a project, written once: every file and variable mlops reads
from a project's steps and scripts, or passes to them.

A project's components never import this module (they run on Azure ML without mlops); the tool
validates what they wrote against it, naming the file and the field. ``docs/project-contract.md``
explains it with a minimal complete project. Documents allow extra fields: a project may write
more than the tool reads. Import-light on purpose: pydantic and the standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_azure.errors import MlopsError

#: Bumped when a project must change to keep working with the tool.
CONTRACT_VERSION = "1"

#: A number in a document: an int or a float (NaN allowed, the gate refuses it itself); never a
#: bool or a numeric string.
Number = Annotated[float, Field(strict=True)]


class _Document(BaseModel):
    """A file or body a project writes: typed fields the tool reads, extra fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True,
                              populate_by_name=True)


# -- the training pipeline -----------------------------------------------------------------------
#: Pipeline inputs mlops binds itself at every training (``--param`` cannot set them).
RESERVED_INPUTS = ("raw_data", "schema", "champion_model")
#: Pipeline outputs mlops reads after the job: the model folder it registers, and metrics.json.
REQUIRED_OUTPUTS = ("model", "metrics")
#: Pipeline outputs mlops reads when present (the demo and ``mlops data check`` use them).
OPTIONAL_OUTPUTS = ("prepared", "check_report")
#: The component tag that declares the metrics an evaluate component writes (comma-separated):
#: ``tags: {mlops.metrics: "mae,rmse,wape"}``. Checked against ``champion.metric`` before the
#: pipeline is submitted; a component without it is checked only after the run.
METRICS_TAG = "mlops.metrics"


class ReservedInputs(_Document):
    """The inputs mlops binds on every training pipeline (declare all three)."""

    raw_data: str
    """``uri_file``: the training data asset version (a CSV file)."""
    schema_file: str = Field(alias="schema")
    """``uri_file``: ``data.schema`` of mlops.yaml as JSON, for the data check step."""
    champion_model: str | None = None
    """``uri_folder``: the model to beat, left unbound when there is none yet (the component
    input reading it must say ``optional: true``)."""


class PartitionInputs(_Document):
    """Bound only when mlops.yaml has a ``partitions`` section (many models)."""

    partition_levels: str
    """The ``partitions.levels`` columns, comma-separated, coarsest first."""
    model_levels: str
    """The levels that get a model of their own, comma-separated."""
    min_partition_rows: int
    """A partition with fewer training rows gets no model of its own."""
    max_failed_partitions: int
    """How many partition models may fail before the step fails."""
    champion_metric: str
    """``champion.metric``: the per-partition champion gate's metric."""
    champion_direction: Literal["minimize", "maximize"]
    """``champion.direction``."""
    min_abs_improvement: float
    """``champion.min_abs_improvement``."""
    min_rel_improvement: float
    """``champion.min_rel_improvement``."""


class MitigationInputs(_Document):
    """Bound only when mlops.yaml sets ``responsible.mitigation.reweight_by``."""

    reweight_by: str
    """The column whose groups the train step reweights (it then writes ``mitigation.json``)."""


# -- metrics.json (output ``metrics``) -----------------------------------------------------------
METRICS_FILE = "metrics.json"
#: metric name -> value on the holdout, e.g. ``{"mae": 3.1, "rmse": 4.7, "wape": 0.21}``.
MetricValues = dict[str, Number]


class PredictionsPointer(_Document):
    """Where the per-row holdout predictions are, for the responsible-ML checks."""

    file: str
    """A CSV file in the ``metrics`` output with the holdout's raw columns (those the
    ``responsible`` section names) and the two columns below."""
    actual: str
    """The column holding the true target."""
    predicted: str
    """The column holding the candidate's prediction."""


class PartitionOutcomes(_Document):
    """Many models: what the evaluate step's per-partition gate did."""

    summary: dict[str, int]
    """Partitions per outcome: ``improved``, ``kept``, ``regressed``, ``failed``, ``new``."""
    global_outcome: str | None = Field(None, alias="global")
    """The global model's outcome (``improved`` counts as a gain)."""


class MetricsFile(_Document):
    """``metrics.json`` in the ``metrics`` output: both models scored on the same holdout."""

    candidate: MetricValues
    """The candidate's metrics; must include ``champion.metric``."""
    champion: MetricValues | None = None
    """The champion's metrics on the same rows; null when no ``champion_model`` was bound, and
    required when one was."""
    holdout: dict[str, str | int | float] = Field(default_factory=dict)
    """What the holdout was (e.g. ``start``, ``end``, ``rows``, ``sha256``); each entry becomes
    ``holdout_<key>`` in the registered model's lineage."""
    predictions: PredictionsPointer | None = None
    """Required when mlops.yaml has a ``responsible`` section."""
    partitions: PartitionOutcomes | None = None
    """Present only for partitioned models; then the gate registers when anything improved."""


# -- the model folder (output ``model``, registered as is) ---------------------------------------
PARITY_FILE = "parity.json"
REFERENCE_PREDICTIONS_FILE = "reference-predictions.json"
FEATURES_FILE = "features.json"
MITIGATION_FILE = "mitigation.json"
#: Written by the evaluate step beside metrics.json, not in the model folder.
EXPLANATIONS_FILE = "explanations.json"
PARTITION_INDEX_FILE = "partitions/index.json"
#: Files every registered model folder must hold: without ``parity.json`` the QA gate's parity
#: check can never pass, so a model lacking it is refused right after training.
REQUIRED_MODEL_FILES = (PARITY_FILE,)


#: The top-level body key marking a request the tool sent itself (the QA gate's, a rollout's
#: probes), valued ``"qa"`` or ``"rollout"``: the scoring script ignores it, its collector does not
#: record such a request, and readers of collected data drop one (see :mod:`mlops_azure.probes`).
PROBE_KEY = "mlops_probe"


class ScoreRequest(_Document):
    """The body ``run()`` receives: rows as records, or pandas' split orientation with
    ``columns``. Categoricals as text, numbers as JSON numbers, null for missing. Keys the script
    does not know are ignored."""

    data: list[Any] = Field(min_length=1)
    """Records ``[{feature: value, ...}]``, or lists of values in ``columns`` order."""
    columns: list[str] | None = None
    """Present for the split orientation."""
    explain: bool = False
    """``mlops explain`` asks for per-row contributions (``explanations`` in the response)."""
    mlops_probe: str | None = None
    """``PROBE_KEY``: set on the tool's own requests, which are not production data."""


class ParityFile(_Document):
    """``parity.json``: holdout rows as a scoring request with the model's offline predictions;
    the QA gate sends the request to the endpoint and compares."""

    request: ScoreRequest
    """The rows, as the endpoint receives them."""
    predictions: list[Number]
    """The offline prediction of each row, in order (as many as rows)."""

    @model_validator(mode="after")
    def _one_prediction_per_row(self) -> ParityFile:
        if len(self.predictions) != len(self.request.data):
            raise ValueError(f"holds {len(self.predictions)} predictions for "
                             f"{len(self.request.data)} request rows")
        return self


class ReferencePredictionsFile(_Document):
    """``reference-predictions.json``: the model's predictions on its holdout, the reference of
    prediction drift (optional: without it prediction drift is skipped)."""

    predictions: list[Number]


class FeaturesFile(_Document):
    """``features.json`` (optional): what ``mlops score batch`` reads as text."""

    keys: list[str] = Field(default_factory=list)
    """Columns identifying a row (copied to the forecast)."""
    id_columns: list[str] = Field(default_factory=list)
    """The template's name for the identifier columns (read as text like ``keys``)."""
    categorical_features: list[str] = Field(default_factory=list)
    """Features whose values are labels (so ``007`` stays ``"007"``)."""


class MitigationFile(_Document):
    """``mitigation.json`` (optional, written when ``reweight_by`` is bound): the holdout metric
    overall and per group, with and without the mitigation, for the model card."""

    method: str | None = None
    by: str | None = None
    metric: str | None = None
    before: dict[str, Any] = Field(default_factory=dict)
    """``{"overall": number, "groups": {group: number}}`` without the mitigation."""
    after: dict[str, Any] = Field(default_factory=dict)
    """The same with it."""


class ExplanationsFile(_Document):
    """``explanations.json`` in the ``metrics`` output (optional): the model card's importance,
    SHAP summary and example explanations."""

    method: str | None = None
    """How the contributions were computed, and in which space."""
    gain: dict[str, Number] = Field(default_factory=dict)
    mean_abs_shap: dict[str, Number] = Field(default_factory=dict)
    base_value: Number | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    """feature -> ``{"values": [scaled value or null], "shap": [contribution]}``."""
    examples: list[dict[str, Any]] = Field(default_factory=list)
    """``{"row": {...}, "prediction": number, "contributions": {feature: number}}``."""


class PartitionIndexFile(_Document):
    """``partitions/index.json`` of a partitioned model: read by the project's own scripts (and
    documented here so a template and the tool agree); the tool does not read it."""

    levels: list[str]
    model_levels: list[str]
    min_rows: int
    partitions: dict[str, Any]


# -- the data check step (output ``check_report``) -----------------------------------------------
DATA_CHECK_REPORT_FILE = "report.json"


class DataCheckFinding(_Document):
    check: str
    """The rule that fired (e.g. ``min_rows``, ``allowed``)."""
    message: str
    """One sentence naming the column and the value."""
    column: str | None = None
    count: int | None = None


class DataCheckReport(_Document):
    """``report.json`` in the data check's ``report`` output; the step exits 0 (passed), 1
    (failed: errors) or 2 (unreadable input)."""

    passed: bool
    rows: int
    columns: int
    errors: list[DataCheckFinding]
    warnings: list[DataCheckFinding]


# -- the scoring scripts -------------------------------------------------------------------------
#: Top-level functions of an online scoring script (``stages.<s>.scoring_script``):
#: ``init()`` loads the model from ``$AZUREML_MODEL_DIR``; ``run(raw_data)`` answers one request
#: (``raw_data`` is the body as text) with a :class:`ScoreResponse`, or a 4xx
#: ``AMLResponse`` with an :class:`ErrorResponse` for a malformed request, never a 500.
SCORE_FUNCTIONS = ("init", "run")
#: Top-level functions of the batch scoring script (``batch.scoring_script``); ``preload()`` is
#: optional and ``run(mini_batch)`` serves Azure ML batch deployments.
BATCH_SCORE_FUNCTIONS = ("init", "score_frame")


class RowExplanation(_Document):
    base_value: Number
    contributions: dict[str, Number]
    """feature -> contribution; with the base value they add up to the prediction."""


class ScoreResponse(_Document):
    """What ``run()`` answers: one finite prediction per row, in order."""

    predictions: list[Number]
    explanations: list[RowExplanation] | None = None
    """One per row, only when the request said ``"explain": true``."""


class ErrorResponse(_Document):
    """The JSON body of a 4xx answer."""

    error: str
    """One sentence naming the row and feature at fault."""


class CollectedRecord(_Document):
    """One line of the request log the scoring script writes under ``$MLOPS_COLLECT_DIR``
    (JSON Lines): what ``mlops monitor drift --stage`` reads as production data."""

    time: Number
    """Unix seconds."""
    request: Any
    """The request body as received (a :class:`ScoreRequest`)."""
    predictions: list[Number]
    deployment: str | None = None
    model: str | None = None
    request_id: str | None = None


# -- variables -----------------------------------------------------------------------------------
class Variable(BaseModel):
    """An environment variable mlops sets for a project's process."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    name: str
    where: Literal["step", "deployment"]
    """``step``: every pipeline step the embedded workspace runs (Azure ML sets its own);
    ``deployment``: scoring processes."""
    meaning: str


VARIABLES = (
    Variable(name="AZUREML_RUN_ID", where="step", meaning="this step's run id"),
    Variable(name="AZUREML_ROOT_RUN_ID", where="step", meaning="the pipeline job's id"),
    Variable(name="AZUREML_PIPELINE_STEP", where="step", meaning="the step's name in the pipeline"),
    Variable(name="MLOPS_JOB_ID", where="step", meaning="the job id mlops reports (local only)"),
    Variable(name="AZUREML_MODEL_DIR", where="deployment",
             meaning="the registered model folder (search it recursively: Azure ML mounts the "
                     "model one folder deeper)"),
    Variable(name="AZUREML_ENTRY_SCRIPT", where="deployment", meaning="the scoring script's path"),
    Variable(name="AML_APP_ROOT", where="deployment", meaning="the deployed code folder"),
    Variable(name="MLOPS_COLLECT_DIR", where="deployment",
             meaning="local endpoints with collection on: the folder to append request records "
                     "to (see CollectedRecord)"),
    Variable(name="MLOPS_DEPLOYMENT", where="deployment",
             meaning="the deployment's name, for the request records"),
    Variable(name="MLOPS_MODEL", where="deployment",
             meaning="NAME:VERSION of the served model, for the request records"),
    Variable(name="MLOPS_COLLECT_AZUREML", where="deployment",
             meaning="'true' on Azure ML deployments with the online data collector on"),
)


# -- reading ------------------------------------------------------------------------------------
D = TypeVar("D", bound=BaseModel)


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def violation(exc: ValidationError, where: str) -> str:
    """One sentence naming ``where`` (the file), the first field at fault and what is wrong."""
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    field = _field(tuple(first["loc"]))
    if not field:
        return f"{where} {message}"
    if first["type"] == "missing":
        return f"{where} has no field '{field}'"
    return f"{where}: field '{field}' {message.replace('input should', 'should')}"


def validate(model: type[D], document: Any, where: str,
             error: type[MlopsError] = MlopsError) -> D:
    """``document`` as ``model``; ``error`` with one sentence naming ``where`` and the field."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise error(violation(exc, where)) from None


def load_json(path: Path, where: str | None = None,
              error: type[MlopsError] = MlopsError) -> Any:
    """The JSON document in ``path``; ``error`` naming the file when it is missing or not JSON."""
    shown = where or str(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{shown} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise error(f"{shown} is not readable JSON ({exc})") from None


def read_document(model: type[D], path: Path, where: str | None = None,
                  error: type[MlopsError] = MlopsError) -> D:
    """Read the JSON file ``path`` as ``model``; ``error`` naming the file (and the field) when
    it is missing, not JSON, or not what the contract says."""
    shown = where or str(path)
    return validate(model, load_json(path, shown, error), shown, error)


def find_in_model(folder: Path, name: str) -> Path | None:
    """The file ``name`` of the model in ``folder``: directly in it, or (Azure ML mounts a model
    one folder deeper) the shallowest below it; partition models lie deeper still. None when absent."""
    direct = folder / name
    if direct.is_file():
        return direct
    found = sorted(folder.rglob(name), key=lambda p: (len(p.parts), p)) if folder.is_dir() else []
    return found[0] if found else None


def declared_metrics(tags: Mapping[str, Any], task: str | None = None) -> tuple[str, ...] | None:
    """The metrics a component's :data:`METRICS_TAG` declares (``mlops.metrics.<task>`` first,
    for a component that serves several tasks); None without the tag."""
    raw = tags.get(f"{METRICS_TAG}.{task}") if task else None
    raw = tags.get(METRICS_TAG) if raw is None else raw
    if raw is None:
        return None
    return tuple(m.strip() for m in str(raw).split(",") if m.strip())


__all__ = [
    "BATCH_SCORE_FUNCTIONS", "CONTRACT_VERSION", "DATA_CHECK_REPORT_FILE", "EXPLANATIONS_FILE",
    "FEATURES_FILE", "METRICS_FILE", "METRICS_TAG", "MITIGATION_FILE", "OPTIONAL_OUTPUTS",
    "PARITY_FILE", "PARTITION_INDEX_FILE", "REFERENCE_PREDICTIONS_FILE", "REQUIRED_MODEL_FILES",
    "REQUIRED_OUTPUTS", "RESERVED_INPUTS", "SCORE_FUNCTIONS", "VARIABLES", "CollectedRecord",
    "DataCheckFinding", "DataCheckReport", "ErrorResponse", "ExplanationsFile", "FeaturesFile",
    "MetricValues", "MetricsFile", "MitigationFile", "MitigationInputs", "Number",
    "ParityFile", "PartitionIndexFile", "PartitionInputs", "PartitionOutcomes",
    "PredictionsPointer", "ReferencePredictionsFile", "ReservedInputs", "RowExplanation",
    "ScoreRequest", "ScoreResponse", "Variable", "declared_metrics", "find_in_model", "load_json",
    "read_document", "validate", "violation",
]

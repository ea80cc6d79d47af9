"""The typed project configuration, read from ``mlops.yaml``.

Strings may use ``${VAR}`` or ``${VAR:-default}`` to read the environment, so secrets and
subscription ids stay out of the file. Relative paths are relative to the config file's folder.
Every problem is reported as one sentence naming the file, the key path and what is wrong.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops_azure._yaml import SAFE_LOADER
from mlops_azure.errors import UserInputError
from mlops_azure.workspace import is_asset_name, is_endpoint_name

DEFAULT_CONFIG = Path("mlops.yaml")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """Expectations on one column of the training data."""

    type: Literal["string", "integer", "float", "date", "boolean"]
    required: bool = True
    max_null_fraction: float = Field(0.0, ge=0.0, le=1.0)
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None

    @model_validator(mode="after")
    def _range_is_ordered(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class OutlierRule(_Strict):
    """Robust z-score rule: |x - median| / (1.4826 MAD) above ``robust_z`` is an outlier."""

    columns: list[str]
    group_by: list[str] = []
    robust_z: float = Field(8.0, gt=0)
    max_fraction: float = Field(0.01, ge=0.0, le=1.0)


class DataSchema(_Strict):
    """The data sanity gate: what the data check component verifies."""

    columns: dict[str, ColumnSpec]
    unique_key: list[str] = []
    min_rows: int = Field(1, ge=0)
    allow_extra_columns: bool = True
    outliers: OutlierRule | None = None

    @model_validator(mode="after")
    def _keys_are_columns(self) -> DataSchema:
        named = set(self.columns)
        for key in self.unique_key:
            if key not in named:
                raise ValueError(f"unique_key names '{key}', which is not a declared column")
        if self.outliers:
            for col in [*self.outliers.columns, *self.outliers.group_by]:
                if col not in named:
                    raise ValueError(f"outliers names '{col}', which is not a declared column")
        return self

    def to_json(self) -> str:
        """The JSON document the ``data_check`` component reads."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)


class DataConfig(_Strict):
    asset: str = "training-data"
    path: Path = Path("data/purchases.csv")
    data_schema: DataSchema = Field(alias="schema")
    #: The component that checks data against the schema, in the pipeline and in `mlops data check`.
    check_component: Path = Path("components/data_check/data_check.yml")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("asset")
    @classmethod
    def _asset_name(cls, value: str) -> str:
        return _check_asset_name(value)


class TrainingConfig(_Strict):
    pipeline: Path = Path("pipelines/training.yml")
    experiment: str = "training"
    #: Values for the pipeline's primitive inputs (hyper-parameters, holdout size).
    params: dict[str, int | float | str | bool] = {}


class ChampionPolicy(_Strict):
    """When a candidate beats the champion: strictly better by both minimums."""

    metric: str = "wape"
    direction: Literal["minimize", "maximize"] = "minimize"
    min_abs_improvement: float = Field(0.0, ge=0.0)
    min_rel_improvement: float = Field(0.0, ge=0.0)


#: Printed when a stage says ``target: aci``.
ACI_NOTE = ("target 'aci' is read as 'managed': ACI web services exist only in the v1 SDK, and "
            "managed online endpoints are their documented successor")


class StageConfig(_Strict):
    """A release stage: the endpoint that serves it, what kind of target it is, what it runs."""

    endpoint: str
    target: Literal["local", "managed", "kubernetes", "aci"] = "local"
    requires_approval: bool = False
    instance_type: str | None = None
    #: Instances serving each deployment (locally: server worker processes).
    instance_count: int = Field(1, ge=1, le=64)
    request_timeout_ms: int = Field(5000, ge=100, le=180_000)
    #: The folder deployed as scoring code, and the entry script inside it.
    code: Path = Path("components")
    scoring_script: str = "score/score.py"
    environment: Path = Path("environments/inference.yml")
    #: Kubernetes targets: the attached AKS compute that hosts the endpoint.
    compute: str | None = None

    @property
    def kind(self) -> Literal["local", "managed", "kubernetes"]:
        """The target kind, with ``aci`` read as ``managed`` (see :data:`ACI_NOTE`)."""
        return "managed" if self.target == "aci" else self.target

    @field_validator("endpoint")
    @classmethod
    def _endpoint_name(cls, value: str) -> str:
        if not is_endpoint_name(value):
            raise ValueError(
                f"'{value}' is not a valid endpoint name (3-32 characters: letters, digits and "
                "hyphens, starting with a letter)"
            )
        return value


class QaPolicy(_Strict):
    """Thresholds of the QA gate (``mlops gate qa``)."""

    #: Rows of the model's parity sample scored through the endpoint.
    parity_rows: int = Field(200, ge=1)
    #: |online - offline| <= abs + rel * |offline| for every row.
    parity_abs_tolerance: float = Field(1e-6, ge=0.0)
    parity_rel_tolerance: float = Field(1e-6, ge=0.0)
    #: Requests timed for the latency SLO.
    latency_requests: int = Field(100, ge=5)
    p50_ms: float = Field(100.0, gt=0)
    p95_ms: float = Field(250.0, gt=0)
    max_error_rate: float = Field(0.0, ge=0.0, le=1.0)


class RolloutPolicy(_Strict):
    """How ``mlops promote`` shifts traffic to a new deployment, and what stops it."""

    #: Traffic shares (%) of the new deployment, in order; the last must be 100.
    steps: list[int] = [10, 50, 100]
    warmup_requests: int = Field(20, ge=0)
    #: Requests sent to the new deployment after each step before the next one.
    requests_per_step: int = Field(50, ge=1)
    max_error_rate: float = Field(0.0, ge=0.0, le=1.0)
    p95_ms: float = Field(500.0, gt=0)
    #: Keep the previous deployment (at 0 %) so ``mlops rollback`` is instant.
    keep_previous: bool = True

    @field_validator("steps")
    @classmethod
    def _steps_rise_to_100(cls, value: list[int]) -> list[int]:
        if not value or value[-1] != 100:
            raise ValueError("must end at 100")
        if any(not 0 < v <= 100 for v in value) or value != sorted(set(value)):
            raise ValueError(f"must rise strictly between 1 and 100 (got {value})")
        return value


class AzureConfig(_Strict):
    """Azure ML workspace coordinates; blanks fall back to config.json or ``AZURE_*`` variables."""

    subscription_id: str | None = None
    resource_group: str | None = None
    workspace_name: str | None = None
    config_file: Path | None = None
    #: The training cluster (AmlCompute, scales to 0 nodes when idle) and its VM size.
    compute: str = "cpu-cluster"
    compute_size: str = "Standard_DS3_v2"
    compute_max_nodes: int = Field(4, ge=1, le=100)
    #: The attached AKS compute that hosts ``kubernetes`` endpoints (a stage's ``compute`` wins).
    kubernetes_compute: str | None = None
    #: Transient faults (429, 5xx, dropped connections) are retried this many times.
    retries: int = Field(4, ge=0, le=10)
    retry_backoff_s: float = Field(0.8, ge=0, le=60)
    #: Longest wait for a long-running operation (endpoint, deployment, compute).
    operation_timeout_s: float = Field(1800.0, gt=0)
    #: How often a running job's status is asked for.
    poll_interval_s: float = Field(10.0, gt=0, le=600)

    def coordinates(self, root: Path) -> tuple[str, str, str]:
        """(subscription, resource group, workspace) from this section, else ``config.json``
        (the file ``MLClient.from_config`` reads), else ``AZURE_SUBSCRIPTION_ID``,
        ``AZURE_RESOURCE_GROUP`` and ``AZUREML_WORKSPACE_NAME``."""
        found = {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.workspace_name,
        }
        candidates = [self.config_file] if self.config_file else [
            Path("config.json"), Path(".azureml/config.json")
        ]
        for candidate in candidates:
            file = candidate if candidate.is_absolute() else root / candidate
            if file.is_file():
                try:
                    data = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise UserInputError(f"{file}: not a readable JSON file: {exc}") from None
                for key in found:
                    found[key] = found[key] or data.get(key)
                break
            if self.config_file:
                raise UserInputError(f"{file}: azure.config_file does not exist")
        env = {
            "subscription_id": "AZURE_SUBSCRIPTION_ID",
            "resource_group": "AZURE_RESOURCE_GROUP",
            "workspace_name": "AZUREML_WORKSPACE_NAME",
        }
        for key, var in env.items():
            found[key] = found[key] or os.environ.get(var)
        missing = [k for k, v in found.items() if not v]
        if missing:
            raise UserInputError(
                f"azure.{missing[0]} is not set in mlops.yaml, config.json or ${env[missing[0]]}"
            )
        return (str(found["subscription_id"]), str(found["resource_group"]),
                str(found["workspace_name"]))


class LocalConfig(_Strict):
    workspace_dir: Path = Path(".mlops")


class ModelConfig(_Strict):
    name: str
    description: str = ""

    @field_validator("name")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return _check_asset_name(value)


class MonitoringConfig(_Strict):
    """Drift monitoring: the features compared with the training data, and the thresholds."""

    #: Deployments record each request and its predictions (locally in the workspace; on Azure
    #: ML through its online data collector).
    collect: bool = True
    #: Default: the schema's integer and float columns; and its string columns with ``allowed``.
    numeric: list[str] | None = None
    categorical: list[str] | None = None
    psi_major: float = Field(0.25, gt=0)
    js: float = Field(0.1, gt=0, le=1)
    wasserstein: float = Field(0.1, gt=0)
    ks_p: float = Field(0.05, gt=0, lt=1)
    #: The dataset drifts when at least this share of the features drifted.
    drifted_share: float = Field(0.5, gt=0, le=1)
    #: Who Azure ML model monitoring (``mlops monitor setup``) emails when drift is found.
    alert_emails: list[str] = Field(default_factory=list)

    def features(self, schema: DataSchema) -> tuple[list[str], list[str]]:
        """(numeric, categorical) feature names, declared or derived from the data schema."""
        numeric = self.numeric if self.numeric is not None else [
            name for name, spec in schema.columns.items() if spec.type in ("integer", "float")]
        categorical = self.categorical if self.categorical is not None else [
            name for name, spec in schema.columns.items()
            if spec.type == "string" and spec.allowed and name not in schema.unique_key]
        return list(numeric), list(categorical)


class ProjectConfig(_Strict):
    """The whole of ``mlops.yaml``."""

    project: str
    model: ModelConfig
    backend: Literal["local", "azure"] = "local"
    local: LocalConfig = LocalConfig()
    azure: AzureConfig = AzureConfig()
    data: DataConfig
    training: TrainingConfig = TrainingConfig()
    champion: ChampionPolicy = ChampionPolicy()
    stages: dict[str, StageConfig] = {}
    qa: QaPolicy = QaPolicy()
    rollout: RolloutPolicy = RolloutPolicy()
    monitoring: MonitoringConfig = MonitoringConfig()

    #: Folder holding the config file; relative paths are resolved against it.
    root: Path = Field(Path("."), exclude=True)

    def resolve(self, path: Path) -> Path:
        """``path`` made absolute against the project folder."""
        return path if path.is_absolute() else (self.root / path)

    @property
    def workspace_dir(self) -> Path:
        return self.resolve(self.local.workspace_dir)

    @property
    def production_stage(self) -> StageConfig | None:
        """The stage called ``production``, else the last stage declared (None without stages)."""
        if "production" in self.stages:
            return self.stages["production"]
        return list(self.stages.values())[-1] if self.stages else None

    def notes(self, backend: str | None = None) -> list[str]:
        """Things worth telling the user about how this config will be read (not errors)."""
        found = []
        for name, stage in self.stages.items():
            if stage.target == "aci":
                found.append(f"stages.{name}: {ACI_NOTE}")
            if (backend or self.backend) == "local" and stage.kind != "local":
                found.append(f"stages.{name}: target '{stage.target}' is served as a local endpoint "
                             "by the embedded workspace (set backend: azure to use Azure ML)")
        return found

    def stage(self, name: str) -> StageConfig:
        try:
            return self.stages[name]
        except KeyError:
            known = ", ".join(sorted(self.stages)) or "none"
            raise UserInputError(f"unknown stage '{name}' (stages in mlops.yaml: {known})") from None


def _check_asset_name(value: str) -> str:
    if not is_asset_name(value):
        raise ValueError(
            f"'{value}' is not a valid asset name (letters, digits, '-', '_' and '.', "
            "starting with a letter or digit)"
        )
    return value


def _expand(value: Any, where: str, file: Path) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of the parsed document."""
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else str(k), file) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise UserInputError(f"{file}: {where}: environment variable {name} is not set")

    return _ENV_REF.sub(substitute, value)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def load_config(path: Path | None = None) -> ProjectConfig:
    """Read and validate ``mlops.yaml``; raise ``UserInputError`` with one sentence on any problem."""
    file = Path(path) if path is not None else DEFAULT_CONFIG
    if not file.is_file():
        raise UserInputError(
            f"{file}: no such config file (run 'mlops init' to create a project, or pass --config)"
        )
    try:
        raw = yaml.load(file.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserInputError(f"{file}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{file}: cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"{file}: expected a mapping of settings at the top level")
    raw = _expand(raw, "", file)
    raw["root"] = file.resolve().parent
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown setting"
        elif first["type"] == "missing":
            message = "required setting is missing"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise UserInputError(f"{file}: {_location(first['loc'])}: {message}{more}") from None


__all__ = [
    "ACI_NOTE",
    "AzureConfig",
    "ChampionPolicy",
    "ColumnSpec",
    "DataConfig",
    "DataSchema",
    "LocalConfig",
    "ModelConfig",
    "MonitoringConfig",
    "OutlierRule",
    "ProjectConfig",
    "QaPolicy",
    "RolloutPolicy",
    "StageConfig",
    "TrainingConfig",
    "load_config",
]

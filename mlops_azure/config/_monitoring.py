"""``monitoring:``: what is collected, which features drift checks compare, the thresholds, and
the rules that make the whole dataset drift."""

from __future__ import annotations

from pydantic import Field, field_validator

from mlops_azure.config._base import _Strict
from mlops_azure.config._data import DataConfig


class MonitoringConfig(_Strict):
    """Drift monitoring: the features compared with the training data, and the thresholds.

    The dataset drifts when at least ``drifted_share`` of the features drifted, or a
    ``critical`` feature reached its PSI level, or the predictions drifted; a window of fewer
    than ``min_rows`` rows is not judged."""

    #: Deployments record each request and its predictions (locally in the workspace; on Azure
    #: ML through its online data collector).
    collect: bool = True
    #: Default: the schema's integer and float columns; and its string columns with ``allowed``.
    #: Neither default holds the target, the id columns, the time column (nor, for text, the
    #: unique key): inference requests carry no target, and ids and times always "drift".
    numeric: list[str] | None = None
    categorical: list[str] | None = None
    psi_major: float = Field(0.25, gt=0)
    js: float = Field(0.1, gt=0, le=1)
    wasserstein: float = Field(0.1, gt=0)
    ks_p: float = Field(0.05, gt=0, lt=1)
    chi2_p: float = Field(0.05, gt=0, lt=1)
    #: The dataset drifts when at least this share of the features drifted.
    drifted_share: float = Field(0.5, gt=0, le=1)
    #: Feature -> PSI level: that feature's PSI at or above its level drifts the dataset on its
    #: own, whatever the share of drifted features (e.g. ``{price: 1.0}``).
    critical: dict[str, float] = Field(default_factory=dict)
    #: A window of fewer rows gets no verdict (its metrics are still shown): at the default
    #: thresholds, identical data would "drift" at 100 rows (see mlops_azure.monitoring.drift).
    min_rows: int = Field(500, ge=1)
    #: Who Azure ML model monitoring (``mlops monitor setup``) emails when drift is found.
    alert_emails: list[str] = Field(default_factory=list)

    @field_validator("critical")
    @classmethod
    def _levels_are_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for feature, level in value.items():
            if not level > 0:
                raise ValueError(f"the PSI level of '{feature}' must be greater than 0, not {level}")
        return value

    def features(self, data: DataConfig) -> tuple[list[str], list[str]]:
        """(numeric, categorical) feature names: declared, or derived from the data schema less
        the target, the id columns and the time column."""
        schema = data.data_schema
        never = {*data.not_features, *([data.time_column] if data.time_column else [])}
        numeric = self.numeric if self.numeric is not None else [
            name for name, spec in schema.columns.items()
            if spec.type in ("integer", "float") and name not in never]
        categorical = self.categorical if self.categorical is not None else [
            name for name, spec in schema.columns.items()
            if spec.type == "string" and spec.allowed and name not in never
            and name not in schema.unique_key]
        return list(numeric), list(categorical)

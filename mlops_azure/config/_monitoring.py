"""``monitoring:``: what is collected, which features drift checks compare, the thresholds."""

from __future__ import annotations

from pydantic import Field

from mlops_azure.config._base import _Strict
from mlops_azure.config._data import DataSchema


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
    chi2_p: float = Field(0.05, gt=0, lt=1)
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

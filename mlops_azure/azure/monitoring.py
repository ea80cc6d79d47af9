"""``create_drift_monitor`` on Azure ML: a ``MonitorSchedule`` with data and prediction drift.

Azure ML model monitoring runs on serverless Spark, reads the deployment's data collector
output (``model_inputs`` / ``model_outputs``, which mlops turns on with ``monitoring.collect``)
and compares it with a reference. The reference here is the monitored model's own training data,
wrapped in an ``MLTable`` that points at the registered CSV (monitoring reads tables, not bare
files): nothing is copied. A drift signal takes one metric per data type, so each of mlops.yaml's
thresholds gets a signal of its own: PSI, Jensen-Shannon, normalised Wasserstein (numeric only),
and the two tests (KS for numbers, chi-squared for categories); the predictions get normalised
Wasserstein.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from mlops_azure.azure.blobs import parse_datastore_uri
from mlops_azure.azure.connection import AzurePart
from mlops_azure.azure.schedules import sdk_trigger
from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.monitoring.collected import window_seconds
from mlops_azure.records import DriftMonitor, ScheduleTrigger
from mlops_azure.rules import check_schedule_name, check_trigger
from mlops_azure.workspace import DriftMonitors

#: Serverless Spark for the monitoring jobs (the smallest size Azure ML offers for them).
SPARK_INSTANCE_TYPE = "standard_e4s_v3"
SPARK_RUNTIME = "3.4"
MLTABLE_SUFFIX = "-mltable"
#: The schedule tag that keeps the monitor's settings, so that it can be re-targeted as they are.
MONITOR_TAG = "mlops.monitor"
ASSET_ID = re.compile(r"/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$", re.IGNORECASE)


def iso_window(window: str) -> str:
    """``7d`` / ``2w`` / ``12h`` / ``30m`` as the ISO 8601 duration a monitor's lookback takes."""
    seconds = int(window_seconds(window))
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    return f"PT{seconds // 60}M"


def monitor_to_json(monitor: DriftMonitor) -> str:
    return json.dumps(asdict(monitor), sort_keys=True, separators=(",", ":"))


def monitor_from_json(text: str) -> DriftMonitor:
    raw = json.loads(text)
    raw["trigger"] = ScheduleTrigger(**raw["trigger"])
    for key in ("numeric", "categorical", "emails"):
        raw[key] = tuple(raw.get(key) or ())
    return DriftMonitor(**raw)


def mltable_text(csv_uri: str) -> str:
    """An MLTable reading one CSV file (with a header row) at ``csv_uri``."""
    return (f"paths:\n  - file: {csv_uri}\ntransformations:\n  - read_delimited:\n"
            "      delimiter: ','\n      header: all_files_same_headers\n      encoding: utf8\n")


class AzureMonitoring(AzurePart, DriftMonitors):
    """Drift monitors as Azure ML ``MonitorSchedule`` resources."""

    def _reference_table(self, reference: str) -> str:
        """``azureml:NAME-mltable:VERSION``: an MLTable over data asset ``reference``, made once."""
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Data

        from mlops_azure.azure.blobs import datastore_uri

        name, _, version = reference.rpartition(":")
        table = f"{name}{MLTABLE_SUFFIX}"
        with self.call(f"reading data asset {reference}"):
            source = self.ml.data.get(name, version=str(version))
        try:
            with self.call(f"reading data asset {table}:{version}"):
                self.ml.data.get(table, version=str(version))
            return f"azureml:{table}:{version}"
        except NotFoundError:
            pass  # the first monitor of this data: make the table
        datastore, path = parse_datastore_uri(str(source.path))
        folder = f"mlops/mltable/{name}/{version}"
        with self.call(f"writing the MLTable of {reference}"):
            self.store.container.upload_blob(
                f"{folder}/MLTable", mltable_text(datastore_uri(datastore, path)).encode(),
                overwrite=True)
        asset = Data(name=table, version=str(version), type=AssetTypes.MLTABLE,
                     path=datastore_uri(self.datastore_name, folder),
                     description=f"The training data {reference} as a table, for model monitoring.")
        with self.call(f"registering data asset {table}:{version}"):
            self.ml.data.create_or_update(asset)
        return f"azureml:{table}:{version}"

    def _collected_assets(self, endpoint: str, deployment: str) -> dict[str, str]:
        """``azureml:NAME:VERSION`` of the data assets the deployment's collector writes, per
        collection (``model_inputs``, ``model_outputs``): the monitor's production data."""
        with self.call(f"reading deployment {endpoint}/{deployment}"):
            found = self.ml.online_deployments.get(deployment, endpoint)
        collector = getattr(found, "data_collector", None)
        assets = {}
        for name, collection in (getattr(collector, "collections", None) or {}).items():
            data = str(getattr(collection, "data", "") or "")
            parsed = ASSET_ID.search(data)
            if parsed:
                assets[name] = f"azureml:{parsed['name']}:{parsed['version']}"
        missing = [c for c in ("model_inputs", "model_outputs") if c not in assets]
        if missing:
            raise UserInputError(
                f"deployment {endpoint}/{deployment} collects no {' or '.join(missing)}: model "
                "monitoring reads them (set monitoring.collect: true and deploy again)")
        return assets

    def create(self, monitor: DriftMonitor) -> None:
        """Create or replace the ``MonitorSchedule`` named ``monitor.name``."""
        from azure.ai.ml import Input
        from azure.ai.ml.constants import MonitorDatasetContext
        from azure.ai.ml.entities import (
            AlertNotification,
            BaselineDataRange,
            CategoricalDriftMetrics,
            DataDriftMetricThreshold,
            DataDriftSignal,
            MonitorDefinition,
            MonitoringTarget,
            MonitorSchedule,
            NumericalDriftMetrics,
            PredictionDriftMetricThreshold,
            PredictionDriftSignal,
            ProductionData,
            ReferenceData,
            ServerlessSparkCompute,
        )

        check_schedule_name(monitor.name)
        check_trigger(monitor.trigger)
        lookback = iso_window(monitor.window)
        table = self._reference_table(monitor.reference_data)
        collected = self._collected_assets(monitor.endpoint, monitor.deployment)
        target = {"target_column": monitor.target} if monitor.target else None

        def reference() -> Any:
            # One per signal: the SDK rewrites an input in place when it resolves it. The
            # target column is named, else Azure ML takes it for one more feature.
            return ReferenceData(input_data=Input(path=table, type="mltable"),
                                 data_context=MonitorDatasetContext.TRAINING,
                                 data_column_names=target)

        def production(collection: str, context: Any) -> Any:
            # --window: how far back each run reads what the deployment collected.
            return ProductionData(
                input_data=Input(path=collected[collection], type="uri_folder"),
                data_context=context,
                data_window=BaselineDataRange(lookback_window_size=lookback,
                                              lookback_window_offset="P0D"))
        features = [*monitor.numeric, *monitor.categorical]

        def drift(numeric: dict[str, Any], categorical: dict[str, Any] | None) -> Any:
            return DataDriftSignal(
                production_data=production("model_inputs", MonitorDatasetContext.MODEL_INPUTS),
                reference_data=reference(),
                features=features if categorical else list(monitor.numeric),
                metric_thresholds=DataDriftMetricThreshold(
                    numerical=NumericalDriftMetrics(**numeric),
                    categorical=CategoricalDriftMetrics(**categorical) if categorical else None),
                alert_enabled=True)

        signals: dict[str, Any] = {
            "drift-psi": drift({"population_stability_index": monitor.psi},
                               {"population_stability_index": monitor.psi}),
            "drift-js": drift({"jensen_shannon_distance": monitor.js},
                              {"jensen_shannon_distance": monitor.js}),
            "drift-tests": drift({"two_sample_kolmogorov_smirnov_test": monitor.ks_p},
                                 {"pearsons_chi_squared_test": monitor.chi2_p}),
            # No reference given: the deployment's own earlier outputs, Azure ML's default.
            "prediction-drift": PredictionDriftSignal(
                production_data=production("model_outputs", MonitorDatasetContext.MODEL_OUTPUTS),
                metric_thresholds=PredictionDriftMetricThreshold(
                    numerical=NumericalDriftMetrics(
                        normalized_wasserstein_distance=monitor.wasserstein)),
                alert_enabled=True),
        }
        if monitor.numeric:
            signals["drift-wasserstein"] = drift(
                {"normalized_wasserstein_distance": monitor.wasserstein}, None)
        definition = MonitorDefinition(
            compute=ServerlessSparkCompute(instance_type=SPARK_INSTANCE_TYPE,
                                           runtime_version=SPARK_RUNTIME),
            monitoring_target=MonitoringTarget(
                ml_task=monitor.task,
                endpoint_deployment_id=f"azureml:{monitor.endpoint}:{monitor.deployment}"),
            monitoring_signals=signals,
            alert_notification=AlertNotification(emails=list(monitor.emails))
            if monitor.emails else None)
        schedule = MonitorSchedule(name=monitor.name,
                                   trigger=sdk_trigger(monitor.trigger, f"monitor '{monitor.name}'"),
                                   create_monitor=definition,
                                   tags={MONITOR_TAG: monitor_to_json(monitor)})
        doing = f"creating monitor {monitor.name}"
        with self.call(doing):
            self.finish(self.ml.schedules.begin_create_or_update(schedule), doing)

    def get(self, name: str) -> DriftMonitor | None:
        """The monitor ``name`` as mlops created it, or None when there is none (or it was not
        made by mlops)."""
        try:
            with self.call(f"reading monitor {name}"):
                found = self.ml.schedules.get(name)
        except NotFoundError:
            return None
        text = (getattr(found, "tags", None) or {}).get(MONITOR_TAG)
        return monitor_from_json(text) if text else None

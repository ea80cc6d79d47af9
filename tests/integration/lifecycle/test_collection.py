"""Collection through a real local deployment with two workers under concurrent requests, then
drift of what was recorded against the model's training data."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.lifecycle.monitoring import check_drift
from mlops_azure.lifecycle.release import deploy
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.monitoring.collected import read_collected

REQUESTS = 120


def test_every_request_is_recorded_and_drift_reads_them(released_project: ProjectConfig) -> None:
    config_file = released_project.root / "mlops.yaml"
    document = yaml.safe_load(config_file.read_text())
    document["stages"]["staging"]["instance_count"] = 2
    config_file.write_text(yaml.safe_dump(document))
    config = load_config(config_file)
    ws = open_workspace(config)
    deploy(ws, config, "steel-purchase-forecast:2", "staging")
    request = json.loads((Path(config.root) / "sample-request.json").read_text())

    def call(_: int) -> int:
        with ScoringClient.for_endpoint(ws, "steel-staging") as client:
            return client.score(request).status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(call, range(REQUESTS))) == {200}
    folder = ws.collected_data_dir("steel-staging")
    assert folder is not None
    rows = read_collected(folder, 3600)
    assert len(rows) == REQUESTS * len(request["data"])
    assert set(rows["model"]) == {"steel-purchase-forecast:2"}
    assert rows["prediction"].notna().all()
    assert len({p.name.split("-")[1] for p in folder.glob("*.jsonl")}) == 2  # both workers wrote

    checked = check_drift(ws, config, stage="staging", window="1h",
                          model="steel-purchase-forecast:2")
    assert checked.current == "requests to stage staging in the last 1h"
    assert {f.feature for f in checked.report.features} == {
        "price_eur_per_tonne", "promotion", "segment", "region", "company_size"}
    # The recorded predictions against the model's own holdout predictions: prediction drift.
    assert checked.report.prediction is not None
    assert checked.report.prediction.kind == "prediction"
    assert checked.report.rows_current == REQUESTS * len(request["data"])

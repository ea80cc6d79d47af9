"""``mlops ui`` on ``--backend azure``: the same pages read the simulated Azure ML workspace (the
real azure-ai-ml SDK, Azurite for the audit trail) as they read the embedded one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlops_azure.webapp import UiSettings, create_app
from tests.e2e.conftest import MODEL


def test_the_pages_read_an_azure_ml_workspace(cloud_project: Path, mlops: Any,
                                              tmp_path: Path) -> None:
    mlops("infra", "ensure")
    mlops("train", "-p", "n_estimators=40")
    mlops("deploy", f"{MODEL}:1", "--stage", "staging")
    mlops("gate", "qa", "--stage", "staging", "--model", f"{MODEL}:1")
    client = create_app(UiSettings(config_path=cloud_project / "mlops.yaml",
                                   secret_key=os.urandom(32), scratch_dir=tmp_path / "ui",
                                   flask={"TESTING": True})).test_client()
    status = client.get("/").get_data(as_text=True)
    staging = status[status.index('data-stage="staging"'):]
    assert f"{MODEL}:1" in staging[:staging.index("</tr>")]
    assert "· azure" in status and "Application Insights" in status
    assert "gate.qa" in status
    version = client.get(f"/models/{MODEL}/1")
    html = version.get_data(as_text=True)
    assert version.status_code == 200, html[-2000:]
    assert "steel-purchases:1" in html and "Champion gate: <strong>first</strong>" in html
    card = client.get(f"/models/{MODEL}/1/card")
    assert card.status_code == 200 and "Intended use" in card.get_data(as_text=True)
    assert client.get("/models").status_code == 200

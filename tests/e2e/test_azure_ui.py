"""``mlops ui`` on ``--backend azure``: the same pages read the simulated Azure ML workspace (the
real azure-ai-ml SDK, Azurite for the audit trail) as they read the embedded one."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_azure.webapp import UiSettings, create_app
from tests.e2e.conftest import MODEL
from tests.integration.webapp.conftest import csrf_of
from tests.integration.webapp.test_predict_page import _form, _post


def _invoked(root: Path, row: dict[str, str], mlops: Any, tmp_path: Path) -> float:
    """``mlops invoke --stage staging`` for the form's row, typed as the form sends it."""
    from mlops_azure.project import Project
    from mlops_azure.webapp._forms import parse_row
    from mlops_azure.webapp._model_inputs import model_inputs

    found = Project.load(root)
    inputs = model_inputs(found.workspace, found.config, "azure", MODEL, 1)
    request = tmp_path / "row.json"
    request.write_text(json.dumps({"data": [parse_row(inputs.specs(found.config), row).row]}))
    return float(mlops("invoke", "--stage", "staging", "--file", str(request))["response"][
        "predictions"][0])


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

    # A prediction from the form, through the managed endpoint, equals `mlops invoke`.
    form = client.get("/predict?stage=staging")
    html = form.get_data(as_text=True)
    assert form.status_code == 200, html[-2000:]
    answer = _post(client, html, stage="staging")
    shown = answer.get_data(as_text=True)
    assert answer.status_code == 200, shown[-2000:]
    row = {k[2:]: v for k, v in _form(html).fields.items() if k.startswith("f.")}
    assert float(re.search(r'data-value="([^"]+)"', shown).group(1)) == _invoked(
        cloud_project, row, mlops, tmp_path)

    # A CSV through the same endpoint, audited in the blob-backed trail.
    rows = json.loads((cloud_project / "sample-request.json").read_text())["data"]
    upload = client.post("/predict/csv", data={
        "csrf_token": csrf_of(html), "stage": "staging",
        "file": (io.BytesIO(pd.DataFrame(rows * 50).to_csv(index=False).encode()), "rows.csv")},
        content_type="multipart/form-data")
    assert upload.status_code == 303, upload.get_data(as_text=True)[-2000:]
    job = upload.headers["Location"]
    deadline = time.monotonic() + 120
    while 'data-state="running"' in (page := client.get(job).get_data(as_text=True)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert 'data-state="done"' in page, page[-2000:]
    scored = pd.read_csv(io.BytesIO(client.get(f"{job}/download").data))
    assert len(scored) == len(rows) * 50 and scored["prediction"].notna().all()
    assert "ui.score" in client.get("/audit").get_data(as_text=True)

"""When production's server process dies, the status page says so and the prediction form says
the endpoint did not answer (503 with a sentence), without a 500 or a traceback."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient

from mlops_azure.config import ProjectConfig
from tests.integration.webapp.test_predict_page import _post


def test_a_dead_deployment_shows_on_the_status_page_and_the_form(
        released_v1: ProjectConfig, make_client: Callable[..., FlaskClient],
        server_pid: Callable[[Path, str, str], int]) -> None:
    client = make_client(released_v1)
    endpoint = released_v1.stage("production").endpoint
    pid = server_pid(released_v1.root / ".mlops", endpoint, "v001")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)

    status = client.get("/").get_data(as_text=True)
    production = status[status.index('data-stage="production"'):]
    row = production[:production.index("</tr>")]
    assert 'class="bad"' in row and "is not running" in row

    answer = _post(client, client.get("/predict?stage=production").get_data(as_text=True))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 503, page[-1500:]
    assert "the production endpoint did not answer" in page

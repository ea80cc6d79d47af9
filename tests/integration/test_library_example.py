"""examples/library_usage.py, run as a user runs it, on a fresh `mlops init` project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "library_usage.py"


@pytest.mark.slow
def test_the_library_example_trains_deploys_and_gates(project: ProjectConfig) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                      os.environ.get("PYTHONPATH")]))}
    ws = open_workspace(project)
    try:
        done = subprocess.run([sys.executable, str(EXAMPLE), str(project.root)], capture_output=True,
                              text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        ref = f"{project.model.name}:1"
        assert f"registered {ref}" in done.stdout
        assert f"QA gate passed for {ref}" in done.stdout
        assert f"staging: {ref} 100% (Succeeded)" in done.stdout
        # What the script did is in the audit trail, where `mlops approve` looks for evidence.
        gates = ws.events.recent(1, action="gate.qa", subject=ref)
        assert gates and gates[0].details["passed"]
    finally:
        for endpoint in ws.endpoints.all():
            ws.endpoints.delete(endpoint.name)

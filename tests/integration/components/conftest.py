"""Run the example's components exactly as the local runner does: the YAML's command with its
placeholders filled in, through ``bash -c`` in the component's ``code`` folder, with the current
interpreter first on PATH."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from mlops_azure.example import write_purchases

COMPONENTS = Path(__file__).resolve().parents[3] / "examples" / "steel" / "components"
#: The generic template's components (what ``mlops init --data`` writes into a project).
TEMPLATE_COMPONENTS = Path(__file__).resolve().parents[3] / "components"
_PLACEHOLDER = re.compile(r"\$\{\{(inputs|outputs)\.(\w+)\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]")

#: The data schema as the lead's config code writes it (the documented contract).
SCHEMA: dict[str, Any] = {
    "columns": {
        "period": {"type": "date"},
        "organisation_id": {"type": "string"},
        "customer_id": {"type": "string"},
        "material_id": {"type": "string"},
        "segment": {"type": "string", "allowed": ["construction", "automotive", "machinery", "energy"]},
        "region": {"type": "string", "allowed": ["north", "south", "east", "west"]},
        "company_size": {"type": "string", "allowed": ["small", "medium", "large"]},
        "price_eur_per_tonne": {"type": "float", "min": 100, "max": 5000, "max_null_fraction": 0.02},
        "promotion": {"type": "integer", "min": 0, "max": 1},
        "quantity_tonnes": {"type": "float", "min": 0, "max": 100000},
    },
    "unique_key": ["period", "organisation_id", "customer_id", "material_id"],
    "min_rows": 100,
    "allow_extra_columns": True,
    "outliers": {"columns": ["quantity_tonnes"], "group_by": ["customer_id", "material_id"],
                 "robust_z": 8.0, "max_fraction": 0.01},
}

RunComponent = Callable[[str, Mapping[str, object], Mapping[str, Path]],
                        "subprocess.CompletedProcess[str]"]


def render(component: Mapping[str, Any], inputs: Mapping[str, object],
           outputs: Mapping[str, Path]) -> str:
    """The component's command with defaults applied and every placeholder shell-quoted."""
    values = {name: spec["default"] for name, spec in component["inputs"].items() if "default" in spec}
    values.update(inputs)

    def keep_optional(match: re.Match[str]) -> str:
        needed = [name for kind, name in _PLACEHOLDER.findall(match.group(1)) if kind == "inputs"]
        return match.group(1) if all(name in values for name in needed) else ""

    def fill(match: re.Match[str]) -> str:
        source: Mapping[str, object] = values if match.group(1) == "inputs" else outputs
        return shlex.quote(str(source[match.group(2)]))

    return _PLACEHOLDER.sub(fill, _OPTIONAL.sub(keep_optional, component["command"]))


def run(name: str, inputs: Mapping[str, object], outputs: Mapping[str, Path], *,
        root: Path = COMPONENTS, env: Mapping[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Component ``name`` of ``root`` (the steel example's by default), with ``env`` added."""
    file = root / name / f"{name}.yml"
    component = yaml.safe_load(file.read_text(encoding="utf-8"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "2", **(env or {})}
    return subprocess.run(["bash", "-c", render(component, inputs, outputs)],
                          cwd=(file.parent / component["code"]).resolve(), env=env,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="session")
def run_component() -> RunComponent:
    return run


@pytest.fixture
def schema() -> dict[str, Any]:
    """A fresh copy of the schema, to alter in one test."""
    return copy.deepcopy(SCHEMA)


@pytest.fixture(scope="session")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small but realistic: 2 organisations x 3 customers x 4 materials x 30 months = 720 rows."""
    return write_purchases(tmp_path_factory.mktemp("data") / "purchases.csv", organisations=2,
                           customers_per_organisation=3, materials=4, months=30)


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, small_data: Path, schema_file: Path
            ) -> dict[str, Path]:
    """data_check → prep → train (default and weak) → evaluate with the weak model as champion."""
    root = tmp_path_factory.mktemp("pipeline")
    paths = {n: root / n for n in ("report", "prepared", "model", "weak", "metrics")}
    _ok(run("data_check", {"data": small_data, "schema": schema_file}, {"report": paths["report"]}))
    _ok(run("prep", {"raw_data": small_data, "check_report": paths["report"]},
            {"prepared": paths["prepared"]}))
    _ok(run("train", {"prepared": paths["prepared"]}, {"model": paths["model"]}))
    _ok(run("train", {"prepared": paths["prepared"], "n_estimators": 3}, {"model": paths["weak"]}))
    _ok(run("evaluate", {"model": paths["model"], "prepared": paths["prepared"],
                         "champion_model": paths["weak"]}, {"metrics": paths["metrics"]}))
    return paths


SCORE = COMPONENTS / "score" / "score.py"


@pytest.fixture
def load_score(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """``load_score(model_dir)``: score.py loaded by path as the inference server loads it, over
    the model in ``model_dir``, with ``init()`` done."""

    def load(model_dir: Path, module_name: str = "steel_score_under_test") -> ModuleType:
        monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
        spec = importlib.util.spec_from_file_location(module_name, SCORE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.init()
        return module

    return load


@pytest.fixture
def through_server(tmp_path: Path) -> Callable[[str, Path, Any], Any]:
    """``through_server(code, model_dir, payload)``: run ``code`` in a fresh process where
    ``client`` is a test client of the inference server's app serving score.py over ``model_dir``
    and ``payload`` is ``payload`` round-tripped through JSON; returns what ``code`` put in ``out``."""

    def run(code: str, model_dir: Path, payload: Any) -> Any:
        script = tmp_path / "serve.py"
        script.write_text(
            "import json, sys\n"
            "from azureml_inference_server_http.server.create_app import create\n"
            "client = create().test_client()\n"
            "payload = json.loads(open(sys.argv[1]).read())\n"
            + code + "\nopen(sys.argv[2], 'w').write(json.dumps(out))\n", encoding="utf-8")
        (tmp_path / "payload.json").write_text(json.dumps(payload), encoding="utf-8")
        env = {**os.environ, "AZUREML_ENTRY_SCRIPT": str(SCORE), "AZUREML_MODEL_DIR": str(model_dir),
               "AML_APP_ROOT": str(SCORE.parent)}
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "payload.json"),
                               str(tmp_path / "out.json")], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))

    return run

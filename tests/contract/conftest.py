"""Fixtures for the Workspace contract suite: one ``workspace`` per backend, and a tiny pipeline.

Everything backend-specific lives here; the tests speak only the ``Workspace`` interface, so a new
backend joins by adding a name to ``BACKENDS`` and a branch to ``workspace`` and ``tamper``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.local import LocalWorkspace
from mlops_azure.workspace import InputValue, Job, Lineage, PipelineSubmission, Workspace

BACKENDS = ["local", "azure"]

COMPONENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json"
PIPELINE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"

PREP_YAML = f"""\
$schema: {COMPONENT_SCHEMA}
name: contract_prep
version: "1"
type: command
inputs:
  raw: {{type: uri_file}}
  factor: {{type: integer, default: 2}}
  fail: {{type: boolean, default: false}}
outputs:
  prepared: {{type: uri_folder}}
code: ./src
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
command: >-
  python prep.py --raw ${{{{inputs.raw}}}} --factor ${{{{inputs.factor}}}}
  --fail ${{{{inputs.fail}}}} --out ${{{{outputs.prepared}}}}
"""

TRAIN_YAML = f"""\
$schema: {COMPONENT_SCHEMA}
name: contract_train
version: "1"
type: command
inputs:
  prepared: {{type: uri_folder}}
outputs:
  model: {{type: uri_folder}}
code: ./src
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
command: python train.py --prepared ${{{{inputs.prepared}}}} --model ${{{{outputs.model}}}}
"""

PIPELINE_YAML = f"""\
$schema: {PIPELINE_SCHEMA}
type: pipeline
experiment_name: contract
display_name: contract-pipeline
inputs:
  raw: {{type: uri_file}}
  factor: 2
  fail: false
outputs:
  model: {{type: uri_folder}}
jobs:
  prep:
    type: command
    component: ./components/prep.yml
    inputs:
      raw: ${{{{parent.inputs.raw}}}}
      factor: ${{{{parent.inputs.factor}}}}
      fail: ${{{{parent.inputs.fail}}}}
  train:
    type: command
    component: ./components/train.yml
    inputs:
      prepared: ${{{{parent.jobs.prep.outputs.prepared}}}}
    outputs:
      model: ${{{{parent.outputs.model}}}}
"""

PREP_PY = """\
import argparse, pathlib, sys

parser = argparse.ArgumentParser()
for flag in ("--raw", "--factor", "--fail", "--out"):
    parser.add_argument(flag, required=True)
args = parser.parse_args()
print(f"prep: reading {pathlib.Path(args.raw).name}")
if args.fail == "True":
    print("prep: asked to fail", file=sys.stderr)
    sys.exit(3)
numbers = [int(word) for word in pathlib.Path(args.raw).read_text().split()]
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "numbers.txt").write_text(" ".join(str(n * int(args.factor)) for n in numbers))
print(f"prep: wrote {len(numbers)} numbers")
"""

TRAIN_PY = """\
import argparse, json, pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--prepared", required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()
numbers = [int(w) for w in (pathlib.Path(args.prepared) / "numbers.txt").read_text().split()]
model = pathlib.Path(args.model)
model.mkdir(parents=True, exist_ok=True)
(model / "model.json").write_text(json.dumps({"total": sum(numbers), "count": len(numbers)}))
print(f"train: total={sum(numbers)}")
"""

#: The numbers in the raw input file; the trained "model" is their doubled sum.
RAW_NUMBERS = [3, 1, 4, 1, 5, 9, 2, 6]


@pytest.fixture(params=BACKENDS)
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    """A fresh, empty workspace on each backend."""
    if request.param == "local":
        return LocalWorkspace(tmp_path / "workspace")
    if request.param == "azure":  # over the simulated Azure ML service and Azurite
        return request.getfixturevalue("azure_workspace")  # type: ignore[no-any-return]
    raise AssertionError(f"no fixture for backend {request.param}")


@pytest.fixture
def tamper(workspace: Workspace) -> Callable[[str], None]:
    """Alter the stored content behind an asset's ``path`` the way a backend's storage could."""

    def alter(stored: str) -> None:
        if workspace.backend == "local":
            path = Path(stored)
            target = path if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())[0]
            target.write_bytes(target.read_bytes() + b"tampered")
            return
        if workspace.backend == "azure":
            from mlops_azure.azure.blobs import parse_datastore_uri

            datastore, prefix = parse_datastore_uri(stored)
            folder = workspace.conn.folder(datastore)  # type: ignore[attr-defined]
            name = sorted(folder.names(prefix.rstrip("/")))[0]
            folder.container.upload_blob(name, folder.read(name) + b"tampered", overwrite=True)
            return
        raise AssertionError(f"no tamper for backend {workspace.backend}")

    return alter


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    """A 2-step Azure ML pipeline (prep → train) with its command components and scripts."""
    project = tmp_path / "project"
    src = project / "components" / "src"
    src.mkdir(parents=True)
    (project / "components" / "prep.yml").write_text(PREP_YAML, encoding="utf-8")
    (project / "components" / "train.yml").write_text(TRAIN_YAML, encoding="utf-8")
    (src / "prep.py").write_text(PREP_PY, encoding="utf-8")
    (src / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    pipeline = project / "pipeline.yml"
    pipeline.write_text(PIPELINE_YAML, encoding="utf-8")
    return pipeline


@pytest.fixture
def raw_file(tmp_path: Path) -> Path:
    path = tmp_path / "numbers.txt"
    path.write_text(" ".join(map(str, RAW_NUMBERS)) + "\n", encoding="utf-8")
    return path


SubmitFn = Callable[..., PipelineSubmission]


@pytest.fixture
def submission(pipeline_file: Path, raw_file: Path) -> SubmitFn:
    """Build a submission of the contract pipeline; keyword arguments override its inputs."""

    def build(**overrides: InputValue) -> PipelineSubmission:
        inputs: dict[str, InputValue] = {"raw": raw_file, **overrides}
        return PipelineSubmission(pipeline_file, inputs, experiment="contract", tags={"purpose": "test"})

    return build


@pytest.fixture
def completed_job(workspace: Workspace, submission: SubmitFn) -> Job:
    return workspace.jobs.run_pipeline(submission())


@pytest.fixture
def make_lineage() -> Callable[[str], Lineage]:
    def build(job_id: str) -> Lineage:
        return Lineage(
            data_asset="numbers", data_version=1, data_sha256="ab" * 32, code_commit="0123abc-dirty",
            job_id=job_id, params={"factor": 2, "depth": [1, 2]}, environment_hash="cd" * 32,
            creator="alice@example.com", pipeline="pipeline.yml", extra={"note": "contract"},
        )

    return build


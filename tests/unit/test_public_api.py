"""``import mlops_azure``: every public name resolves and is documented, and importing the package
or loading a project pulls in none of the heavy libraries."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlops_azure

HEAVY = ("azure.ai.ml", "pandas", "lightgbm")
ROOT = Path(mlops_azure.__file__).resolve().parent.parent
MINIMAL_CONFIG = """
project: p
model: {name: m}
data:
  schema:
    columns:
      a: {type: float}
"""


def _heavy_after(code: str, cwd: Path | None = None) -> list[str]:
    """The heavy modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return [m for m in done.stdout.strip().split(",") if m]


def test_import_mlops_azure_imports_no_heavy_library() -> None:
    assert _heavy_after("import mlops_azure\nassert mlops_azure.__version__") == []


def test_loading_a_project_imports_no_heavy_library(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text(MINIMAL_CONFIG, encoding="utf-8")
    code = "from mlops_azure import Project\nproject = Project.load('.')\nassert project.config"
    assert _heavy_after(code, cwd=tmp_path) == []


@pytest.mark.parametrize("name", mlops_azure.__all__)
def test_each_public_name_resolves_with_a_docstring(name: str) -> None:
    found = getattr(mlops_azure, name)
    if name == "__version__":
        assert isinstance(found, str) and found[0].isdigit()
        return
    doc = inspect.getdoc(found) or ""
    # A dataclass without a docstring gets its signature as one: that is no documentation.
    assert doc and not doc.startswith(f"{name}("), f"{name} has no docstring"


def test_project_methods_are_documented() -> None:
    public = [m for m, _ in inspect.getmembers(mlops_azure.Project) if not m.startswith("_")]
    assert {"train", "deploy", "gate_qa", "approve", "promote", "rollback", "drift", "score_batch",
            "explain", "status", "history", "models"} <= set(public)
    assert [m for m in public if not inspect.getdoc(getattr(mlops_azure.Project, m))] == []


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        mlops_azure.no_such_thing  # noqa: B018


def test_the_package_is_marked_typed() -> None:
    assert (ROOT / "mlops_azure" / "py.typed").is_file()


def test_version_falls_back_to_pyproject_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata
    import tomllib

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert mlops_azure._version() == pyproject["project"]["version"]

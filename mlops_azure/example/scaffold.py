"""``mlops init --example steel``: write a complete, working copy of the steel example project and
generate its data. (``mlops init --data`` is :mod:`mlops_azure.init_from_data`.)"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops_azure.errors import UserInputError
from mlops_azure.templates import shipped

#: What a project is made of, relative to the template root.
#: ``sample-request.json`` is a scoring request for ``mlops invoke --file``.
PROJECT_FILES = ("mlops.yaml", "sample-request.json", "components", "pipelines", "environments")
DATA_FILE = Path("data/purchases.csv")
_GITIGNORE = ".mlops/\nmodel.json\n__pycache__/\n"


def template_root() -> Path:
    """The steel example project shipped with the package (or the source checkout when editable)."""
    return shipped("examples/steel", PROJECT_FILES)


@dataclass(frozen=True)
class InitResult:
    root: Path
    files: int
    data_rows: int


def init_project(target: Path, *, force: bool = False, seed: int = 7, organisations: int = 4,
                 customers: int = 5) -> InitResult:
    """Create the example project in ``target``; refuses to overwrite a project unless ``force``.

    The project is built in a temporary folder beside the target and moved into place at the
    end, so an interrupted init leaves nothing half-written.
    """
    from mlops_azure.example.generator import write_purchases

    target = target.resolve()
    if target.exists() and not target.is_dir():
        raise UserInputError(f"{target}: exists and is not a folder")
    clashes = [n for n in (*PROJECT_FILES, "data") if (target / n).exists()]
    if clashes and not force:
        raise UserInputError(
            f"{target}: already holds {', '.join(clashes)} (pass --force to replace them)"
        )
    source = template_root()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mlops-init-", dir=target.parent) as tmp:
        staging = Path(tmp)
        for name in PROJECT_FILES:
            src = source / name
            if src.is_dir():
                shutil.copytree(src, staging / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*_cache"))
            else:
                shutil.copy2(src, staging / name)
        (staging / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
        data = staging / DATA_FILE
        data.parent.mkdir(parents=True)
        write_purchases(data, seed=seed, organisations=organisations,
                        customers_per_organisation=customers)
        rows = sum(1 for _ in data.open(encoding="utf-8")) - 1
        files = sum(1 for p in staging.rglob("*") if p.is_file())
        target.mkdir(exist_ok=True)
        for entry in staging.iterdir():
            dest = target / entry.name
            if entry.name == ".gitignore" and dest.exists():
                continue  # the user's own ignore file wins
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            entry.replace(dest)
    return InitResult(target, files, rows)

"""The CI/CD a new project starts with: Azure DevOps pipelines (CI, training, release, monitoring)
and a pytest file testing the project's own code, written by ``mlops init`` (both kinds).

The pipelines are rendered from the templates in ``azure-pipelines/`` beside this module: each
``@@name@@`` is replaced by a value of :class:`PipelineValues`. This repository's own
``.azure-pipelines/`` runs the steel example with the same files (see
:data:`mlops_azure.example.scaffold.REPOSITORY_PIPELINES`; a test keeps them equal and
``make pipelines`` rewrites them).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlops_azure.project_ci.trial import trial_project

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "azure-pipelines"
#: The test file a project gets as ``tests/test_project.py``.
PROJECT_TESTS = HERE / "project_tests.py"
#: Rendered into this repository as they are; ci.yml and templates/data.yml are the repository's
#: own (its CI tests mlops-azure itself; the steel example's data is generated, not committed).
SHARED_WITH_REPOSITORY = ("training.yml", "release.yml", "monitoring.yml", "templates/setup.yml",
                          "templates/azure-mlops.yml", "templates/read-model.yml",
                          "templates/training-attach.yml")
__all__ = ["PipelineValues", "folder_in_repository", "installed_requirement", "render",
           "repository_top", "trial_project", "write_pipelines", "write_project_ci"]
_PLACEHOLDER = re.compile(r"@@([a-z_]+)@@")


@dataclass(frozen=True)
class PipelineValues:
    """What differs between projects' pipelines. ``name`` prefixes the Azure DevOps and Azure
    resource names (``NAME-training``, ``NAME-production``, ``rg-NAME-mlops``, ...)."""

    name: str
    data_asset: str
    data_path: str
    #: The mlops.yaml folder, relative to the repository.
    project_dir: str = "."
    #: What ``pip install`` is given in every job.
    install: str = ""
    #: The storage account new extracts land in (``https://ACCOUNT.blob.core.windows.net``);
    #: empty: none yet, and the monitoring pipeline's hourly data watch is skipped.
    landing_account_url: str = ""
    landing_container: str = "landing"
    landing_prefix: str = ""

    def placeholders(self) -> dict[str, str]:
        found = {k: str(v) for k, v in asdict(self).items()}
        found["install"] = self.install or installed_requirement()
        found["landing_prefix"] = self.landing_prefix or f"{self.data_asset}/"
        return found


def installed_requirement() -> str:
    """How the pipelines' agents install the mlops-azure running now: from the git commit it
    was installed from (PEP 610 ``direct_url.json``, credentials left out), else its version."""
    from importlib import metadata

    from mlops_azure import __version__

    try:
        raw = metadata.distribution("mlops-azure").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        raw = None
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        found = {}
    vcs = found.get("vcs_info") if isinstance(found, dict) else None
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and vcs.get("commit_id"):
        url = urlsplit(str(found.get("url", "")))
        user, _, host = url.netloc.rpartition("@")
        # A password or token never goes into the pipelines; ssh's user (git@) is no secret.
        keep = user if url.scheme == "ssh" and user and ":" not in user else ""
        if url.scheme in ("https", "ssh") and host:
            clean = urlunsplit((url.scheme, f"{keep}@{host}" if keep else host, url.path, "", ""))
            sub = found.get("subdirectory")
            return (f"mlops-azure @ git+{clean}@{vcs['commit_id']}"
                    + (f"#subdirectory={sub}" if isinstance(sub, str) and sub else ""))
    return f"mlops-azure=={__version__}"


def repository_top(root: Path) -> Path | None:
    """The top folder of the git repository around ``root`` (which need not exist yet); None
    when there is none or git cannot run."""
    start = root if root.is_dir() else root.parent
    while not start.is_dir():
        start = start.parent
    try:
        top = subprocess.run(["git", "-C", str(start), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(top.stdout.strip()).resolve() if top.returncode == 0 else None


def folder_in_repository(root: Path) -> str:
    """Where ``root`` sits in the git repository around it (``.azure-pipelines`` paths start at
    the repository's top), as a POSIX path; ``.`` when it is the top or in no repository."""
    top = repository_top(root)
    if top is None or not root.resolve().is_relative_to(top):
        return "."
    return root.resolve().relative_to(top).as_posix()


def render(values: PipelineValues) -> dict[str, str]:
    """Every pipeline file (path relative to ``.azure-pipelines/``) with ``values`` filled in."""
    table = values.placeholders()
    rendered = {}
    for path in sorted(TEMPLATES.rglob("*.yml")):
        def fill(match: re.Match[str], where: Path = path) -> str:
            if match.group(1) not in table:
                raise KeyError(f"{where}: unknown placeholder {match.group(0)}")
            return table[match.group(1)]

        rendered[path.relative_to(TEMPLATES).as_posix()] = _PLACEHOLDER.sub(
            fill, path.read_text(encoding="utf-8"))
    return rendered


def write_pipelines(folder: Path, values: PipelineValues, only: tuple[str, ...] | None = None,
                    mark: Callable[[str], str] = str) -> list[Path]:
    """Write the pipelines rendered with ``values`` (``only`` those named) into ``folder``, each
    through ``mark``."""
    written = []
    for relative, text in render(values).items():
        if only is None or relative in only:
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(mark(text), encoding="utf-8")
            written.append(path)
    return written


def write_project_ci(root: Path, values: PipelineValues) -> list[Path]:
    """Write ``.azure-pipelines/`` and ``tests/test_project.py`` into the project at ``root``,
    each headed by the line that lets ``mlops init --force`` tell whether anyone edited it;
    the files written."""
    from mlops_azure.templates import mark_written

    written = write_pipelines(root / ".azure-pipelines", values, mark=mark_written)
    tests = root / "tests" / "test_project.py"
    tests.parent.mkdir(parents=True, exist_ok=True)
    tests.write_text(mark_written(PROJECT_TESTS.read_text(encoding="utf-8")), encoding="utf-8")
    return [*written, tests]

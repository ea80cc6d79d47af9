"""The layering rules of the house (DESIGN.md), read from the source: a backend never imports the
other, and the backend-neutral lifecycle imports neither."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mlops_azure

PACKAGE = Path(mlops_azure.__file__).resolve().parent

# (package folder, module prefixes it must never import)
RULES = [
    ("azure", ("mlops_azure.local",)),
    ("local", ("mlops_azure.azure", "azure")),
    ("lifecycle", ("mlops_azure.local", "mlops_azure.azure", "azure")),
    # The web app reads through the library, the same on either backend.
    ("webapp", ("mlops_azure.local", "mlops_azure.azure", "azure")),
]


def _package_of(source: Path) -> str:
    return ".".join(source.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def _imported(source: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source`` of ``package``, lazy ones inside
    functions too."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append((node.lineno, base))
            # ``from mlops_azure import local`` names the package in the alias, not the module.
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def _forbidden(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@pytest.mark.parametrize(("folder", "prefixes"), RULES, ids=[folder for folder, _ in RULES])
def test_a_layer_imports_nothing_it_must_not(folder: str, prefixes: tuple[str, ...]) -> None:
    sources = sorted((PACKAGE / folder).rglob("*.py"))
    assert sources, f"no modules under {folder}/"
    broken = [
        f"{source.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for source in sources
        for line, name in _imported(source, _package_of(source))
        if _forbidden(name, prefixes)
    ]
    assert broken == []


def test_the_guard_sees_absolute_relative_and_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "jobs.py"
    module.write_text(
        "from ..local import processes\n"
        "from mlops_azure import local\n"
        "def later() -> None:\n"
        "    import mlops_azure.local.artifacts\n",
        encoding="utf-8",
    )
    names = [name for _, name in _imported(module, "mlops_azure.azure")]
    flagged = [name for name in names if _forbidden(name, ("mlops_azure.local",))]
    assert flagged == ["mlops_azure.local", "mlops_azure.local.processes", "mlops_azure.local",
                       "mlops_azure.local.artifacts"]

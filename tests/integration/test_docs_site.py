"""The documentation site builds offline with `mkdocs build --strict` (any warning fails it), its
CLI reference has every command of the CLI, and no page loads anything from another host."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from mlops_azure.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _missing(modules: tuple[str, ...]) -> list[str]:
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # its parent package is absent
            found = False
        if not found:
            missing.append(module)
    return missing


MISSING = _missing(("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"))
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed ({', '.join(MISSING)} missing): "
                          "pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The site built into a temporary folder, and the build's log."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "--site-dir", str(out),
         "--config-file", str(ROOT / "mkdocs.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return out, log


def test_the_build_has_no_warning(site: tuple[Path, str]) -> None:
    _, log = site
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING\b|\bERROR\b", line)]
    assert not warnings, "\n".join(warnings)


def _commands(command: object, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None) or {}
    found = [path]
    for name, sub in subcommands.items():
        if not getattr(sub, "hidden", False):
            found += _commands(sub, (*path, name))
    return found


def test_every_command_has_a_heading_in_the_cli_reference(site: tuple[Path, str]) -> None:
    out, _ = site
    page = (out / "reference" / "cli.html").read_text(encoding="utf-8")
    headings = {
        re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", text))).replace("¶", "").strip()
        for text in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", page, flags=re.DOTALL)
    }
    commands = _commands(get_command(app), ("mlops",))
    assert len(commands) > 40
    missing = [" ".join(c) for c in commands if " ".join(c) not in headings]
    assert not missing, f"commands without a heading in the CLI reference: {missing}"


def test_no_page_loads_anything_from_another_host(site: tuple[Path, str]) -> None:
    out, _ = site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 15
    loading = re.compile(r"<(?:link|script|img|iframe|source)\b[^>]*?\b(?:href|src)=[\"']?"
                         r"(?P<url>(?:https?:)?//[^\"' >]+)", re.IGNORECASE)
    found = [f"{page.relative_to(out)}: {m.group('url')}"
             for page in pages for m in loading.finditer(page.read_text(encoding="utf-8"))]
    assert not found, "pages that load from another host:\n" + "\n".join(found)
    for sheet in out.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        remote = re.findall(r"(?:@import|url\()\s*[\"']?(?:https?:)?//[^\"') ]+", text)
        assert not remote, f"{sheet.relative_to(out)} loads {remote[:3]}"
    assert not any("fonts.googleapis.com" in p.read_text(encoding="utf-8") for p in pages)


def test_the_generated_pages_come_from_the_checkout(site: tuple[Path, str]) -> None:
    """The benchmark figures and the README are included at build time, not copied."""
    out, _ = site
    benchmarks = (out / "benchmarks.html").read_text(encoding="utf-8")
    for result in sorted((ROOT / "benchmarks" / "results").iterdir()):
        assert result.name in benchmarks, f"{result.name} is not on the benchmarks page"
    readme = (out / "readme.html").read_text(encoding="utf-8")
    assert "Use it as a library" in readme

"""`mlops` lines of CI definitions checked against the CLI (what `mlops project check` reports):
real mistakes are found, ordinary shell and other languages are not mistaken for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.cli.invocations import check_ci_file


def problems(tmp_path: Path, yaml_text: str) -> list[str]:
    path = tmp_path / "ci.yml"
    path.write_text(yaml_text, encoding="utf-8")
    return check_ci_file(path, "ci.yml")


def steps(*scripts: str) -> str:
    return "steps:\n" + "".join(f"  - bash: |\n      {s}\n" for s in scripts)


@pytest.mark.parametrize("script", [
    "mlops train --wait-minutes $((60*2))",
    "mlops train --wait-minutes $(cat minutes.txt)",
    "mlops deploy `cat ref.txt` --stage staging",
    "mlops ${{ matrix.command }}",
    'mlops "$@"',
    "mlops train $EXTRA_ARGS",
    "ref=$(mlops --json models list | jq -r .)",
    "env MLOPS_BACKEND=azure timeout 600 mlops status",
    "mlops train --help",
])
def test_ordinary_shell_around_a_valid_line_is_no_problem(tmp_path: Path, script: str) -> None:
    assert problems(tmp_path, steps(script)) == []


@pytest.mark.parametrize("script", [
    "mlops trian",
    "ref=$(mlops --json modles list)",
    "env A=1 mlops trian",
    "poetry run mlops trian",
    "timeout 60 mlops trian",
])
def test_a_mistake_is_found_wherever_mlops_runs(tmp_path: Path, script: str) -> None:
    found = problems(tmp_path, steps(script))
    assert len(found) == 1 and "is not a valid mlops command" in found[0], found


def test_a_here_string_does_not_hide_the_lines_after_it(tmp_path: Path) -> None:
    found = problems(tmp_path, steps("jq . <<< '{}'\n      mlops trian"))
    assert len(found) == 1 and "ci.yml:4: `mlops trian`" in found[0]


def test_other_languages_are_not_read_as_shell(tmp_path: Path) -> None:
    text = """steps:
  - uses: actions/github-script@v7
    with:
      script: core.info(`don't run mlops here`)
  - pwsh: mlops trian `
      --stage x
  - task: AzureCLI@2
    inputs:
      scriptType: pscore
      inlineScript: mlops trian `
        --stage x
"""
    assert problems(tmp_path, text) == []


def test_help_in_a_line_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert problems(tmp_path, steps("mlops deploy --help")) == []
    assert capsys.readouterr().out == ""


def test_yaml_that_does_not_parse_or_expands_without_end(tmp_path: Path) -> None:
    assert problems(tmp_path, "steps: [\n")[0].startswith("ci.yml: not readable as YAML")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    assert problems(tmp_path, bomb)[0].startswith("ci.yml: not readable as YAML")

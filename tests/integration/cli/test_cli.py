"""The `mlops` CLI through Typer's CliRunner and as a real subprocess: exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app

MLOPS = str(Path(sys.executable).with_name("mlops"))
FAST = ["-p", "n_estimators=60"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_train_then_read_back_through_the_cli(runner: CliRunner, project_dir: Path) -> None:
    code, out, _ = invoke(runner, "--json", "train", *FAST)
    assert code == 0
    trained = json.loads(out)
    assert trained["registered"] == "steel-purchase-forecast:1"
    assert trained["decision"]["verdict"] == "first"
    assert json.loads((project_dir / "model.json").read_text()) == {
        "name": "steel-purchase-forecast", "version": 1}

    code, out, _ = invoke(runner, "--json", "models", "show", "steel-purchase-forecast:1")
    assert code == 0
    shown = json.loads(out)
    assert shown["lineage"]["job_id"] == trained["job_id"]
    assert shown["lineage"]["data_asset"] == "steel-purchases"

    code, out, _ = invoke(runner, "--json", "jobs", "list")
    assert code == 0 and json.loads(out)[0]["id"] == trained["job_id"]
    code, out, _ = invoke(runner, "jobs", "logs", trained["job_id"], "--step", "train")
    assert code == 0 and out.strip()
    code, out, _ = invoke(runner, "--json", "history")
    assert code == 0 and {e["action"] for e in json.loads(out)} >= {"register", "gate.champion"}
    code, out, _ = invoke(runner, "--json", "status")
    assert code == 0
    assert json.loads(out)["latest_registered"] == "steel-purchase-forecast:1"

    code, out, _ = invoke(runner, "--json", "models", "archive", "steel-purchase-forecast:1")
    assert code == 0 and json.loads(out) == {"archived": "steel-purchase-forecast:1"}
    code, out, _ = invoke(runner, "--json", "models", "list")
    assert code == 0 and json.loads(out) == []
    code, _, err = invoke(runner, "models", "archive", "steel-purchase-forecast")
    assert code == 2 and "no version" in err


def test_not_better_exits_zero_unless_asked_to_fail(runner: CliRunner, project_dir: Path) -> None:
    assert invoke(runner, "train", *FAST)[0] == 0
    code, out, _ = invoke(runner, "train", *FAST)
    assert code == 0 and "not registered" in out
    code, _, err = invoke(runner, "train", *FAST, "--fail-if-not-better")
    assert code == 1
    assert "champion gate" in err


def test_data_check_passes_the_generated_data_with_warnings(
    runner: CliRunner, project_dir: Path
) -> None:
    code, out, _ = invoke(runner, "--json", "data", "check", "data/purchases.csv")
    assert code == 0
    report = json.loads(out)
    assert report["passed"] is True and report["warnings"]


def test_data_check_fails_bad_data_with_exit_1(runner: CliRunner, project_dir: Path) -> None:
    data = project_dir / "data" / "purchases.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], *lines[1:], lines[1]]) + "\n")  # a duplicated key
    code, out, err = invoke(runner, "data", "check", str(data))
    assert code == 1
    assert "duplicates" in out
    assert "data check failed" in err


def test_data_upload_versions_by_content(runner: CliRunner, project_dir: Path) -> None:
    code, out, _ = invoke(runner, "--json", "data", "upload", "data/purchases.csv", "--name", "raw")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = invoke(runner, "--json", "data", "upload", "data/purchases.csv", "--name", "raw")
    assert json.loads(out)["version"] == 1  # same content, same version
    code, _, err = invoke(runner, "data", "upload", "nope.csv", "--name", "raw")
    assert code == 2 and "nope.csv" in err


def test_actor_option_names_who_acts_and_is_gone_afterwards(
    runner: CliRunner, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_ACTOR", raising=False)
    code, _, _ = invoke(runner, "--actor", "ana@contoso.com", "data", "upload",
                        "data/purchases.csv", "--name", "raw")
    assert code == 0 and "MLOPS_ACTOR" not in os.environ
    code, out, _ = invoke(runner, "--json", "history")
    [upload] = [e for e in json.loads(out) if e["action"] == "data.upload"]
    assert upload["actor"] == "ana@contoso.com"
    code, _, err = invoke(runner, "--actor", " ", "history")
    assert code == 2 and "--actor" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["models", "show", "steel-purchase-forecast:9"], "no version 9"),
        (["models", "show", "bad ref!"], "NAME:VERSION"),
        (["jobs", "show", "no-such-job"], "no-such-job"),
        (["--backend", "cloud", "models", "list"], "backend 'cloud'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(
    runner: CliRunner, project_dir: Path, args: list[str], expected: str
) -> None:
    code, out, err = invoke(runner, *args)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err + out


def test_bad_config_exits_2_naming_the_key(runner: CliRunner, project_dir: Path) -> None:
    config = project_dir / "mlops.yaml"
    config.write_text(config.read_text().replace("direction: minimize", "direction: lower"))
    code, _, err = invoke(runner, "config", "validate")
    assert code == 2
    assert "champion.direction" in err
    assert invoke(runner, "train")[0] == 2
    assert not (project_dir / ".mlops").exists()  # nothing half-written


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([MLOPS, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def test_real_subprocess_train_and_errors(project_dir: Path) -> None:
    done = _run("train", *FAST, cwd=project_dir)
    assert done.returncode == 0, done.stderr
    assert "registered steel-purchase-forecast:1" in done.stdout
    assert "Completed" in done.stderr  # step progress goes to stderr

    bad = _run("--config", "missing.yaml", "status", cwd=project_dir)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "missing.yaml" in bad.stderr

    usage = _run("train", "--no-such-flag", cwd=project_dir)
    assert usage.returncode == 2


@pytest.mark.parametrize("round_", range(3))
def test_two_concurrent_trainings_never_share_a_version(project_dir: Path, round_: int) -> None:
    # Both start on a fresh workspace, the worst case: creating the SQLite database at the same
    # time once failed with "database is locked" (in about half the runs, hence three rounds).
    # Two LightGBM processes spinning 2 OpenMP threads each on 2 cores slow each other ~15x;
    # one thread each keeps this test about correctness, not about oversubscription.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([MLOPS, "--json", "train", *FAST, "--model-json", f"m{i}.json"],
                         cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for i in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [r[1] for r in results]
    outcomes = [json.loads(out) for out, _ in results]
    registered = sorted(o["registered"] for o in outcomes if o["registered"])
    # Usually both saw no champion and both register; either way no version is issued twice.
    assert registered
    assert registered == [f"steel-purchase-forecast:{v}" for v in range(1, len(registered) + 1)]
    assert len({o["job_id"] for o in outcomes}) == 2


def test_help_does_not_import_the_azure_sdk() -> None:
    probe = (
        "import sys\n"
        "from mlops_azure.cli.main import app\n"
        "from typer.testing import CliRunner\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "heavy = [m for m in ('azure.ai.ml', 'pandas', 'lightgbm') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_init_sizes_the_generated_data(tmp_path: Path) -> None:
    import pandas as pd

    runner = CliRunner()
    code, out, _ = invoke(runner, "init", str(tmp_path / "p"), "--organisations", "2",
                          "--customers", "3")
    assert code == 0, out
    data = pd.read_csv(tmp_path / "p" / "data" / "purchases.csv")
    assert data["organisation_id"].nunique() == 2 and data["customer_id"].nunique() == 6
    code, _, err = invoke(runner, "init", str(tmp_path / "q"), "--customers", "0")
    assert code == 2 and "at least 1" in err and not (tmp_path / "q").exists()

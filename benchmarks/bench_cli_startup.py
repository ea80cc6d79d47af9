"""`mlops --help` and `import mlops_azure` wall time against `python -c "import azure.ai.ml"`,
measured in one run.

Target: --help <= 0.3 s and a ratio <= 0.2 (the CLI must not pay for the Azure SDK import).
Before timing anything it checks that neither `import mlops_azure` nor `mlops --help` imports
azure.ai.ml, pandas or LightGBM, and exits 1 naming the module if one does.
Also `mlops --backend azure status` up to its first request: there is no Azure here, so the
credential chain is narrowed to the (absent) Azure CLI and the command fails at the first token
request, after parsing the config and importing the SDK — which is its start-up cost.
Usage: python benchmarks/bench_cli_startup.py [RUNS] [--check-only]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_wall

#: What `import mlops_azure` and `mlops --help` must never pay for.
HEAVY = ("azure.ai.ml", "pandas", "lightgbm")
#: This checkout, first on the path of every probe, so it is what gets measured.
REPO = Path(__file__).resolve().parents[1]
PROBES = {
    "import mlops_azure": "import mlops_azure",
    "mlops --help": "from typer.testing import CliRunner\nfrom mlops_azure.cli.main import app\n"
                    "assert CliRunner().invoke(app, ['--help']).exit_code == 0",
}


def heavy_imports(code: str) -> list[str]:
    """The modules of HEAVY a fresh interpreter holds after running ``code``."""
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                      os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          cwd=REPO, check=True)
    return [m for m in done.stdout.strip().split(",") if m]


def check_imports() -> None:
    """Exit 1, loudly, when a probe pulls in a heavy module: the timings would hide why."""
    failed = False
    for what, code in PROBES.items():
        found = heavy_imports(code)
        if found:
            failed = True
            print(f"FAIL: `{what}` imported {', '.join(found)}", file=sys.stderr)
        else:
            print(f"ok: `{what}` imports none of {', '.join(HEAVY)}")
    if failed:
        sys.exit(1)


def main(runs: int) -> None:
    python = sys.executable
    mlops = str(Path(python).with_name("mlops"))
    help_med, help_min, help_max = median_wall([mlops, "--help"], runs)
    sdk_med, sdk_min, sdk_max = median_wall([python, "-c", "import azure.ai.ml"], runs)
    lib_med, lib_min, lib_max = median_wall([python, "-c", "import mlops_azure"], runs, cwd=REPO)
    bare_med, _, _ = median_wall([python, "-c", "pass"], runs)
    print(f"runs per command: {runs} (after one warm-up)")
    print(f"mlops --help              median {help_med:.3f} s  (min {help_min:.3f}, max {help_max:.3f})")
    print(f"python -c 'import mlops_azure'  median {lib_med:.3f} s  (min {lib_min:.3f}, max {lib_max:.3f})")
    print(f"python -c 'import azure.ai.ml'  median {sdk_med:.3f} s  (min {sdk_min:.3f}, max {sdk_max:.3f})")
    print(f"python -c pass            median {bare_med:.3f} s")
    print(f"ratio --help / import azure.ai.ml = {help_med / sdk_med:.3f}  (target <= 0.2)")
    print(f"import mlops_azure over a bare interpreter: {lib_med - bare_med:+.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        subprocess.run([mlops, "init", str(project)], check=True, stdout=subprocess.DEVNULL)
        env = {**os.environ, "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
               "AZURE_RESOURCE_GROUP": "rg-bench", "AZUREML_WORKSPACE_NAME": "mlw-bench"}
        env.pop("AZURE_STORAGE_CONNECTION_STRING", None)
        az_med, az_min, az_max = median_wall([mlops, "--backend", "azure", "status"], runs,
                                             cwd=project, env=env, expect=3)
    print(f"mlops --backend azure status (to its first request)  median {az_med:.3f} s  "
          f"(min {az_min:.3f}, max {az_max:.3f}); minus the SDK import {az_med - sdk_med:+.3f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=7, help="timed runs per command")
    parser.add_argument("--check-only", action="store_true",
                        help="only check that nothing heavy is imported; time nothing")
    args = parser.parse_args()
    check_imports()
    if not args.check_only:
        main(args.runs)

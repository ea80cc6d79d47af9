"""`mlops --help` wall time against `python -c "import azure.ai.ml"`, measured in one run.

Target: --help <= 0.3 s and a ratio <= 0.2 (the CLI must not pay for the Azure SDK import).
Also `mlops --backend azure status` up to its first request: there is no Azure here, so the
credential chain is narrowed to the (absent) Azure CLI and the command fails at the first token
request, after parsing the config and importing the SDK — which is its start-up cost.
Usage: python benchmarks/bench_cli_startup.py [RUNS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_wall


def main(runs: int) -> None:
    python = sys.executable
    mlops = str(Path(python).with_name("mlops"))
    help_med, help_min, help_max = median_wall([mlops, "--help"], runs)
    sdk_med, sdk_min, sdk_max = median_wall([python, "-c", "import azure.ai.ml"], runs)
    bare_med, _, _ = median_wall([python, "-c", "pass"], runs)
    print(f"runs per command: {runs} (after one warm-up)")
    print(f"mlops --help              median {help_med:.3f} s  (min {help_min:.3f}, max {help_max:.3f})")
    print(f"python -c 'import azure.ai.ml'  median {sdk_med:.3f} s  (min {sdk_min:.3f}, max {sdk_max:.3f})")
    print(f"python -c pass            median {bare_med:.3f} s")
    print(f"ratio --help / import azure.ai.ml = {help_med / sdk_med:.3f}  (target <= 0.2)")
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
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)

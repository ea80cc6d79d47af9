"""`mlops --help` wall time against `python -c "import azure.ai.ml"`, measured in one run.

Target: --help <= 0.3 s and a ratio <= 0.2 (the CLI must not pay for the Azure SDK import).
Usage: python benchmarks/bench_cli_startup.py [RUNS]
"""

from __future__ import annotations

import sys
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)

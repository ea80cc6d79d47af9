"""Which trial commands the forker may run without a shell: exactly ``python -m MODULE ARGS``."""

from __future__ import annotations

import pytest

from mlops_azure.execution.trial_processes import python_module_argv


@pytest.mark.parametrize(("command", "parsed"), [
    ("python -m train.train --n 3", ("train.train", ["--n", "3"])),
    ("python3 -m train --path '/tmp/a b' --rows 'x|y'", ("train", ["--path", "/tmp/a b", "--rows", "x|y"])),
    ("python -m train > log.txt", None),
    ("true && python -m train", None),
    ("python -m train --files *.csv", None),
    ("python -m train --home ~/data", None),
    ("python -m train --user $USER", None),
    ("python train.py --n 3", None),
    ("OMP_NUM_THREADS=1 python -m train", None),
    ("python -m train 'unterminated", None),
])
def test_only_a_plain_python_module_command_skips_the_shell(command: str, parsed: object) -> None:
    assert python_module_argv(command) == parsed

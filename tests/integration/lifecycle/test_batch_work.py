"""The batch scoring processes: the zygote loads the script once, keeps ``batch.block_imports``
out of the workers it forks, and leaves no process behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.execution.forked_pool import ForkedPool
from mlops_azure.lifecycle._batch_input import scan
from mlops_azure.lifecycle._batch_work import scoring_loader, scoring_pool
from mlops_azure.lifecycle.batch import _tasks

#: Reports, per row, whether LightGBM came with its scikit-learn API.
REPORTING = '''
import os, sys
import lightgbm

def init():
    assert os.environ["AZUREML_MODEL_DIR"]

def score_frame(frame):
    out = frame.copy()
    out["sklearn"] = str(lightgbm.compat.SKLEARN_INSTALLED)
    out["sklearn_loaded"] = str(sys.modules.get("sklearn") is not None)
    return out
'''


def run(tmp_path: Path, script_text: str,
        blocked: tuple[str, ...]) -> tuple[ForkedPool[Any, Any], pd.DataFrame]:
    script = tmp_path / "batch_score.py"
    script.write_text(script_text)
    source = tmp_path / "rows.csv"
    source.write_text("a\n" + "".join(f"{i}\n" for i in range(40)))
    tasks = _tasks(source, scan(source, 10), 10, (), tmp_path / "out", keep=True)
    pool = scoring_pool(2, blocked)
    try:
        pool.load(scoring_loader(script, tmp_path))
        frames = [frame for _, (_, frame) in pool.run((task.number, task) for task in tasks)]
    finally:
        pool.close()
    return pool, pd.concat(frames, ignore_index=True)


def test_blocked_modules_stay_out_of_the_scoring_processes(tmp_path: Path) -> None:
    pool, scored = run(tmp_path, REPORTING, ("sklearn",))
    assert scored["a"].tolist() == list(range(40))  # every row, in order
    assert set(scored["sklearn"]) == {"False"} and set(scored["sklearn_loaded"]) == {"False"}
    assert pool._process.returncode == 0  # the zygote ended by itself, cleanly


def test_without_a_block_lightgbm_keeps_its_scikit_learn_api(tmp_path: Path) -> None:
    _, scored = run(tmp_path, REPORTING, ())
    assert set(scored["sklearn"]) == {"True"}


@pytest.mark.parametrize("where", ["import", "score"])
def test_a_script_importing_a_blocked_module_is_one_sentence(tmp_path: Path, where: str) -> None:
    text = REPORTING.replace("import lightgbm", "import lightgbm\nimport sklearn.base") \
        if where == "import" else REPORTING.replace("out = frame.copy()",
                                                    "import sklearn\n    out = frame.copy()")
    with pytest.raises(UserInputError, match=r"imports sklearn, which batch\.block_imports in "
                                             r"mlops\.yaml keeps out of the scoring processes"):
        run(tmp_path, text, ("sklearn",))

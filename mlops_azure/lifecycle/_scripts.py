"""Loading a project's scoring script into this process, as Azure ML's servers do: imported by
path with ``AZUREML_MODEL_DIR`` pointing at the model, then ``init()``."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from mlops_azure.errors import UserInputError


def load_scoring_script(script: Path, model_dir: Path, *, module_name: str, needs: Sequence[str],
                        what: str = "scoring script") -> ModuleType:
    """``script`` imported as ``module_name`` with its model loaded; ``UserInputError`` when it
    cannot be imported or lacks one of the functions in ``needs``."""
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise UserInputError(f"{what} {script} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in needs:
        if not callable(getattr(module, name, None)):
            raise UserInputError(f"{what} {script} has no {name}() function")
    module.init()
    return module

"""How every component script fails and writes its outputs: the template's ``tabular.step``,
which the steel example shares with every project made by ``mlops init --data``."""

from tabular.step import (
           EXIT_BAD_INPUT,
           EXIT_FAILED,
           StepError,
           output_folder,
           run_step,
           write_json,
           write_text,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "StepError", "output_folder", "run_step", "write_json",
           "write_text"]

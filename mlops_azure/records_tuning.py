"""The values of the ``Workspace`` seam that describe hyper-parameter tuning: a sweep step's study
and its trials, the same on both backends (an Optuna study in the embedded workspace, a sweep job
and its child runs on Azure ML). ``mlops_azure.records`` and ``mlops_azure.workspace`` re-export
them.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ParamValue = str | int | float | bool
#: How a backend words a finished trial in a job's progress messages: "... [done/total]",
#: with "; best <value>" when there is a best so far (``trial_progress`` reads it back).
_PROGRESS = re.compile(r"(?:; best (?P<best>\S+)[^\[]*)?\[(?P<done>\d+)/(?P<total>\d+)\]$")


def search_space_sha256(space: Mapping[str, Any]) -> str:
    """SHA-256 of a search space as canonical JSON (sorted keys, no spaces): lineage names it."""
    text = json.dumps(space, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def trial_progress(message: str) -> tuple[int, int, str] | None:
    """``(finished, total, best)`` from a trial's progress message; None for any other message."""
    match = _PROGRESS.search(message)
    if match is None:
        return None
    return int(match["done"]), int(match["total"]), match["best"] or ""


class TrialState(enum.StrEnum):
    """How a trial ended, in Optuna's words (Azure's Completed / Canceled-by-policy / Failed map here)."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"  # stopped early by the early-termination policy
    FAIL = "FAIL"

    @property
    def finished(self) -> bool:
        """A trial a resumed study does not run again."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep: its parameters, its primary metric and the values it reported."""

    number: int
    state: TrialState
    params: Mapping[str, ParamValue]
    #: The primary metric's last reported value (None when the trial reported none).
    value: float | None
    #: The primary metric per reported step (a boosting round for the example's trainer).
    intermediate: Mapping[int, float] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    #: Where the trial ran: a local trial folder name, or the Azure ML child run id.
    run_id: str = ""

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Study:
    """The study of one sweep step of a pipeline job."""

    job_id: str
    step: str
    #: The study's name: the same settings on the same inputs give the same name, so a re-run resumes it.
    name: str
    metric: str
    goal: str  # "minimize" or "maximize"
    sampling: str  # random, grid or bayesian (Azure ML's names)
    early_termination: str | None
    search_space: Mapping[str, Any]
    #: SHA-256 of the search space as declared (canonical JSON): lineage names it.
    search_space_sha256: str
    trials: tuple[Trial, ...]
    #: The trial whose outputs became the sweep step's outputs (None when no trial completed).
    best_trial: int | None
    #: Azure ML: the sweep job's id; local: "".
    sweep_job_id: str = ""

    @property
    def best(self) -> Trial | None:
        return next((t for t in self.trials if t.number == self.best_trial), None)

    def count(self, state: TrialState) -> int:
        return sum(1 for t in self.trials if t.state is state)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Study:
        """The study :meth:`to_dict` wrote."""

        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) and value else None

        trials = tuple(
            Trial(number=int(t["number"]), state=TrialState(t["state"]), params=dict(t["params"]),
                  value=t.get("value"), intermediate={int(k): float(v) for k, v in
                                                      (t.get("intermediate") or {}).items()},
                  started_at=when(t.get("started_at")), ended_at=when(t.get("ended_at")),
                  run_id=str(t.get("run_id", "")))
            for t in raw["trials"])
        return cls(job_id=raw["job_id"], step=raw["step"], name=raw["name"], metric=raw["metric"],
                   goal=raw["goal"], sampling=raw["sampling"], early_termination=raw.get("early_termination"),
                   search_space=raw.get("search_space") or {},
                   search_space_sha256=raw.get("search_space_sha256", ""), trials=trials,
                   best_trial=raw.get("best_trial"), sweep_job_id=raw.get("sweep_job_id", ""))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (``mlops experiments compare --json``); :meth:`from_dict` reads it."""
        best = self.best
        return {
            "job_id": self.job_id, "step": self.step, "name": self.name, "metric": self.metric,
            "goal": self.goal, "sampling": self.sampling, "early_termination": self.early_termination,
            "search_space": dict(self.search_space), "search_space_sha256": self.search_space_sha256,
            "sweep_job_id": self.sweep_job_id, "best_trial": self.best_trial,
            "best_value": best.value if best else None, "best_params": dict(best.params) if best else None,
            "trials": [{"number": t.number, "state": t.state.value, "params": dict(t.params),
                        "value": t.value, "run_id": t.run_id, "duration_s": t.duration_s,
                        "started_at": t.started_at.isoformat() if t.started_at else None,
                        "ended_at": t.ended_at.isoformat() if t.ended_at else None,
                        "intermediate": {str(k): v for k, v in sorted(t.intermediate.items())}}
                       for t in self.trials],
        }

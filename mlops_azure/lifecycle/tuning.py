"""What a sweep adds to the lineage of the version registered from it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mlops_azure.workspace import Study, TrialState


def trial_counts(study: Study) -> str:
    """``"20: 12 complete, 7 pruned, 1 failed"`` (states that occurred only)."""
    parts = [f"{study.count(state)} {word}" for state, word in
             ((TrialState.COMPLETE, "complete"), (TrialState.PRUNED, "pruned"), (TrialState.FAIL, "failed"),
              (TrialState.RUNNING, "running")) if study.count(state)]
    return f"{len(study.trials)}: {', '.join(parts)}" if parts else "0"


def study_lineage(studies: Sequence[Study]) -> dict[str, str]:
    """Lineage entries naming each sweep's study; a second sweep step's keys carry its step name."""
    entries: dict[str, str] = {}
    for index, study in enumerate(studies):
        prefix = "study" if index == 0 else f"study_{study.step}"
        best = study.best
        entries.update({
            prefix: study.name,
            f"{prefix}_step": study.step,
            f"{prefix}_trials": trial_counts(study),
            f"{prefix}_metric": f"{study.goal} {study.metric}",
            f"{prefix}_search_space_sha256": study.search_space_sha256,
        })
        if best is not None:
            entries[f"{prefix}_best_trial"] = str(best.number)
            entries[f"{prefix}_best_value"] = repr(best.value)
            entries[f"{prefix}_best_params"] = json.dumps(dict(best.params), sort_keys=True)
            if best.run_id and study.sweep_job_id:
                entries[f"{prefix}_best_trial_run_id" if index else "best_trial_run_id"] = best.run_id
        if study.sweep_job_id:
            entries[f"{prefix}_sweep_job_id" if index else "sweep_job_id"] = study.sweep_job_id
    return entries

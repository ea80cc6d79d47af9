"""Error analysis: the cohorts (one feature value, or a pair of values) where the model is worst."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

from mlops_azure.config._responsible import TASK_METRICS
from mlops_azure.metrics import higher_is_better
from mlops_azure.responsible._frame import Prepared
from mlops_azure.responsible._metrics import finite, from_sums, row_terms
from mlops_azure.responsible._report import Cohort


def worst_cohorts(
    prepared: Prepared,
    features: Sequence[str],
    *,
    task: str,
    metric: str,
    overall: Mapping[str, float | None],
    min_group_size: int,
    top: int = 10,
) -> tuple[Cohort, ...]:
    """The ``top`` trusted cohorts furthest from the overall ``metric`` in the worse direction.

    Every value of each feature and every pair of values of two features is a cohort; one groupby
    of summed per-row terms per feature combination measures all its cohorts at once.
    """
    names = TASK_METRICS[task]
    terms = row_terms(prepared.y, prepared.p, task)
    reference = overall.get(metric)
    if reference is None or top <= 0:
        return ()
    sign = -1.0 if higher_is_better(metric) else 1.0
    candidates: list[tuple[float, int, int, Cohort]] = []
    combos = [(f,) for f in features] + list(combinations(features, 2))
    for combo in combos:
        keys = [prepared.groups[f] for f in combo]
        sums = terms.groupby(keys, observed=True, sort=False).sum()
        sums = sums[sums["n"] >= min_group_size]
        measured = from_sums(sums, task)
        measured = measured[measured[metric].notna()]
        measured = measured.assign(_badness=sign * (measured[metric] - reference),
                                   _rows=sums["n"].astype("int64"))
        # Only this combination's ``top`` worst can make the overall ``top``: a pair of
        # high-cardinality features can have many thousands of cohorts.
        measured = measured.sort_values(["_badness", "_rows"], ascending=False, kind="stable").head(top)
        for key, row in zip(measured.index, measured.to_dict("records"), strict=True):
            values = key if isinstance(key, tuple) else (key,)
            value = float(row[metric])
            cohort = Cohort(
                features=dict(zip(combo, map(str, values), strict=True)),
                rows=int(row["_rows"]),
                metrics={name: finite(row[name]) for name in names},
                ratio_to_overall=finite(value / reference) if reference else None,
            )
            # Equally bad: the larger cohort first, then singles before pairs (the order of combos).
            candidates.append((-float(row["_badness"]), -cohort.rows, len(candidates), cohort))
    return tuple(entry[3] for entry in sorted(candidates)[:top])

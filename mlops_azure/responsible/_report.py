"""``ResponsibleReport``: the evidence a model version carries, and its fixed JSON shape.

The model card and the approval record read the JSON (``to_dict``), so keys are never renamed;
new keys may be added. Every number is finite or null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from mlops_azure.responsible._metrics import finite

Status = Literal["pass", "warn", "block"]
Stage = Literal["registration", "promotion"]
FindingKind = Literal["disparity", "cohort", "untrusted"]
Metrics = Mapping[str, float | None]


def _metrics(raw: Mapping[str, Any], skip: set[str]) -> dict[str, float | None]:
    return {key: finite(value) for key, value in raw.items() if key not in skip}


@dataclass(frozen=True)
class GroupQuality:
    """One group of a sensitive feature: its size and every metric of the task."""

    group: str
    rows: int
    share: float
    #: rows >= min_group_size: only trusted groups count towards disparity and the gate.
    trusted: bool
    metrics: Metrics

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "rows": self.rows, "share": self.share, "trusted": self.trusted,
                **self.metrics}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GroupQuality:
        return cls(group=str(raw["group"]), rows=int(raw["rows"]), share=float(raw["share"]),
                   trusted=bool(raw["trusted"]),
                   metrics=_metrics(raw, {"group", "rows", "share", "trusted"}))


@dataclass(frozen=True)
class FeatureFairness:
    """Per-group quality of one sensitive feature and its disparity over the trusted groups."""

    by_group: tuple[GroupQuality, ...]
    #: Per metric: largest minus smallest trusted value (null with fewer than 2 trusted groups).
    difference: Metrics
    #: Per metric: largest over smallest trusted value (null also when the smallest is 0).
    ratio: Metrics
    #: The trusted group worst on the primary metric (null with fewer than 2 trusted groups).
    worst_group: str | None
    trusted_groups: int

    def to_dict(self) -> dict[str, Any]:
        return {"by_group": [row.to_dict() for row in self.by_group], "difference": dict(self.difference),
                "ratio": dict(self.ratio), "worst_group": self.worst_group,
                "trusted_groups": self.trusted_groups}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FeatureFairness:
        return cls(by_group=tuple(GroupQuality.from_dict(row) for row in raw["by_group"]),
                   difference=_metrics(raw["difference"], set()), ratio=_metrics(raw["ratio"], set()),
                   worst_group=raw.get("worst_group"), trusted_groups=int(raw["trusted_groups"]))


@dataclass(frozen=True)
class GroupSizes:
    """Data exploration of one feature: how many rows each group has, and which are too small."""

    #: Rows per group, largest first; declared groups without rows appear with 0.
    sizes: Mapping[str, int]
    shares: Mapping[str, float]
    #: Largest over smallest group (null when a declared group has no rows).
    imbalance_ratio: float | None
    #: Groups below min_group_size (0-row groups included): reported, their metrics not trusted.
    small_groups: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"sizes": dict(self.sizes), "shares": dict(self.shares),
                "imbalance_ratio": self.imbalance_ratio, "small_groups": list(self.small_groups)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> GroupSizes:
        sizes = {str(k): int(v) for k, v in raw["sizes"].items()}
        total = sum(sizes.values())
        shares = raw.get("shares") or {k: (v / total if total else 0.0) for k, v in sizes.items()}
        return cls(sizes=sizes, shares={str(k): float(v) for k, v in shares.items()},
                   imbalance_ratio=finite(raw.get("imbalance_ratio")),
                   small_groups=tuple(str(g) for g in raw["small_groups"]))


@dataclass(frozen=True)
class Cohort:
    """One cohort of the error analysis: a value of one feature, or values of two."""

    features: Mapping[str, str]
    rows: int
    metrics: Metrics
    #: The primary metric over the overall one (null when the overall value is 0 or undefined).
    ratio_to_overall: float | None

    @property
    def label(self) -> str:
        """``segment=energy & region=north``."""
        return " & ".join(f"{feature}={value}" for feature, value in self.features.items())

    def to_dict(self) -> dict[str, Any]:
        return {"features": dict(self.features), "rows": self.rows, **self.metrics,
                "ratio_to_overall": self.ratio_to_overall}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Cohort:
        return cls(features={str(k): str(v) for k, v in raw["features"].items()}, rows=int(raw["rows"]),
                   metrics=_metrics(raw, {"features", "rows", "ratio_to_overall"}),
                   ratio_to_overall=finite(raw.get("ratio_to_overall")))


@dataclass(frozen=True)
class Finding:
    """One thing the policy check found; ``message`` is a sentence naming group and numbers."""

    kind: FindingKind
    feature: str
    group: str | None
    metric: str
    value: float | None
    limit: float | None
    message: str
    #: What this finding does to the verdict.
    severity: Literal["warn", "block"] = "warn"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "feature": self.feature, "group": self.group, "metric": self.metric,
                "value": self.value, "limit": self.limit, "message": self.message,
                "severity": self.severity}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Finding:
        return cls(kind=cast(FindingKind, raw["kind"]), feature=str(raw["feature"]),
                   group=raw.get("group"), metric=str(raw["metric"]), value=finite(raw.get("value")),
                   limit=finite(raw.get("limit")), message=str(raw["message"]),
                   severity="block" if raw.get("severity") == "block" else "warn")


@dataclass(frozen=True)
class Verdict:
    """The responsible-ML gate's answer at one stage."""

    status: Status
    at: Stage
    findings: tuple[Finding, ...] = ()
    #: The policy as checked (``ResponsiblePolicy.model_dump``), kept as evidence.
    policy: Mapping[str, Any] | None = None

    @property
    def blocked(self) -> bool:
        return self.status == "block"

    def summary(self) -> str:
        """One sentence: the first blocking (else warning) finding, and how many more there are."""
        if not self.findings:
            return f"the responsible-ML policy passed at {self.at}"
        first = next((f for f in self.findings if f.severity == "block"), self.findings[0])
        more = len(self.findings) - 1
        return first.message + (f" (and {more} more finding(s))" if more else "")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at, "findings": [f.to_dict() for f in self.findings],
                "policy": None if self.policy is None else dict(self.policy)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Verdict:
        return cls(status=cast(Status, raw["status"]), at=cast(Stage, raw["at"]),
                   findings=tuple(Finding.from_dict(f) for f in raw.get("findings") or []),
                   policy=raw.get("policy"))


@dataclass(frozen=True)
class ResponsibleReport:
    """Fairness per sensitive group, group sizes, the worst cohorts, and (once checked) a verdict."""

    task: str
    metric: str
    min_group_size: int
    rows: int
    overall: Metrics
    groups: Mapping[str, FeatureFairness]
    exploration: Mapping[str, GroupSizes]
    cohorts: tuple[Cohort, ...] = ()
    #: Passed through unchanged (importance, SHAP summaries...), for the model card.
    explanations: Mapping[str, Any] | None = None
    #: Passed through unchanged (e.g. before/after numbers of re-weighting).
    mitigation: Mapping[str, Any] | None = None
    verdict: Verdict | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe document (``json.dumps(..., allow_nan=False)`` accepts it)."""
        return {
            "task": self.task, "metric": self.metric, "min_group_size": self.min_group_size,
            "overall": {"rows": self.rows, **self.overall},
            "groups": {name: fair.to_dict() for name, fair in self.groups.items()},
            "exploration": {name: sizes.to_dict() for name, sizes in self.exploration.items()},
            "cohorts": [cohort.to_dict() for cohort in self.cohorts],
            "explanations": None if self.explanations is None else dict(self.explanations),
            "mitigation": None if self.mitigation is None else dict(self.mitigation),
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ResponsibleReport:
        """Read ``to_dict``'s output back (unknown keys are ignored)."""
        verdict = raw.get("verdict")
        return cls(
            task=str(raw["task"]), metric=str(raw["metric"]), min_group_size=int(raw["min_group_size"]),
            rows=int(raw["overall"]["rows"]), overall=_metrics(raw["overall"], {"rows"}),
            groups={str(k): FeatureFairness.from_dict(v) for k, v in raw["groups"].items()},
            exploration={str(k): GroupSizes.from_dict(v) for k, v in raw["exploration"].items()},
            cohorts=tuple(Cohort.from_dict(c) for c in raw.get("cohorts") or []),
            explanations=raw.get("explanations"), mitigation=raw.get("mitigation"),
            verdict=None if verdict is None else Verdict.from_dict(verdict),
        )

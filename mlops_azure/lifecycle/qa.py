"""The QA gate: is the deployment on a stage's endpoint fit to go on towards production?

Every request goes through the endpoint's public URL with the ``azureml-model-deployment``
header naming the gated deployment, so a new version can be gated at 0 % traffic and what is
measured is what clients will get; each is marked as a probe (:mod:`mlops_azure.probes`), so
monitoring never counts it as production data. Checks: health, response schema, offline/online parity
against the ``parity.json`` stored with the model at training time, latency (p50, p95), error
rate, and that malformed requests are refused with a 4xx rather than a 5xx or a prediction.

``run_qa_gate`` only measures and returns a :class:`QaReport`; the caller records the audit
event (``approval.record_qa``) and turns a failed report into an exit code.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_azure._files import atomic_write
from mlops_azure.config import ProjectConfig, QaPolicy
from mlops_azure.contract import PARITY_FILE, ParityFile, read_document
from mlops_azure.errors import MlopsError, NotFoundError, UserInputError
from mlops_azure.lifecycle.refs import busiest_deployment, parse_ref
from mlops_azure.lifecycle.scoring import ScoreResponse, ScoringClient, percentile
from mlops_azure.probes import QA_PROBE
from mlops_azure.workspace import Deployment, DeploymentState, Endpoint, Workspace

#: The checks, in the order they run and are reported.
CHECKS = ("health", "schema", "parity", "latency_p50", "latency_p95", "error_rate", "bad_requests")
#: The request ``mlops init`` writes at the project root; used when a model has no parity.json.
SAMPLE_REQUEST = "sample-request.json"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Check:
    """One check of the gate: its verdict and, when numeric, the value measured vs the threshold."""

    name: str
    passed: bool
    detail: str
    measured: float | None = None
    threshold: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        # NaN / inf are not JSON: a consumer in another language must be able to read the report.
        for key in ("measured", "threshold"):
            if raw[key] is not None and not math.isfinite(raw[key]):
                raw[key] = None
        raw["seconds"] = round(self.seconds, 6)
        return raw


@dataclass(frozen=True)
class QaReport:
    """The outcome of one QA gate run on one deployment."""

    model: str
    stage: str
    endpoint: str
    deployment: str
    started_at: datetime
    seconds: float
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "stage": self.stage, "endpoint": self.endpoint,
                "deployment": self.deployment, "started_at": self.started_at.isoformat(),
                "seconds": round(self.seconds, 6), "passed": self.passed,
                "failed": [c.name for c in self.failed],
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> QaReport:
        """A report read back from :meth:`to_dict`'s output (e.g. a report file)."""
        checks = tuple(Check(name=str(c["name"]), passed=bool(c["passed"]), detail=str(c["detail"]),
                             measured=c.get("measured"), threshold=c.get("threshold"),
                             seconds=float(c.get("seconds", 0.0))) for c in raw["checks"])
        return cls(model=str(raw["model"]), stage=str(raw["stage"]), endpoint=str(raw["endpoint"]),
                   deployment=str(raw["deployment"]),
                   started_at=datetime.fromisoformat(str(raw["started_at"])),
                   seconds=float(raw["seconds"]), checks=checks)


def write_report(report: QaReport, path: Path) -> None:
    """Write the report as JSON; a reader never sees a half-written file."""
    atomic_write(path, (json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n").encode())


# -- which deployment ----------------------------------------------------------------------------
def _target(ws: Workspace, config: ProjectConfig, stage: str,
            model: str | None) -> tuple[Endpoint, Deployment]:
    endpoint_name = config.stage(stage).endpoint
    wanted = parse_ref(model, version_required=True) if model is not None else None
    try:
        endpoint = ws.endpoints.get(endpoint_name)
    except NotFoundError:
        raise NotFoundError(f"stage '{stage}' has no endpoint '{endpoint_name}' yet: deploy a model "
                            f"to it first ('mlops deploy NAME:VERSION --stage {stage}')") from None
    deployments = ws.endpoints.list_deployments(endpoint_name)
    if wanted is not None:
        ref = f"{wanted[0]}:{wanted[1]}"
        for dep in deployments:
            if dep.model_ref == ref:
                return endpoint, dep
        serving = ", ".join(f"{d.name} serves {d.model_ref}" for d in deployments) or "it has none"
        raise NotFoundError(f"no deployment of endpoint '{endpoint_name}' (stage '{stage}') serves "
                            f"{ref} ({serving}): deploy it there before gating it")
    live = busiest_deployment(endpoint.traffic)
    for dep in deployments:
        if dep.name == live:
            return endpoint, dep
    raise NotFoundError(f"no deployment of endpoint '{endpoint_name}' (stage '{stage}') takes live "
                        "traffic: name the version to gate with --model NAME:VERSION")


# -- what to send --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """The requests of the gate, cut from the model's parity sample (or the project's sample)."""

    rows: list[dict[str, Any]]
    offline: list[float] | None
    source: str
    #: Why parity cannot be judged ("" when it can).
    problem: str = ""

    @property
    def request(self) -> dict[str, Any]:
        return {"data": self.rows}

    @property
    def one_row(self) -> dict[str, Any]:
        return {"data": self.rows[:1]}


def _as_records(request: Any) -> list[dict[str, Any]]:
    """The rows of a scoring request in records form (split orientation is converted)."""
    if not isinstance(request, dict) or not isinstance(request.get("data"), list):
        raise ValueError('not a scoring request with a "data" list')
    data = request["data"]
    if "columns" in request:
        columns = request["columns"]
        rows = [dict(zip(columns, row, strict=True)) for row in data]
        if not all(rows):
            raise ValueError("rows without features")
        return rows
    if not all(isinstance(row, dict) and row for row in data):
        raise ValueError("rows are not objects of feature values")
    return list(data)


def load_sample(ws: Workspace, config: ProjectConfig, dep: Deployment) -> Sample:
    """The requests to send ``dep``: its model's parity sample (rows + offline predictions), else
    the project's ``sample-request.json`` with ``problem`` saying why parity cannot be judged."""
    rows_wanted = config.qa.parity_rows
    problem = ""
    try:
        file = ws.models.local_path(dep.model_name, dep.model_version) / PARITY_FILE
        if not file.is_file():
            raise FileNotFoundError
        parity = read_document(ParityFile, file, f"the {PARITY_FILE} of {dep.model_ref}",
                               UserInputError)
        request = parity.request
        rows = _as_records({"data": request.data} if request.columns is None
                           else {"data": request.data, "columns": request.columns})
        offline = list(parity.predictions)
        return Sample(rows[:rows_wanted], offline[:rows_wanted], f"{PARITY_FILE} of {dep.model_ref}")
    except FileNotFoundError:
        problem = (f"{dep.model_ref} has no {PARITY_FILE}, so its online predictions cannot be compared "
                   "with its offline ones: retrain it with the current train component")
    except MlopsError as exc:
        problem = exc.message
    except (OSError, ValueError) as exc:
        problem = f"the {PARITY_FILE} of {dep.model_ref} is unusable ({type(exc).__name__}: {exc})"
    # Without a parity sample the other checks still need a valid request: the project's sample.
    fallback = config.resolve(Path(SAMPLE_REQUEST))
    try:
        rows = _as_records(json.loads(fallback.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        return Sample([], None, "", f"{problem}; and {fallback} is not a usable request either "
                                     f"({type(exc).__name__})")
    return Sample(rows[:rows_wanted], None, str(fallback), problem)


def _wrong_type(row: Mapping[str, Any]) -> tuple[str, Any]:
    """A feature of ``row`` and a value of a type it cannot take."""
    for name, value in row.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return name, "not-a-number"
    # No number to spoil: an object is valid for no feature at all.
    return next(iter(row)), {"unexpected": "object"}


def malformed_requests(row: Mapping[str, Any]) -> list[tuple[str, dict[str, Any] | bytes]]:
    """Requests a correct scoring script must refuse with a 4xx, built around a valid ``row``."""
    first = next(iter(row))
    wrong_name, wrong_value = _wrong_type(row)
    return [
        ("body that is not JSON", b'{"data": [oops'),
        ('JSON without "data"', {"rows": [dict(row)]}),
        (f"row missing feature '{first}'", {"data": [{k: v for k, v in row.items() if k != first}]}),
        (f"feature '{wrong_name}' with the wrong type", {"data": [{**row, wrong_name: wrong_value}]}),
        ("empty data list", {"data": []}),
    ]


# -- the checks ----------------------------------------------------------------------------------
def _health(ws: Workspace, endpoint: Endpoint, dep: Deployment, client: ScoringClient,
            sample: Sample) -> Check:
    problems = []
    if endpoint.state != "Succeeded":
        problems.append(f"endpoint {endpoint.name} is {endpoint.state}"
                        + (f" ({endpoint.error})" if endpoint.error else ""))
    try:
        # Fresh state: the listing that chose the deployment may predate a crash.
        current = ws.endpoints.get_deployment(endpoint.name, dep.name)
    except MlopsError as exc:
        problems.append(f"deployment {dep.name} cannot be read ({exc.message})")
    else:
        if current.state is not DeploymentState.SUCCEEDED:
            problems.append(f"deployment {dep.name} is {current.state}"
                            + (f" ({current.error})" if current.error else ""))
    if not sample.rows:
        problems.append(f"there is no valid request to send ({sample.problem})")
    else:
        answer = client.score(sample.one_row, deployment=dep.name)
        if not answer.ok:
            problems.append(f"a one-row request got {answer.message()}")
        elif answer.deployment and answer.deployment != dep.name:
            problems.append(f"a request for deployment {dep.name} was answered by {answer.deployment}")
    if problems:
        return Check("health", False, "; ".join(problems))
    return Check("health", True, f"endpoint {endpoint.name} and deployment {dep.name} are Succeeded "
                                 "and a one-row request was answered")


def _schema(answer: ScoreResponse, rows: int) -> tuple[Check, list[float] | None]:
    """The schema check of the parity request's answer, and its predictions when well-formed."""
    def fail(why: str) -> tuple[Check, None]:
        return Check("schema", False, f"the answer to a {rows}-row request {why}"), None

    if not answer.ok:
        return fail(f"was not a success: {answer.message()}")
    try:
        body = answer.json()
    except ValueError:
        return fail("is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("predictions"), list):
        return fail('is not a JSON object with a "predictions" list')
    values = body["predictions"]
    if len(values) != rows:
        return fail(f"holds {len(values)} predictions instead of one per row")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return fail(f"has predictions[{i}] = {json.dumps(value)[:40]}, not a finite number")
    return (Check("schema", True, f'{{"predictions": [...]}} with one finite number for each of '
                                  f"{rows} rows"), [float(v) for v in values])


def _parity(policy: QaPolicy, sample: Sample, online: list[float] | None) -> Check:
    if sample.offline is None:
        return Check("parity", False, sample.problem)
    if online is None:
        return Check("parity", False, "the endpoint gave no usable predictions for the parity "
                                      "request (see the schema check)")
    worst, worst_excess, worst_diff = 0, -math.inf, 0.0
    failing = 0
    for i, (off, on) in enumerate(zip(sample.offline, online, strict=True)):
        diff = abs(on - off)
        excess = diff - (policy.parity_abs_tolerance + policy.parity_rel_tolerance * abs(off))
        failing += excess > 0
        if excess > worst_excess:
            worst, worst_excess, worst_diff = i, excess, diff
    allowed = policy.parity_abs_tolerance + policy.parity_rel_tolerance * abs(sample.offline[worst])
    where = (f"worst row {worst}: online {online[worst]:.6g} vs offline {sample.offline[worst]:.6g}, "
             f"|difference| {worst_diff:.3g} (allowed {allowed:.3g})")
    rows = len(online)
    if failing:
        return Check("parity", False, f"{failing} of {rows} rows differ from the offline predictions "
                                      f"beyond tolerance; {where}", worst_diff, allowed)
    return Check("parity", True, f"all {rows} rows equal the offline predictions within tolerance; "
                                 f"{where}", worst_diff, allowed)


def _latency_and_errors(policy: QaPolicy, client: ScoringClient, dep: str,
                        sample: Sample) -> list[Check]:
    count = policy.latency_requests
    answers = [client.score(sample.one_row, deployment=dep) for _ in range(count)]
    answered = [a.seconds * 1000 for a in answers if a.ok]
    failed = [a for a in answers if not a.ok]
    checks = []
    for name, q, limit in (("latency_p50", 50, policy.p50_ms), ("latency_p95", 95, policy.p95_ms)):
        if not answered:
            checks.append(Check(name, False, f"none of {count} one-row requests succeeded",
                                None, limit))
            continue
        value = percentile(answered, q)
        verdict = "within" if value <= limit else "over"
        checks.append(Check(name, value <= limit,
                            f"p{q} {value:.1f} ms over {len(answered)} one-row requests, {verdict} "
                            f"the {limit:g} ms limit", value, limit))
    rate = len(failed) / count
    detail = f"{len(failed)} of {count} requests failed ({rate:.1%}; limit {policy.max_error_rate:.1%})"
    if failed:
        detail += f"; first: {failed[0].message()}"
    checks.append(Check("error_rate", rate <= policy.max_error_rate, detail, rate, policy.max_error_rate))
    return checks


def _bad_requests(client: ScoringClient, dep: str, sample: Sample) -> Check:
    cases = malformed_requests(sample.rows[0])
    wrong = []
    for label, request in cases:
        answer = client.score(request, deployment=dep)
        if not 400 <= answer.status < 500:
            wrong.append(f"{label} got {answer.message()}")
    if wrong:
        return Check("bad_requests", False, f"{len(wrong)} of {len(cases)} malformed requests were not "
                                            f"refused with a 4xx: " + "; ".join(wrong),
                     float(len(wrong)), 0.0)
    return Check("bad_requests", True, f"all {len(cases)} malformed requests were refused with a 4xx "
                                       "(not JSON, no data, missing feature, wrong type, no rows)",
                 0.0, 0.0)


def _timed(progress: Progress, run: Callable[[], Check | list[Check]]) -> list[Check]:
    started = time.perf_counter()
    result = run()
    return _finish(progress, result if isinstance(result, list) else [result],
                   time.perf_counter() - started)


def _finish(progress: Progress, found: list[Check], seconds: float) -> list[Check]:
    # A multi-check step (latency + error rate) splits its time evenly: each took part of it.
    share = seconds / len(found)
    timed = [Check(c.name, c.passed, c.detail, c.measured, c.threshold, share) for c in found]
    for check in timed:
        progress(f"{'pass' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    return timed


def run_qa_gate(ws: Workspace, config: ProjectConfig, stage: str, *, model: str | None = None,
                progress: Progress | None = None) -> QaReport:
    """Run every check against one deployment of ``stage``'s endpoint and return the report.

    ``model`` (``NAME:VERSION``) picks the deployment serving that version, else the one taking
    the most live traffic. Unknown stage, missing endpoint or no matching deployment raise
    ``UserInputError`` / ``NotFoundError``; failed checks never raise, they are in the report.
    """
    say: Progress = progress or (lambda _: None)
    started_at, started = datetime.now(UTC), time.perf_counter()
    endpoint, dep = _target(ws, config, stage, model)
    say(f"QA gate on {dep.model_ref}: deployment {dep.name} of endpoint {endpoint.name}")
    sample = load_sample(ws, config, dep)
    checks: list[Check] = []
    with ScoringClient.for_endpoint(ws, endpoint.name, probe=QA_PROBE) as client:
        checks += _timed(say, lambda: _health(ws, endpoint, dep, client, sample))
        if not checks[0].passed:
            checks += [Check(name, False, "not run: the health check failed")
                       for name in CHECKS[1:]]
        else:
            # Schema and parity judge the same answer; the request's time is the schema check's.
            clock = time.perf_counter()
            schema, online = _schema(client.score(sample.request, deployment=dep.name), len(sample.rows))
            checks += _finish(say, [schema], time.perf_counter() - clock)
            checks += _timed(say, lambda: _parity(config.qa, sample, online))
            checks += _timed(say, lambda: _latency_and_errors(config.qa, client, dep.name, sample))
            checks += _timed(say, lambda: _bad_requests(client, dep.name, sample))
    return QaReport(model=dep.model_ref, stage=stage, endpoint=endpoint.name, deployment=dep.name,
                    started_at=started_at, seconds=time.perf_counter() - started, checks=tuple(checks))


__all__ = ["CHECKS", "Check", "QaReport", "malformed_requests", "run_qa_gate", "write_report"]

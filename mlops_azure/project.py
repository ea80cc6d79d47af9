"""``Project``: one project's config and workspace, and the lifecycle operations on them.

The ``mlops`` CLI is a thin layer over this class: each command parses its options, calls one
method and renders the result. Methods return the lifecycle's own result types and raise the
errors of :mod:`mlops_azure.errors` (``UserInputError`` for bad input, ``GateFailed`` when a gate
says no, ``BackendError`` when the backend fails).

Each method imports the lifecycle module it needs when called, so loading a project costs the
config only; the workspace is opened on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.config import ProjectConfig, load_config

if TYPE_CHECKING:
    from mlops_azure.lifecycle.approval import Approval
    from mlops_azure.lifecycle.batch import BatchResult, ForecastSink
    from mlops_azure.lifecycle.data import DataCheckReport
    from mlops_azure.lifecycle.explain import RowExplanation
    from mlops_azure.lifecycle.maturity import Maturity
    from mlops_azure.lifecycle.monitoring import DriftCheck
    from mlops_azure.lifecycle.project_check import ProjectCheck
    from mlops_azure.lifecycle.qa import QaReport
    from mlops_azure.lifecycle.release import ReleaseOutcome
    from mlops_azure.lifecycle.scoring import ScoreResponse
    from mlops_azure.lifecycle.status import ProjectStatus
    from mlops_azure.lifecycle.training import TrainingOutcome
    from mlops_azure.responsible import ModelCard
    from mlops_azure.workspace import (
        AuditEvent,
        InputValue,
        Job,
        ModelVersion,
        ProgressCallback,
        Workspace,
    )

#: Receives one line of progress for people (``print`` will do); None means silent.
Say = Callable[[str], None]
#: The config file a project folder holds.
CONFIG_FILE = "mlops.yaml"


def _quiet(_: str) -> None:
    pass


class Project:
    """A project (its ``mlops.yaml``) on a workspace: train, release, monitor, score, explain.

    Build it with :meth:`load`. ``backend`` overrides the config's ``backend`` (``local`` or
    ``azure``), as ``mlops --backend`` does. The workspace is opened on first use.

    Examples:
        The examples of this class run in order, as one session, in the folder of a project made
        from a table of homes by ``mlops init homes --data homes.csv --target price_k``, with a file
        ``recent.csv`` of newer rows beside its ``mlops.yaml``. The test suite runs them
        (``tests/integration/test_api_examples.py``).

        >>> from mlops_azure import Project
        >>> project = Project.load()  # the project in the current folder
        >>> project.backend, project.config.model.name
        ('local', 'homes-model')
    """

    def __init__(self, config: ProjectConfig, *, backend: str | None = None,
                 workspace: Workspace | None = None, config_file: Path | None = None) -> None:
        self.config = config
        #: The file ``config`` was read from.
        self.config_file = config_file or config.root / CONFIG_FILE
        self._backend = backend
        self._workspace = workspace

    @classmethod
    def load(cls, path: str | os.PathLike[str] = ".", backend: str | None = None) -> Project:
        """The project at ``path``: a folder holding ``mlops.yaml``, or the config file itself.

        Raises ``UserInputError`` naming the file and the setting when the config is invalid.

        Examples:
            >>> Project.load("mlops.yaml", backend="local")
            Project('.../homes', backend='local')
        """
        where = Path(path)
        file = where / CONFIG_FILE if where.is_dir() else where
        return cls(load_config(file), backend=backend, config_file=file)

    def __repr__(self) -> str:
        return f"Project({str(self.config.root)!r}, backend={self.backend!r})"

    @property
    def backend(self) -> str:
        """The backend this project runs on: the override given to :meth:`load`, else the config's."""
        return self._backend or self.config.backend

    @property
    def workspace(self) -> Workspace:
        """The workspace (embedded or Azure ML), opened on first access and kept."""
        if self._workspace is None:
            from mlops_azure.backends import open_workspace

            self._workspace = open_workspace(self.config, self._backend)
        return self._workspace

    def notes(self, stage: str | None = None) -> list[str]:
        """Things worth knowing about how the config is read (e.g. an ``aci`` target taken as
        ``managed``), all of them or those about ``stage``.

        Examples:
            >>> project.notes()  # nothing unusual in this mlops.yaml
            []
        """
        found = self.config.notes(self._backend)
        return found if stage is None else [n for n in found if n.startswith(f"stages.{stage}:")]

    # -- training ----------------------------------------------------------------------------
    def train(self, *, data: str | None = None, params: Mapping[str, InputValue] | None = None,
              progress: ProgressCallback | None = None, because: Mapping[str, str] | None = None,
              actor: str | None = None) -> TrainingOutcome:
        """Run the training pipeline, apply the champion gate, register the candidate when it wins.

        ``data`` is a data asset ``NAME[:VERSION]`` (default: ``data.path`` uploaded as the next
        version when its content changed); ``params`` override pipeline inputs; ``because`` says
        why it runs (recorded on the job and in the model's lineage). The outcome's ``model`` is
        None when the gate kept the champion.

        Examples:
            >>> outcome = project.train()
            >>> outcome.decision.verdict  # nothing registered yet: the candidate is the first
            'first'
            >>> outcome.model.ref  # NAME:VERSION, what the later steps take
            'homes-model:1'
        """
        from mlops_azure.lifecycle.training import train

        return train(self.workspace, self.config, data=data, params=params, progress=progress,
                     actor=actor, because=because)

    def submit_training(self, *, data: str | None = None,
                        params: Mapping[str, InputValue] | None = None,
                        because: Mapping[str, str] | None = None) -> Job:
        """Submit the training pipeline and return its job without waiting; finish it later with
        :meth:`finish_training` (from another process if need be).

        Examples:
            >>> job = project.submit_training(params={"learning_rate": 0.1})
            >>> job.id
            'homes-...'
        """
        from mlops_azure.lifecycle.training import submit_training

        return submit_training(self.workspace, self.config, data=data, params=params, because=because)

    def finish_training(self, job_id: str, *, timeout_s: float | None = None,
                        progress: ProgressCallback | None = None,
                        actor: str | None = None) -> TrainingOutcome:
        """Wait for a submitted training job (at most ``timeout_s``), then gate and register as
        :meth:`train` does. Raises ``TrainingStillRunning`` when the job has not ended in time.

        Examples:
            >>> outcome = project.finish_training(job.id, timeout_s=600)
            >>> outcome.decision.verdict, outcome.model.ref  # it beat homes-model:1
            ('better', 'homes-model:2')
        """
        from mlops_azure.lifecycle.training import finish_training

        return finish_training(self.workspace, self.config, job_id, timeout_s=timeout_s,
                               progress=progress, actor=actor)

    # -- release -----------------------------------------------------------------------------
    def deploy(self, ref: str, stage: str, *, say: Say | None = None,
               actor: str | None = None) -> ReleaseOutcome:
        """Deploy model ``NAME:VERSION`` to a stage that needs no approval (e.g. staging), all
        traffic at once after it answers; the deployment serving before is kept for rollback.

        Examples:
            >>> released = project.deploy("homes-model:2", "staging")
            >>> released.model, released.traffic
            ('homes-model:2', {'v002': 100})
            >>> released.scoring_uri
            'http://127.0.0.1:.../score'
        """
        from mlops_azure.lifecycle.release import deploy

        return deploy(self.workspace, self.config, ref, stage, actor=actor, say=say or _quiet)

    def gate_qa(self, stage: str, *, model: str | None = None, report: Path | None = None,
                junit: Path | None = None, progress: Say | None = None,
                actor: str | None = None) -> QaReport:
        """Run the QA gate on ``stage``'s endpoint and record the report in the audit trail
        (where :meth:`approve` finds it as evidence).

        ``model`` (``NAME:VERSION``) picks the deployment serving that version, else the one
        taking most traffic. ``report`` and ``junit`` write the JSON report and JUnit XML there.
        Failed checks do not raise: look at ``QaReport.passed``.

        Examples:
            >>> report = project.gate_qa("staging", model="homes-model:2")
            >>> report.passed
            True
            >>> [check.name for check in report.checks]
            ['health', 'schema', 'parity', 'latency_p50', 'latency_p95', 'error_rate', 'bad_requests']
        """
        from mlops_azure.lifecycle.approval import record_qa
        from mlops_azure.lifecycle.junit import write_junit
        from mlops_azure.lifecycle.qa import run_qa_gate, write_report

        result = run_qa_gate(self.workspace, self.config, stage, model=model, progress=progress)
        if report is not None:
            write_report(result, report)
        if junit is not None:
            write_junit(result, junit)
        record_qa(self.workspace, result, actor=actor, config=self.config)
        return result

    def approve(self, ref: str, stage: str, *, reason: str | None = None, by: str | None = None,
                devops_environment: bool = False) -> Approval:
        """Record who approves ``NAME:VERSION`` for ``stage``, when and why.

        Refused (``GateFailed``) unless the version's latest QA report passed and, for a stage
        that requires approval, the responsible-ML policy allows it. With ``devops_environment``
        the approver is the one of the run's Azure DevOps Environment approval, read back from
        Azure DevOps, and the run is the evidence.

        Examples:
            >>> approval = project.approve("homes-model:2", "production", reason="QA passed", by="ann")
            >>> approval.by, approval.evidence["qa_stage"]  # the QA report it rests on
            ('ann', 'staging')
        """
        from mlops_azure.lifecycle.approval import approve

        return approve(self.workspace, self.config, ref, stage, reason=reason, by=by,
                       devops_environment=devops_environment)

    def promote(self, ref: str, stage: str, *, say: Say | None = None,
                actor: str | None = None) -> ReleaseOutcome:
        """Canary rollout of ``NAME:VERSION`` to ``stage`` (approval required where configured),
        probing between traffic steps and rolling back automatically (``GateFailed``) on failure.

        Examples:
            >>> released = project.promote("homes-model:2", "production")
            >>> released.traffic
            {'v002': 100}
            >>> [step["share"] for step in released.steps]  # traffic shares probed on the way
            [0, 100]
        """
        from mlops_azure.lifecycle.release import promote

        return promote(self.workspace, self.config, ref, stage, actor=actor, say=say or _quiet)

    def rollback(self, stage: str, *, say: Say | None = None,
                 actor: str | None = None) -> ReleaseOutcome:
        """Send all of ``stage``'s traffic back to the deployment that served before (instant).

        Examples:
            >>> project.deploy("homes-model:1", "staging").model  # a release to undo
            'homes-model:1'
            >>> back = project.rollback("staging")
            >>> back.model, back.traffic
            ('homes-model:2', {'v001': 0, 'v002': 100})
        """
        from mlops_azure.lifecycle.release import rollback

        return rollback(self.workspace, self.config, stage, actor=actor, say=say or _quiet)

    def invoke(self, stage: str, request: Mapping[str, Any] | bytes, *,
               deployment: str | None = None) -> ScoreResponse:
        """Send one scoring request to ``stage``'s endpoint (to ``deployment`` only, if given).

        An error answer is returned, not raised: look at ``ScoreResponse.ok``.

        Examples:
            >>> import json
            >>> from pathlib import Path
            >>> request = json.loads(Path("sample-request.json").read_text())  # made by mlops init
            >>> answer = project.invoke("production", request)
            >>> answer.ok, len(answer.json()["predictions"])
            (True, 5)
        """
        from mlops_azure.lifecycle.scoring import ScoringClient

        # A user's request, not a probe: sent unmarked, so it is collected as production data.
        with ScoringClient.for_endpoint(self.workspace, self.config.stage(stage).endpoint) as client:
            return client.score(request, deployment=deployment)

    # -- monitoring --------------------------------------------------------------------------
    def drift(self, current: str | Path | None = None, *, stage: str | None = None,
              model: str | None = None, window: str = "7d", actor: str | None = None) -> DriftCheck:
        """Compare recent data with the monitored model's training data and record the report.

        ``current`` is a CSV file or a data asset ``azureml:NAME[:VERSION]``; without it, the
        requests ``stage`` recorded in the last ``window`` (``30m``, ``12h``, ``7d``, ``2w``).
        The model is ``model`` (``NAME:VERSION``), else the one serving ``stage``, else the latest.

        Examples:
            >>> checked = project.drift("recent.csv", stage="production")  # bigger homes, in the centre
            >>> checked.model.ref, checked.report.drifted
            ('homes-model:2', True)
            >>> checked.report.drifted_features
            ('area_m2', 'district')
        """
        from mlops_azure.lifecycle.monitoring import check_drift

        return check_drift(self.workspace, self.config, current, stage=stage, model=model,
                           window=window, actor=actor)

    def retrain_on_drift(self, checked: DriftCheck, *, progress: ProgressCallback | None = None,
                         actor: str | None = None) -> TrainingOutcome | None:
        """Train (champion gate included) when ``checked`` found drift, naming its report as the
        reason in the new model's lineage; None when there was no drift.

        Examples:
            >>> retrained = project.retrain_on_drift(checked)
            >>> retrained.job.tags["trigger"], retrained.job.tags["drift_report"] == str(checked.event_id)
            ('drift', True)
            >>> retrained.decision.register  # the champion gate still decides: homes-model:2 stays
            False
        """
        if not checked.report.drifted:
            return None
        return self.train(progress=progress, actor=actor,
                          because={"trigger": "drift", "drift_report": str(checked.event_id)})

    # -- scoring and explanations ------------------------------------------------------------
    def score_batch(self, source: str, output: Path, *, model: str | None = None,
                    chunk_rows: int | None = None, workers: int = 0, sink: ForecastSink | None = None,
                    endpoint: str | None = None, here: bool = False, mini_batch_size: int = 1,
                    error_threshold: int = 0, say: Say | None = None) -> BatchResult:
        """Score ``source`` (a CSV file or ``azureml:NAME[:VERSION]``) into part files in ``output``;
        resumable, and with ``sink`` (e.g. ``mlops_azure.sinks.PostgresSink``) published there too.

        On Azure ML a data asset is scored where it lives, by a batch endpoint (``endpoint``, default
        ``MODEL-batch``; ``mini_batch_size`` and ``error_threshold`` apply there); a local file, or
        ``here=True``, is scored by a local process pool of ``workers`` (0: every core).
        ``model`` defaults to what production serves, else the latest version.

        Examples:
            >>> result = project.score_batch("recent.csv", Path("scored"))
            >>> result.model, result.rows
            ('homes-model:2', 600)
        """
        ws = self.workspace
        if endpoint is not None or (ws.batch is not None and source.startswith("azureml:")
                                    and not here):
            from mlops_azure.lifecycle.batch_endpoint import score_with_endpoint

            return score_with_endpoint(ws, self.config, source, output, model=model,
                                       endpoint=endpoint, chunk_rows=chunk_rows,
                                       mini_batch_size=mini_batch_size,
                                       error_threshold=error_threshold, sink=sink, say=say)
        from mlops_azure.lifecycle.batch import score_batch

        return score_batch(ws, self.config, source, output, model=model, chunk_rows=chunk_rows,
                           workers=workers, sink=sink, say=say)

    def explain(self, ref: str, rows: Sequence[Mapping[str, Any]] | str | os.PathLike[str] | None = None,
                *, stage: str | None = None) -> list[RowExplanation]:
        """Each feature's contribution to the predictions of ``NAME:VERSION`` for ``rows`` (dicts,
        or a CSV / JSON file of them; default: the first rows of the model's parity sample),
        computed by the project's own scoring script (``stage``'s, default the first stage's).

        Examples:
            >>> explained = project.explain("homes-model:2")
            >>> sorted(explained[0].contributions), explained[0].space
            (['area_m2', 'district', 'garden', 'rooms'], 'price_k')
        """
        from mlops_azure.lifecycle import explain as explaining

        if isinstance(rows, str | os.PathLike):
            return explaining.explain(self.workspace, self.config, ref,
                                      explaining.read_rows(Path(rows)), stage=stage, where=str(rows))
        return explaining.explain(self.workspace, self.config, ref, rows, stage=stage)

    def what_if(self, ref: str, row: Mapping[str, Any], changes: Mapping[str, Any], *,
                stage: str | None = None) -> tuple[RowExplanation, RowExplanation]:
        """``row`` explained as it is and with ``changes`` (feature → new value) applied.

        Examples:
            >>> home = {"area_m2": 80, "rooms": 3, "district": "hills", "garden": "no"}
            >>> as_is, bigger = project.what_if("homes-model:2", home, {"area_m2": 160})
            >>> bigger.prediction > as_is.prediction
            True
        """
        from mlops_azure.lifecycle.explain import what_if

        return what_if(self.workspace, self.config, ref, row, changes, stage=stage)

    def model_card(self, ref: str) -> ModelCard:
        """The model card of ``NAME:VERSION`` with every gate recorded up to now (render it with
        ``mlops_azure.responsible.render_markdown`` or ``render_html``).

        Examples:
            >>> from mlops_azure.responsible import render_markdown
            >>> card = project.model_card("homes-model:2")
            >>> card.name, card.version
            ('homes-model', '2')
            >>> Path("model-card.md").write_text(render_markdown(card)) > 0
            True
        """
        from mlops_azure.lifecycle.model_card import current_card

        return current_card(self.workspace, self.config, ref)[1]

    # -- reading the workspace ---------------------------------------------------------------
    def models(self, name: str | None = None) -> list[ModelVersion]:
        """Registered versions of model ``name`` (default: every model), newest first.

        Examples:
            >>> [version.ref for version in project.models()]
            ['homes-model:2', 'homes-model:1']
        """
        return self.workspace.models.versions(name)

    def model(self, ref: str) -> ModelVersion:
        """One registered version, ``NAME:VERSION`` (or ``NAME`` for the latest), with its lineage.

        Examples:
            >>> version = project.model("homes-model:2")
            >>> version.lineage.data_asset, version.lineage.params["learning_rate"]
            ('homes-data', 0.1)
            >>> sorted(version.metrics)
            ['mae', 'r2', 'rmse', 'rows']
        """
        from mlops_azure.lifecycle.refs import parse_ref

        name, version = parse_ref(ref)
        return self.workspace.models.get(name, version)

    def history(self, limit: int = 50) -> list[AuditEvent]:
        """The audit trail, newest first.

        Examples:
            >>> for event in project.history():
            ...     if event.action in ("approve", "promote"):
            ...         print(event.action, event.subject)
            promote homes-model:2
            approve homes-model:2
        """
        return self.workspace.events.recent(limit)

    def maturity(self, *, junit: Path | None = None) -> Maturity:
        """Where the project stands on Microsoft's MLOps maturity model (levels 0-4), judged from
        its files, git, CI definitions and workspace, and ``junit`` (a test report) when given.

        A workspace that cannot be opened leaves its criteria unknown instead of failing.

        Examples:
            >>> judged = project.maturity()
            >>> print(judged.sentence())
            homes is at level ...
        """
        from mlops_azure.errors import BackendError
        from mlops_azure.lifecycle.maturity import assess

        try:
            ws: Workspace | None = self.workspace
        except BackendError as exc:
            return assess(self.config, None, junit=junit, workspace_error=exc.message)
        return assess(self.config, ws, junit=junit)

    def status(self) -> ProjectStatus:
        """Which version serves at each stage, with traffic and health, and the latest registered.

        Examples:
            >>> for row in project.status().stages:
            ...     print(row.stage, row.model, row.traffic, row.state)
            staging homes-model:2 100 Succeeded
            staging homes-model:1 0 Succeeded
            production homes-model:2 100 Succeeded
        """
        from mlops_azure.lifecycle.status import project_status

        return project_status(self.workspace, self.config)

    # -- checks ------------------------------------------------------------------------------
    def check(self) -> ProjectCheck:
        """The project against the contract (``mlops project check``): mlops.yaml, the training
        pipeline, its components, the scoring scripts and the ``mlops`` lines of its CI/CD
        pipelines, read without running anything.

        Examples:
            >>> found = project.check()
            >>> found.ok, [f.message for f in found.errors]
            (True, [])
        """
        from mlops_azure.cli.invocations import with_ci_findings
        from mlops_azure.lifecycle.project_check import check_project

        return with_ci_findings(check_project(self.config_file), self.config.root)

    def check_data(self, path: str | os.PathLike[str] | None = None) -> DataCheckReport:
        """Run the project's data check component on ``path`` (default ``data.path``) against
        ``data.schema``, as the pipeline's first step does (``mlops data check``). A ``path``
        given is read as any path is (from the current folder); ``data.path`` from the project's.

        Examples:
            >>> report = project.check_data()
            >>> report.passed, report.errors
            (True, [])
            >>> recent = project.check_data("recent.csv")  # newer rows: no target yet, bigger homes
            >>> recent.passed, [(e["check"], e["column"]) for e in recent.errors]
            (False, [('columns', 'price_k'), ('range', 'area_m2')])
        """
        from mlops_azure.lifecycle.data import check_data

        return check_data(self.config, Path(path) if path is not None
                          else self.config.resolve(self.config.data.path))

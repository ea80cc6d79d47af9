"""The lifecycle operations, written once for every backend: each takes a ``Workspace`` and the
project's config. Nothing here imports ``azure.*`` or ``mlops_azure.local``. Use them through
:class:`mlops_azure.Project`; the modules, by command family:

Training
    ``training`` (run, submit, finish; register with lineage), ``champion`` (the gate's decision),
    ``baseline`` (which model a candidate must beat), ``data`` (data assets, the data check),
    ``provenance`` (actor, code commit, environment hash).
Release
    ``release`` (deploy, promote, rollback), ``rollout`` (the canary's traffic split and probes),
    ``qa`` (the QA gate) and ``junit`` (its JUnit XML), ``approval`` (approvals and their
    evidence), ``scoring`` (calling an online endpoint), ``status`` (what serves where).
References
    ``refs`` (``NAME:VERSION`` parsing, ``resolve_model``, the live deployment of an endpoint).
Monitoring and retraining
    ``monitoring`` (drift checks), ``monitor_setup`` (scheduled drift checks), ``schedules`` and
    ``schedule_runs`` (schedule-driven training), ``watch`` (data-driven training).
Scoring and explanations
    ``batch`` and ``batch_endpoint`` (batch scoring, locally or on an Azure ML batch endpoint),
    ``explain`` (explanations, what-if), ``responsible`` and ``model_card`` (fairness report,
    its gate, the model card).

Modules starting with ``_`` are their helpers. This package imports nothing itself, so importing
one module costs that module only.
"""

"""mlops-azure as a library: train, deploy to staging, run the QA gate, print where things stand.

The same steps as ``mlops train``, ``mlops deploy``, ``mlops gate qa`` and ``mlops status``,
from Python. Run it on a project folder, e.g. one made by ``mlops init my-project``::

    python examples/library_usage.py my-project

It leaves the staging endpoint running, as ``mlops deploy`` does; stop it with
``mlops endpoints delete ENDPOINT --yes`` in the project folder. Exits 1 when a gate says no.
"""

from __future__ import annotations

import sys

from mlops_azure import GateFailed, Project


def main(path: str) -> int:
    project = Project.load(path)
    print(f"project {project.config.project} on the {project.backend} workspace")

    trained = project.train()
    print(f"champion gate: {trained.decision.reason}")
    if trained.model is None:
        print("nothing registered: the model in production stays")
        return 1
    ref = trained.model.ref  # NAME:VERSION, what every later step takes
    print(f"registered {ref}")

    try:
        deployed = project.deploy(ref, "staging", say=print)
    except GateFailed as exc:  # the deployment did not start; the stage's traffic is unchanged
        print(f"deploy failed: {exc.message}")
        return 1
    print(f"{deployed.model} serves stage staging at {deployed.scoring_uri}")

    report = project.gate_qa("staging", model=ref)
    for check in report.checks:
        print(f"  {'pass' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    print(f"QA gate {'passed' if report.passed else 'failed'} for {report.model}")

    for row in project.status().stages:
        print(f"{row.stage}: {row.model or '-'} {row.traffic}% ({row.state})")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))

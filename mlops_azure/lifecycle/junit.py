"""The QA gate report as JUnit XML, the format Azure DevOps ``PublishTestResults@2`` reads.

One ``testsuite`` per gate run, one ``testcase`` per check; a failed check carries a ``failure``
whose message is the check's one-sentence detail, so the Tests tab says what went wrong.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC
from pathlib import Path

from mlops_azure._files import atomic_write
from mlops_azure.lifecycle.qa import QaReport


def junit_document(report: QaReport) -> ET.ElementTree[ET.Element]:
    """The report as an ElementTree (``testsuites`` > ``testsuite`` > ``testcase``)."""
    failures = len(report.failed)
    root = ET.Element("testsuites", name="mlops gate qa", tests=str(len(report.checks)),
                      failures=str(failures), time=f"{report.seconds:.3f}")
    suite = ET.SubElement(root, "testsuite", name=f"qa gate {report.stage}",
                          tests=str(len(report.checks)), failures=str(failures), errors="0",
                          skipped="0", time=f"{report.seconds:.3f}",
                          # JUnit's schema wants a timestamp without a zone: UTC, stated here.
                          timestamp=report.started_at.astimezone(UTC).replace(
                              tzinfo=None, microsecond=0).isoformat())
    properties = ET.SubElement(suite, "properties")
    for key, value in (("model", report.model), ("stage", report.stage),
                       ("endpoint", report.endpoint), ("deployment", report.deployment)):
        ET.SubElement(properties, "property", name=key, value=value)
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=f"mlops.gate.qa.{report.stage}",
                             name=check.name, time=f"{check.seconds:.3f}")
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=check.detail, type="GateFailed")
            failure.text = check.detail
        else:
            ET.SubElement(case, "system-out").text = check.detail
    return ET.ElementTree(root)


def write_junit(report: QaReport, path: Path) -> None:
    """Write the JUnit XML of ``report`` to ``path`` atomically."""
    document = junit_document(report)
    ET.indent(document)
    atomic_write(path, ET.tostring(document.getroot(), encoding="utf-8", xml_declaration=True))

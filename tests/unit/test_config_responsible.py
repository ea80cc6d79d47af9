"""The ``responsible:`` section of mlops.yaml: defaults, and one sentence per bad declaration."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.config import ResponsibleConfig, load_config
from mlops_azure.errors import UserInputError

BASE = """
project: p
model: {name: m}
data:
  schema:
    columns:
      segment: {type: string, allowed: [energy, construction]}
      region: {type: string}
      flag: {type: boolean}
      material_id: {type: integer}
      price: {type: float}
      y: {type: float}
"""

GOOD = BASE + """
responsible:
  sensitive: [segment, region, flag]
  cohorts: [segment, region, material_id]
  task: regression
  metric: mae
  min_group_size: 5
  policy:
    max_disparity:
      segment: {difference: 0.15, ratio: 2.0}
      region: {ratio: 1.5}
    worst_cohort_metric: 0.6
    on_registration: block
  mitigation:
    reweight_by: segment
"""


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "mlops.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def test_a_full_section_reads_back(tmp_path: Path) -> None:
    section = load_config(write(tmp_path, GOOD)).responsible
    assert section is not None
    assert section.cohort_features == ["segment", "region", "material_id"]
    assert section.policy.max_disparity["segment"].difference == 0.15
    assert section.policy.max_disparity["region"].difference is None
    assert section.policy.on_registration == "block"
    assert section.mitigation is not None and section.mitigation.reweight_by == "segment"
    assert section.features == ["segment", "region", "flag", "material_id"]


def test_the_section_is_optional_and_has_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE)).responsible is None
    section = load_config(write(tmp_path, BASE + "responsible: {sensitive: [segment]}\n")).responsible
    assert section is not None
    assert (section.task, section.metric, section.min_group_size) == ("regression", "mae", 30)
    assert section.cohort_features == ["segment"]
    assert section.policy.on_registration == "warn" and section.policy.max_disparity == {}
    classification = ResponsibleConfig(sensitive=["segment"], task="classification")
    assert classification.metric == "selection_rate"


def test_the_task_defaults_to_the_models_and_an_explicit_one_is_kept(tmp_path: Path) -> None:
    classifier = BASE.replace("{name: m}", "{name: m, task: classification}")
    section = load_config(write(tmp_path, classifier + "responsible: {sensitive: [segment]}\n")).responsible
    assert section is not None and (section.task, section.metric) == ("classification", "selection_rate")
    explicit = classifier + "responsible: {sensitive: [segment], task: regression}\n"
    section = load_config(write(tmp_path, explicit)).responsible
    assert section is not None and (section.task, section.metric) == ("regression", "mae")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("[segment, region, flag]", "[segment, region, colour]"),
         "responsible.sensitive names 'colour', which is not a column of data.schema"),
        (("[segment, region, material_id]", "[segment, shape]"),
         "responsible.cohorts names 'shape', which is not a column of data.schema"),
        (("reweight_by: segment", "reweight_by: size"),
         "responsible.mitigation.reweight_by names 'size', which is not a column of data.schema"),
        (("[segment, region, flag]", "[segment, region, price]"),
         "responsible.sensitive names 'price', which is a float column"),
        (("[segment, region, material_id]", "[segment, price]"),
         "responsible.cohorts names 'price', which is a float column"),
        (("min_group_size: 5", "min_group_size: 0"),
         "responsible.min_group_size: must be greater than or equal to 1, got 0"),
        (("metric: mae", "metric: accuracy"),
         "responsible: metric 'accuracy' is not a regression metric (mae, wape, rmse)"),
        (("task: regression", "task: ranking"), "responsible.task: must be"),
        (("region: {ratio: 1.5}", "price: {ratio: 1.5}"),
         "responsible: policy.max_disparity names 'price', which is not one of sensitive"),
        (("region: {ratio: 1.5}", "region: {}"),
         "responsible.policy.max_disparity.region: give difference, ratio or both"),
        (("region: {ratio: 1.5}", "region: {ratio: 0.5}"),
         "responsible.policy.max_disparity.region.ratio: must be greater than or equal to 1, got 0.5"),
        (("on_registration: block", "on_registration: ignore"),
         "responsible.policy.on_registration: must be 'warn' or 'block', got 'ignore'"),
        (("  min_group_size: 5", "  min_group_size: 5\n  colour: red"),
         "responsible.colour: unknown setting"),
        (("worst_cohort_metric: 0.6", "max_cohort_metric: 0.6"),
         "responsible.policy.max_cohort_metric: unknown setting"),
        (("[segment, region, flag]", "[segment, region, segment]"),
         "responsible: sensitive names 'segment' more than once"),
        (("[segment, region, flag]", "[]"), "responsible.sensitive: List should have at least 1 item"),
    ],
)
def test_bad_declarations_give_one_sentence(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(UserInputError) as caught:
        load_config(write(tmp_path, GOOD.replace(old, new)))
    message = caught.value.message
    assert message.startswith(str(tmp_path / "mlops.yaml"))
    assert expected in message
    assert "\n" not in message


def test_the_readme_example_is_a_valid_declaration(tmp_path: Path) -> None:
    import re
    import shutil

    import yaml

    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
                 if b.startswith("responsible:"))
    shutil.copy(repo / "examples" / "steel" / "mlops.yaml", tmp_path / "mlops.yaml")
    document = yaml.safe_load((tmp_path / "mlops.yaml").read_text(encoding="utf-8"))
    document["responsible"] = yaml.safe_load(block)["responsible"]
    (tmp_path / "mlops.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    found = load_config(tmp_path / "mlops.yaml").responsible
    assert found is not None and found.mitigation.reweight_by == "segment"
    assert found.policy.max_disparity["segment"].ratio == 1.5


def test_an_integer_coded_sensitive_column_is_a_group_label(tmp_path: Path) -> None:
    # e.g. sex coded 1/2: its values name the groups, as text would.
    section = load_config(write(tmp_path, GOOD.replace("[segment, region, flag]",
                                                        "[segment, region, material_id]"))).responsible
    assert section is not None and "material_id" in section.sensitive

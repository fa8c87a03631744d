"""SARIF output: valid against the SARIF 2.1.0 schema (subset) and shaped as GitHub code scanning needs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from orchestrator.forecast import sarif
from orchestrator.forecast.run import forecast
from orchestrator.model import Finding
from orchestrator.catalog.playbooks import load_playbooks
from orchestrator.template import load_template

HERE = Path(__file__).parent
SCHEMA = json.loads((HERE / "fixtures" / "sarif-schema-subset.json").read_text())
FIXTURES = HERE / "fixtures" / "forecast"


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks()


@pytest.mark.parametrize("case", ["broken-pipeline.json", "broken-network.yaml", "good-vpc.yaml"])
def test_forecast_sarif_validates(case, playbooks):
    path = FIXTURES / case
    findings = forecast(load_template(path), playbooks=playbooks)
    log = sarif.to_sarif({path: findings}, playbooks=playbooks, base_dir=HERE.parent)
    validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert run["tool"]["driver"]["name"] == "cfn-autofix"
    assert len(run["results"]) == len(findings)
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    class_of = {book.id: book.failure_class for book in playbooks}
    # Rule ids are the failure classes (the contract), e.g. every missing-depends-on-* playbook is one rule.
    assert set(rule_ids) == {class_of[f.playbook] for f in findings}
    for result, finding in zip(run["results"], findings):
        assert result["ruleId"] == class_of[finding.playbook]
        assert rule_ids[result["ruleIndex"]] == class_of[finding.playbook]
        assert result["level"] == ("warning" if finding.severity == "warning" else "error")
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == f"tests/fixtures/forecast/{case}"
        assert location["region"]["startLine"] == finding.line


def test_rules_carry_playbook_title_and_docs(playbooks):
    findings = forecast(load_template(FIXTURES / "broken-pipeline.json"), playbooks=playbooks)
    log = sarif.to_sarif({FIXTURES / "broken-pipeline.json": findings}, playbooks=playbooks, base_dir=HERE.parent)
    books = {b.id: b for b in playbooks}
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] == books[rule["id"]].title
        assert rule["helpUri"] == books[rule["id"]].docs
        assert rule["helpUri"].startswith("https://docs.aws.amazon.com/")


def test_without_playbooks_and_without_a_line():
    finding = Finding("missing-depends-on", "Route", "AWS::EC2::Route", "needs DependsOn", line=None)
    log = sarif.to_sarif({"dir with space/t.yaml": [finding]}, base_dir=".")
    validate(log)
    result = log["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "dir%20with%20space/t.yaml"
    assert log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"].endswith("aws-attribute-dependson.html")


@pytest.mark.parametrize(
    "case,mutate",
    [
        ("bad-level", lambda log: log["runs"][0]["results"][0].update(level="fatal")),
        ("line-zero", lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0)),
        ("no-driver-name", lambda log: log["runs"][0]["tool"]["driver"].pop("name")),
        ("unknown-key", lambda log: log["runs"][0]["results"][0].update(severity="error")),
    ],
)
def test_schema_subset_rejects_invalid_logs(case, mutate):
    finding = Finding("transient", "X", "AWS::S3::Bucket", "m", line=3)
    log = sarif.to_sarif({"t.yaml": [finding]}, base_dir=".")
    validate(log)
    mutate(log)
    with pytest.raises(jsonschema.ValidationError):
        validate(log)

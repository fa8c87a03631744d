"""Exports and imports: `deploy --with` deploys the exporter first; matrix cells run export -> import; a missing export is classified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.deploy.loop import companion_spec
from orchestrator.errors import BadInput
from orchestrator.template import load_template
from orchestrator.verify.exports import link_cells
from orchestrator.verify.matrix import Cell

FIXTURES = Path(__file__).parent / "fixtures" / "prereqs"


def invoke(*args: str):
    return CliRunner().invoke(app, ["--log-json", *args], catch_exceptions=False)


def test_with_deploys_the_exporter_first_and_the_import_resolves(tmp_path: Path) -> None:
    result = invoke("deploy", str(FIXTURES / "importer.yaml"), "--with", str(FIXTURES / "exporter.yaml"),
                    "--report-json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0, report["stop_reason"]
    assert [(w["stack_name"], w["status"]) for w in report["with"]] == [("exporter", "succeeded")]
    assert report["prerequisites_missing"] == []


def test_an_export_that_exists_nowhere_is_prerequisite_missing(tmp_path: Path) -> None:
    result = invoke("deploy", str(FIXTURES / "importer.yaml"), "--param", "ExporterStack=shared",
                    "--report-json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 1
    assert report["deployments"] == 0 and report["attempts"] == []
    assert report["stop_reason"] == "prerequisite-missing: export shared-QueueArn (Resources.Subscription.Properties.Endpoint)"
    assert [m["what"] for m in report["prerequisites_missing"]] == ["export shared-QueueArn"]
    assert report["prerequisites_missing"][0]["logical_id"] == "Subscription"


def test_companion_names() -> None:
    assert companion_spec("net=stacks/vpc.yaml") == ("net", Path("stacks/vpc.yaml"))
    assert companion_spec("stacks/widdix-vpc-2azs.yaml") == ("widdix-vpc-2azs", Path("stacks/widdix-vpc-2azs.yaml"))
    assert companion_spec("dir/a_b.c.yaml") == ("a-b-c", Path("dir/a_b.c.yaml"))


def cell(path: Path, **parameters: str) -> Cell:
    return Cell(template=path, label=path.name, region="us-east-1", parameter_set="default", parameters=parameters)


def test_matrix_cells_run_export_then_import_with_the_exporter_as_companion() -> None:
    importer, exporter = cell(FIXTURES / "importer.yaml", ExporterStack="shared"), cell(FIXTURES / "exporter.yaml")
    linked = link_cells([importer, exporter], load_template)
    assert [c.label for c in linked] == ["exporter.yaml", "importer.yaml"]
    # The stack name is read off the import: ${AWS::StackName}-QueueArn imported as shared-QueueArn.
    assert linked[1].with_templates == (f"shared={FIXTURES / 'exporter.yaml'}",)
    assert linked[0].with_templates == ()


def test_an_import_cycle_is_bad_input(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.yaml").write_text(
            "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n"
            f"      TopicName: !ImportValue {other}-Name\n"
            "Outputs:\n  Name:\n    Value: !GetAtt Topic.TopicName\n    Export:\n      Name: !Sub '${AWS::StackName}-Name'\n")
    with pytest.raises(BadInput, match=r"import each other's exports in a cycle: a.yaml -> b.yaml -> a.yaml|b.yaml -> a.yaml -> b.yaml"):
        link_cells([cell(tmp_path / "a.yaml"), cell(tmp_path / "b.yaml")], load_template)


def test_a_companion_is_forecast_and_repaired_before_it_deploys_as_the_run_is(tmp_path: Path) -> None:
    exporter = tmp_path / "exporter.yaml"
    exporter.write_text((FIXTURES / "exporter.yaml").read_text().replace("Resources:\n", (
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      AssumeRolePolicyDocument:\n"
        "        Version: '2012-10-17'\n"
        "        Statement: [{Effect: Allow, Principal: {Service: codedeploy.amazonaws.com}, Action: sts:AssumeRole}]\n"
        "      ManagedPolicyArns: [arn:aws:iam::aws:policy/AWSCodeDeployRole]\n"), 1))
    original = exporter.read_text()
    result = invoke("deploy", str(FIXTURES / "importer.yaml"), "--with", str(exporter), "--report-json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0, report["stop_reason"]
    [companion] = report["with"]
    assert companion["status"] == "succeeded"
    # The known failure was repaired before the companion's only deployment, which then had nothing to repair.
    assert [r["repair"] for r in companion["forecast_repairs"]] and len(companion["attempts"]) == 1
    assert companion["attempts"][0]["failures"] == []
    assert exporter.read_text() == original


def test_a_with_file_is_named_so_that_the_imports_resolve(tmp_path: Path) -> None:
    # The importer names its exporter "shared"; the file is called network.yaml, as real projects differ.
    network = tmp_path / "network.yaml"
    network.write_text((FIXTURES / "exporter.yaml").read_text())
    result = invoke("deploy", str(FIXTURES / "importer.yaml"), "--param", "ExporterStack=shared", "--with", str(network),
                    "--report-json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.exit_code == 0, report["stop_reason"]
    assert [(w["stack_name"], w["status"]) for w in report["with"]] == [("shared", "succeeded")]
    assert report["prerequisites_missing"] == []

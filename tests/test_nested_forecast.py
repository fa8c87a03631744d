"""Forecast of nested stacks: children read where the deployment reads them, with what the parent passes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.deploy.nested_forecast import forecast_children
from orchestrator.template import load_template

CHILD = """
Parameters:
  Engine: {Type: String, Default: aurora-mysql}
  Subnet: {Type: String, Default: subnet-default}
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: !Ref Engine, DBSubnetGroupName: !Ref Subnet}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def parent(url: str, engine: str = "!Ref DbEngine", condition: str = "") -> str:
    return f"""
    Parameters:
      DbEngine: {{Type: String, Default: aurora}}
      Bucket: {{Type: String, Default: my-project-bucket}}
      WithDb: {{Type: String, Default: "yes"}}
    Conditions:
      Db: !Equals [!Ref WithDb, "yes"]
    Resources:
      Net: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.0.0.0/16}}}}
      Database:
        Type: AWS::CloudFormation::Stack
        {condition}
        Properties:
          TemplateURL: {url}
          Parameters: {{Engine: {engine}, Subnet: !GetAtt Net.DefaultNetworkAcl}}
    """


def test_a_local_child_is_forecast_with_the_value_the_parent_passes(tmp_path):
    write(tmp_path / "db.yaml", CHILD)
    top = write(tmp_path / "main.yaml", parent("db.yaml"))
    [child] = forecast_children(load_template(top), region="us-east-1")
    assert child.path == (tmp_path / "db.yaml").resolve() and child.source == "local"
    [finding] = child.findings
    assert finding.playbook == "rds-engine-retired" and finding.logical_id == "Cluster"
    assert finding.severity == "error" and not finding.fixable  # repaired in the child's file, not here
    assert finding.details["template"] == str(child.path) and "nested stack Database" in finding.message
    # The parent passes aurora-mysql: nothing to find (the child's Default is not what it gets).
    assert forecast_children(load_template(top), region="us-east-1",
                             parameters={"DbEngine": "aurora-mysql"})[0].findings == []


def test_a_value_only_known_at_deploy_time_is_unknown_in_the_child_not_its_default(tmp_path):
    write(tmp_path / "db.yaml", CHILD.replace("Default: aurora-mysql", "Default: aurora"))
    top = write(tmp_path / "main.yaml", parent("db.yaml", engine="!GetAtt Net.CidrBlock"))
    assert forecast_children(load_template(top), region="us-east-1")[0].findings == []


def test_conditions_of_the_parent_decide_whether_the_child_is_forecast(tmp_path):
    write(tmp_path / "db.yaml", CHILD)
    top = write(tmp_path / "main.yaml", parent("db.yaml", condition="Condition: Db"))
    assert forecast_children(load_template(top), region="us-east-1", parameters={"WithDb": "no"}) == []
    unknown = write(tmp_path / "unknown.yaml", parent("db.yaml", condition="Condition: Db").replace(
        "Db: !Equals [!Ref WithDb, \"yes\"]", "Db: !Equals [!Ref AWS::AccountId, \"123456789012\"]"))
    [child] = forecast_children(load_template(unknown), region="us-east-1")
    assert [f.severity for f in child.findings] == ["warning"]


def test_an_s3_url_is_read_from_the_project_built_or_literal(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / "templates" / "db.yaml", CHILD)
    built = write(tmp_path / "templates" / "main.yaml",
                  parent("!Sub https://${Bucket}.s3.amazonaws.com/proj/templates/db.yaml"))
    [child] = forecast_children(load_template(built), region="us-east-1")
    assert child.path == (tmp_path / "templates" / "db.yaml").resolve()
    assert child.source == "https://my-project-bucket.s3.amazonaws.com/proj/templates/db.yaml"
    assert [f.severity for f in child.findings] == ["error"]  # the project's own upload: what AWS reads
    literal = write(tmp_path / "templates" / "literal.yaml",
                    parent("https://s3.amazonaws.com/someone-elses-bucket/latest/templates/db.yaml"))
    [child] = forecast_children(load_template(literal), region="us-east-1")
    # A published copy of the project: the project's file is its source and what a sandbox serves.
    assert [f.severity for f in child.findings] == ["error"]
    assert "the project's copy of https://s3.amazonaws.com/someone-elses-bucket/latest/templates/db.yaml" in child.findings[0].message
    unknown_file = write(tmp_path / "templates" / "other.yaml",
                         parent("https://s3.amazonaws.com/b/templates/not-in-project.yaml"))
    assert forecast_children(load_template(unknown_file), region="us-east-1") == []


def test_cli_lists_child_findings_under_the_child_file_and_fix_leaves_the_child(tmp_path):
    child = write(tmp_path / "db.yaml", CHILD)
    top = write(tmp_path / "main.yaml", parent("db.yaml"))
    before = child.read_text()
    result = CliRunner().invoke(app, ["forecast", str(top), "--format", "json"])
    assert result.exit_code == 1, result.output
    documents = json.loads(result.stdout)
    assert [d["template"] for d in documents] == [str(top), str(child.resolve())]
    assert documents[0]["findings"] == [] and documents[1]["nested_in"] == str(top)
    assert [f["playbook"] for f in documents[1]["findings"]] == ["rds-engine-retired"]
    fixed = CliRunner().invoke(app, ["forecast", str(top), "--fix"])
    assert fixed.exit_code == 1 and child.read_text() == before
    assert not (tmp_path / "db.fixed.yaml").exists()


def test_cli_json_stays_parseable_when_children_come_from_the_project(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path / "templates" / "db.yaml", CHILD)
    top = write(tmp_path / "templates" / "main.yaml",
                parent("!Sub https://${Bucket}.s3.amazonaws.com/proj/templates/db.yaml"))
    result = CliRunner().invoke(app, ["forecast", str(top), "--format", "json"])
    documents = json.loads(result.stdout)  # nothing but the report on stdout
    assert result.exit_code == 1
    assert [f["severity"] for f in documents[1]["findings"]] == ["error"]

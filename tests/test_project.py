"""Quick-start style projects: nested templates named by S3 URL are served from the project on a sandbox, as taskcat does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from orchestrator import deploy_with_autofix
from orchestrator.cli import app
from orchestrator.deploy.project import Project, child_known, project_root

QUICKSTART = Path(__file__).parent / "fixtures" / "quickstart"
ENTRYPOINT = Path("templates") / "entrypoint.template.yaml"


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "quickstart-demo"
    shutil.copytree(QUICKSTART, project)
    return project


def test_the_children_a_public_bucket_would_hold_are_served_from_the_project_and_a_broken_one_repaired_in_its_file(
        tmp_path: Path, sandbox) -> None:
    project = copy_project(tmp_path)
    originals = {p: p.read_text() for p in project.rglob("*.yaml")}
    result = deploy_with_autofix(project / ENTRYPOINT, target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 report_json=tmp_path / "report.json")
    report = result.report
    assert result.status == "succeeded", report["stop_reason"]
    # The default bucket (aws-quickstart-us-east-1) is not in the sandbox: the project serves each key's file.
    served = {a["served_for"]: (a["local"], a["logical_id"]) for a in report["artifacts"] if a.get("served_for")}
    prefix = "s3://aws-quickstart-us-east-1/quickstart-demo/"
    assert served == {
        prefix + "submodules/network/templates/network.template.yaml":
            ("submodules/network/templates/network.template.yaml", "NetworkStack"),
        prefix + "templates/workload.template.yaml": ("templates/workload.template.yaml", "WorkloadStack"),
        prefix + "templates/logs.template.yaml": ("templates/logs.template.yaml", "LogsStack"),
    }
    assert report["prerequisites_missing"] == []
    # The workload child's failure was followed into its file and repaired there; no input changed.
    [failure] = report["attempts"][0]["failures"]
    workload = (project / "templates" / "workload.template.yaml").resolve()
    assert (failure["logical_id"], failure["template"], failure["via"]) == ("Role", str(workload), ["WorkloadStack"])
    fixed = project / "templates" / "workload.template.fixed.yaml"
    assert report["repaired_children"] == [{"template": str(workload), "repaired_template": str(fixed)}]
    repaired = fixed.read_text()
    assert "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole" not in repaired and "logs:PutLogEvents" in repaired
    assert report["repaired_template"] is None
    assert {p: p.read_text() for p in project.rglob("*.yaml") if p != fixed} == originals


def test_verify_from_taskcat_runs_a_quickstart_project_with_its_autobucket(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    result = CliRunner().invoke(app, ["--log-json", "verify", "--from-taskcat", str(project / ".taskcat.yml"),
                                      "--workers", "1", "--out-dir", str(tmp_path / "out"),
                                      "--report-json", str(tmp_path / "verify.json")], catch_exceptions=False)
    run = json.loads((tmp_path / "verify.json").read_text())
    [cell] = run["cells"]
    report = cell["report"]
    # QSS3BucketName is the run's bucket ($[taskcat_autobucket]); the keys under it are the project's files.
    generated = {g["parameter"]: g["value"] for g in report["generated_values"]}
    served = sorted(a["served_for"] for a in report["artifacts"] if a.get("served_for"))
    assert served == [f"s3://{generated['QSS3BucketName']}/quickstart-demo/{path}" for path in (
        "submodules/network/templates/network.template.yaml", "templates/logs.template.yaml",
        "templates/workload.template.yaml")]
    assert report["status"] == "succeeded", report["stop_reason"]
    assert result.exit_code == 0, result.output


def test_only_absent_objects_are_served_by_the_longest_tail_of_their_key_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.yaml").write_text("x")
    (tmp_path / "a.yaml").write_text("y")
    (tmp_path.parent / "outside.yaml").write_text("z")
    present = {("published", "p/templates/a.yaml")}
    project = Project(root=tmp_path, exists=lambda bucket, key: (bucket, key) in present)
    assert project.file_for("bucket", "prefix/templates/a.yaml") == (tmp_path / "templates" / "a.yaml").resolve()
    assert project.file_for("bucket", "other/a.yaml") == (tmp_path / "a.yaml").resolve()
    assert project.file_for("published", "p/templates/a.yaml") is None  # the object exists: AWS reads it
    assert project.file_for("bucket", "../outside.yaml") is None
    assert project.file_for("bucket", "templates/b.yaml") is None


def test_the_project_root_is_the_nearest_folder_with_a_taskcat_file_or_a_checkout(tmp_path: Path) -> None:
    (tmp_path / "repo" / "templates").mkdir(parents=True)
    template = tmp_path / "repo" / "templates" / "t.yaml"
    template.write_text("Resources: {}\n")
    assert project_root(template) == template.parent.resolve()
    (tmp_path / "repo" / ".taskcat.yml").write_text("project: {}\n")
    assert project_root(template) == (tmp_path / "repo").resolve()


def test_a_child_knows_what_its_parent_passes_and_its_own_defaults() -> None:
    parent = {"Parameters": {"Prefix": {"Type": "String", "Default": "p/"}},
              "Conditions": {"Yes": {"Fn::Equals": [{"Ref": "Prefix"}, "p/"]}}}
    child = {"Parameters": {"Prefix": {"Type": "String"}, "Flag": {"Type": "String"}, "Kept": {"Type": "String", "Default": "k"},
                            "Later": {"Type": "String"}}}
    properties = {"Parameters": {"Prefix": {"Ref": "Prefix"}, "Flag": {"Fn::If": ["Yes", True, False]},
                                 "Later": {"Fn::GetAtt": ["X", "Out"]}}}
    known = child_known({"Prefix": "p/", "AWS::Region": "eu-west-1"}, parent, properties, child)
    assert known == {"Prefix": "p/", "Flag": "true", "Kept": "k", "AWS::Region": "eu-west-1"}

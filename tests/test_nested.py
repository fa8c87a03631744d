"""Nested stacks: local children are packaged and deployed for real; a child's failure is diagnosed and repaired in its file."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3

from orchestrator import deploy_with_autofix

NESTED = Path(__file__).parent / "fixtures" / "nested"


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(NESTED, project, ignore=shutil.ignore_patterns("*.expected.yaml"))
    return project


def test_parent_with_two_children_one_broken_ends_green_with_the_child_file_repaired(tmp_path: Path, sandbox) -> None:
    project = copy_project(tmp_path)
    originals = {p: p.read_text() for p in project.rglob("*.yaml")}
    result = deploy_with_autofix(project / "parent.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 report_json=tmp_path / "report.json")
    report = result.report
    assert result.status == "succeeded", report["stop_reason"]
    # Diagnosis followed the parent's "Embedded stack ... was not successfully created" into the child.
    [failure] = report["attempts"][0]["failures"]
    assert (failure["logical_id"], failure["resource_type"]) == ("Role", "AWS::IAM::Role")
    assert failure["template"] == str((project / "children" / "service.yaml").resolve()) and failure["via"] == ["Service"]
    assert "AWSLambdaBasicExecutionRole does not exist or is not attachable" in failure["status_reason"]
    assert failure["playbook"] == "managed-policy-not-attachable"
    [repair] = report["attempts"][0]["repairs"]
    assert repair["template"] == failure["template"]
    # The child file is repaired beside itself; no input file changed and the parent needed no repair.
    fixed = project / "children" / "service.fixed.yaml"
    assert report["repaired_children"] == [{"template": failure["template"], "repaired_template": str(fixed)}]
    assert fixed.read_text() == (NESTED / "children" / "service.expected.yaml").read_text()
    assert report["repaired_template"] is None and not (project / "parent.fixed.yaml").exists()
    assert {p: p.read_text() for p in project.rglob("*.yaml") if p != fixed} == originals
    # Both children are real stacks of the sandbox; the parent reads the service child's output.
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    parent = cfn.describe_stacks(StackName=result.stack_name)["Stacks"][0]
    assert parent["StackStatus"] == "UPDATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in parent["Outputs"]}
    assert outputs["RoleArn"].startswith("arn:aws:iam::")
    children = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.describe_stack_resources(StackName=result.stack_name)["StackResources"]}
    for logical_id in ("Queues", "Service"):
        child = cfn.describe_stacks(StackName=children[logical_id])["Stacks"][0]
        assert child["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        events = cfn.describe_stack_events(StackName=children[logical_id])["StackEvents"]
        assert {e["LogicalResourceId"] for e in events} > {child["StackName"]}
    service = cfn.describe_stack_resources(StackName=children["Service"])["StackResources"]
    assert [(r["LogicalResourceId"], r["ResourceStatus"]) for r in service] == [("Role", "CREATE_COMPLETE")]


def test_a_broken_child_rolls_back_with_its_parent(tmp_path: Path, sandbox) -> None:
    project = copy_project(tmp_path)
    result = deploy_with_autofix(project / "parent.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 strategy="recreate", max_attempts=1, forecast=False)
    assert result.status == "failed"
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    assert cfn.describe_stacks(StackName=result.stack_name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    live = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert live == [result.stack_name]  # the children went with the parent's rollback

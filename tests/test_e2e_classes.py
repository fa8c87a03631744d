"""End to end on the embedded sandbox, one test per repairable class of issue 13: fails -> repaired -> green.

Each template fails on the sandbox because a service rule models AWS's refusal (sandbox/service_rules.py
and the fidelity rules), the diagnosis names the class, the class's repair changes the template, and the
next deployment is green. The forecast is off so the failure happens on the sandbox, not before it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from orchestrator import deploy_with_autofix

pytestmark = pytest.mark.slow

E2E = Path(__file__).parent / "fixtures" / "e2e"


def deploy(name: str, tmp_path: Path, sandbox):
    template = tmp_path / name
    shutil.copyfile(E2E / name, template)
    return deploy_with_autofix(template, forecast=False, target="endpoint", endpoint_url=sandbox.endpoint_url,
                               credentials=sandbox.credentials)


def failed_then_green(result, playbook: str, repair: str) -> dict:
    assert result.status == "succeeded", result.report["stop_reason"]
    first, last = result.attempts[0], result.attempts[-1]
    assert first["stack_status"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED")
    assert [f["playbook"] for f in first["failures"]] == [playbook]
    assert [r["repair"] for r in first["repairs"]] == [repair]
    assert last["stack_status"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    return first


def test_lambda_runtime_deprecated(tmp_path, sandbox):
    first = failed_then_green(deploy("lambda-runtime.yaml", tmp_path, sandbox), "lambda-runtime-deprecated",
                              "lambda-runtime")
    assert "no longer supported for creating or updating" in first["failures"][0]["status_reason"]
    assert "nodejs12.x -> nodejs" in first["repairs"][0]["rationale"]


def test_policy_version_missing(tmp_path, sandbox):
    first = failed_then_green(deploy("policy-version.yaml", tmp_path, sandbox), "policy-version-missing",
                              "policy-version")
    assert first["repairs"][0]["resources"] == ["QueueReaders"]


def test_name_invalid(tmp_path, sandbox):
    result = deploy("name-invalid.yaml", tmp_path, sandbox)
    first = failed_then_green(result, "name-invalid", "name-invalid")
    assert "Name" not in result.template.document["Resources"]["NightlyRule"]["Properties"]
    assert first["repairs"][0]["operations"] == [{"op": "remove", "path": "/Resources/NightlyRule/Properties/Name"}]


def test_managed_policy_renamed(tmp_path, sandbox):
    result = deploy("managed-policy-renamed.yaml", tmp_path, sandbox)
    first = failed_then_green(result, "managed-policy-not-attachable", "managed-policy-fix-arn")
    arns = result.template.document["Resources"]["DeployRole"]["Properties"]["ManagedPolicyArns"]
    assert arns == ["arn:aws:iam::aws:policy/AWSLambda_FullAccess"]
    assert "renamed AWSLambdaFullAccess to AWSLambda_FullAccess" in first["repairs"][0]["rationale"]


def test_availability_zone_not_offered(tmp_path, sandbox):
    result = deploy("availability-zone.yaml", tmp_path, sandbox)
    failed_then_green(result, "capacity-unavailable-zone", "availability-zone")
    assert result.template.document["Resources"]["AppSubnet"]["Properties"]["AvailabilityZone"] == "us-east-1a"


def test_name_already_exists_leftover(tmp_path, sandbox):
    logs = boto3.client("logs", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    logs.create_log_group(logGroupName="/cfn-autofix/e2e/app")  # the leftover of an earlier run
    result = deploy("name-already-exists.yaml", tmp_path, sandbox)
    failed_then_green(result, "name-already-exists", "name-already-exists")
    name = result.template.document["Resources"]["AppLogGroup"]["Properties"]["LogGroupName"]
    assert name.startswith("/cfn-autofix/e2e/app-") and name != "/cfn-autofix/e2e/app"


LEFTOVER = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  OldLogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /cfn-autofix/e2e/app
"""


def test_name_already_exists_leftover_of_our_own_run_is_swept_first(tmp_path, sandbox):
    from orchestrator.aws.session import RUN_ID_TAG

    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    cfn.create_stack(StackName="cfn-autofix-old-run", TemplateBody=LEFTOVER,
                     Tags=[{"Key": RUN_ID_TAG, "Value": "0123456789"}])
    waiter_deadline = 0
    while cfn.describe_stacks(StackName="cfn-autofix-old-run")["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"):
        waiter_deadline += 1
        # Bounds a runaway wait (generously: CI runners are busy); not a speed assertion.
        assert waiter_deadline < 9000, "the leftover stack never finished"
        import time

        time.sleep(0.1)
    result = deploy("name-already-exists.yaml", tmp_path, sandbox)
    assert result.status == "succeeded", result.report["stop_reason"]
    first = result.attempts[0]
    assert [f["playbook"] for f in first["failures"]] == ["name-already-exists"]
    assert first["swept"] == ["cfn-autofix-old-run"] and first["repairs"] == []
    # The name is kept: the holder was ours and is gone.
    assert result.template.document["Resources"]["AppLogGroup"]["Properties"]["LogGroupName"] == "/cfn-autofix/e2e/app"
    names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert "cfn-autofix-old-run" not in names

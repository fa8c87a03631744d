"""Safety of targets: the account guard acts before any write, only tagged stacks are deleted, secrets never leak."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import boto3.session
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from orchestrator.aws.session import RUN_ID_TAG, AwsSession, RetryPolicy
from orchestrator.cli import app
from orchestrator.config import load_config
from orchestrator.errors import AutofixError, Refusal
from orchestrator.aws.journal import Journal
from orchestrator.deploy.loop import deploy_with_autofix
from orchestrator.aws.targets import DUMMY_CREDENTIALS, Target
from orchestrator.aws.targets import sandbox_client

ALLOWED = "111111111111"
FOREIGN = "222222222222"
SECRET_KEY = "CANARYsecretKEYthatMustNeverBeLogged0001"
NOECHO_VALUE = "Hunter2-NoEcho-Canary-7731"
TOPIC = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n"

NOECHO_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  DbPassword:
    Type: String
    NoEcho: true
    MinLength: 8
Resources:
  Stored:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Ref DbPassword
  TaggedRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: codedeploy.amazonaws.com}, Action: "sts:AssumeRole"}]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AWSCodeDeployRole]
      Tags: [{Key: pw, Value: !Ref DbPassword}]
  EchoingRole:
    # Its failure reason quotes the ARN, and so the secret: the one place AWS itself echoes a NoEcho value.
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: codedeploy.amazonaws.com}, Action: "sts:AssumeRole"}]
      ManagedPolicyArns: [!Sub "arn:aws:iam::aws:policy/${DbPassword}"]
Outputs:
  Leak:
    Value: !Ref DbPassword
"""


def config_for(tmp_path: Path, **extra: str):
    overrides = {"aws.allowed_accounts": [ALLOWED], "run.journal": str(tmp_path / "journal.jsonl"), **extra}
    return load_config(overrides, project_dir=tmp_path)


def test_aws_target_refuses_a_foreign_account_before_any_write(clean_aws_env, recorded_calls, tmp_path):
    template = tmp_path / "topic.yaml"
    template.write_text(TOPIC)
    with pytest.raises(Refusal) as caught:
        # A closed local port as the endpoint: if the guard failed, the write would fail too, never reach AWS.
        deploy_with_autofix(template, target="aws", endpoint_url="http://127.0.0.1:9", config=config_for(tmp_path),
                            report_json=tmp_path / "report.json")
    assert caught.value.exit_code == 3
    assert FOREIGN in str(caught.value)
    assert recorded_calls == [("sts", "GetCallerIdentity")], "only the identity check may run"
    assert Journal(tmp_path / "journal.jsonl").pending() == []
    assert not list(tmp_path.glob("*.fixed.*"))


def test_cli_refusal_is_exit_3_with_one_line(clean_aws_env, recorded_calls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    template = tmp_path / "topic.yaml"
    template.write_text(TOPIC)
    (tmp_path / "cfn-autofix.toml").write_text(
        f'[aws]\nallowed_accounts = ["{ALLOWED}"]\n[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    result = CliRunner().invoke(app, ["deploy", str(template), "--target", "aws", "--endpoint-url",
                                      "http://127.0.0.1:9", "--no-forecast"])
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert lines == [f"cfn-autofix: refused: refusing to deploy: account {FOREIGN} is not in [aws] allowed_accounts "
                     f"[{ALLOWED}]"]
    assert [op for _, op in recorded_calls] == ["GetCallerIdentity"]
    assert SECRET_KEY not in result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------
# Only stacks carrying the run's tag are ever deleted


def sandbox_env(monkeypatch, sandbox) -> None:
    """Point the process's AWS credentials at the sandbox's account (the endpoint target uses them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.credentials["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.credentials["aws_secret_access_key"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def stack_names(cfn) -> set[str]:
    return {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}


def test_sweep_and_cleanup_never_delete_an_untagged_stack(sandbox, monkeypatch, tmp_path):
    sandbox_env(monkeypatch, sandbox)
    cfn = sandbox_client(sandbox, "cloudformation")
    # Looks like ours by name, but has no run tag: someone else's stack.
    victim = "cfn-autofix-topic-0123456789"
    body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    cfn.create_stack(StackName=victim, TemplateBody=body)
    cfn.create_stack(StackName="cfn-autofix-other-tagged-wrong", TemplateBody=body,
                     Tags=[{"Key": RUN_ID_TAG, "Value": "another-run"}])
    journal_path = tmp_path / "journal.jsonl"
    template = tmp_path / "topic.yaml"
    template.write_text(TOPIC)

    # A run told to use the victim's name: the create fails, and its cleanup must not delete the victim.
    outcome: object
    try:
        outcome = deploy_with_autofix(template, target="endpoint", endpoint_url=sandbox.endpoint_url,
                                      stack_name=victim, config=config_for(tmp_path), forecast=False)
    except AutofixError as exc:
        outcome = exc
    assert getattr(outcome, "status", "failed") != "succeeded"
    assert victim in stack_names(cfn)

    # That run journalled the victim's name under its own run id: the sweep must refuse it, not delete it.
    pending = Journal(journal_path).pending()
    assert [e.stack_name for e in pending] == [victim]
    result = CliRunner().invoke(app, ["sweep", "--target", "endpoint", "--endpoint-url", sandbox.endpoint_url,
                                      "--older-than", "0", "--yes", "--journal", str(journal_path)])
    assert "Traceback" not in result.output
    remaining = stack_names(cfn)
    assert victim in remaining, result.output
    # The stack tagged by another run is the tool's own: the sweep may delete it (it was asked to, with --yes).
    assert "cfn-autofix-other-tagged-wrong" not in remaining, result.output
    assert "refused" in result.stdout


# ------------------------------------------------------------------------------------------------
# Credentials and NoEcho values never reach logs, reports or errors


def test_noecho_values_and_credentials_never_leak(sandbox, monkeypatch, tmp_path):
    sandbox_env(monkeypatch, sandbox)
    # The aws target's code path (STS guard included), aimed at the sandbox, with a canary secret key.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.chdir(tmp_path)
    template = tmp_path / "noecho.yaml"
    template.write_text(NOECHO_TEMPLATE)
    report = tmp_path / "report.json"
    (tmp_path / "cfn-autofix.toml").write_text(
        f'[aws]\nallowed_accounts = ["{sandbox.account_id}"]\n[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    result = CliRunner().invoke(app, ["--log-json", "deploy", str(template), "--target", "aws", "--endpoint-url",
                                      sandbox.endpoint_url, "--param", f"DbPassword={NOECHO_VALUE}", "--no-forecast",
                                      "--report-json", str(report)])
    # TaggedRole's ARN is repaired in attempt 1; EchoingRole's policy name is the secret itself, which no repair can
    # name, so attempt 2 fails on it alone and the run ends failed (exit 1).
    assert result.exit_code == 1, result.output
    ran = json.loads(report.read_text())
    assert ran["stop_reason"] == "the matching repairs changed nothing"
    assert [sorted(f["logical_id"] for f in attempt["failures"]) for attempt in ran["attempts"]] == [
        ["EchoingRole", "TaggedRole"], ["EchoingRole"]]
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    events = {entry["event"] for entry in logs}
    assert {"stack_create_requested", "stack_event", "run_finished"} <= events
    # The echoing resource did fail, and its reason was scrubbed rather than dropped.
    failures = [f for attempt in json.loads(report.read_text())["attempts"] for f in attempt["failures"]]
    assert any(f["logical_id"] == "EchoingRole" and "****" in f["status_reason"] for f in failures)

    outputs = {"stdout": result.stdout, "stderr": result.stderr, "report": report.read_text()}
    outputs.update({p.name: p.read_text() for p in tmp_path.iterdir() if p.is_file() and p.name != "cfn-autofix.toml"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outputs["exception"] = repr(result.exception)
    for name, text in outputs.items():
        assert NOECHO_VALUE not in text, f"the NoEcho value leaked into {name}"
        assert SECRET_KEY not in text, f"the secret access key leaked into {name}"
    # The parameter itself reached the stack: it was hidden, not lost.
    assert any(e.get("parameters") == {"DbPassword": "****"} for e in logs if e["event"] == "stack_create_requested")


def test_noecho_value_is_scrubbed_from_every_later_answer_and_error():
    """Once a NoEcho value is sent, the session scrubs it from events, stack answers and errors of any later call."""
    target = Target(kind="endpoint", endpoint_url="http://127.0.0.1:9", credentials=dict(DUMMY_CREDENTIALS))
    session = AwsSession(target, retry=RetryPolicy(max_attempts=1, base_s=0, cap_s=0))
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"
    reason = f"Policy arn:aws:iam::aws:policy/{NOECHO_VALUE} does not exist or is not attachable."
    with Stubber(session.client("cloudformation")) as stubber:
        stubber.add_response("create_stack", {"StackId": stack_id})
        stubber.add_response("describe_stack_events", {"StackEvents": [{
            "StackId": stack_id, "EventId": "e1", "StackName": "s", "LogicalResourceId": "Role",
            "PhysicalResourceId": f"role-{NOECHO_VALUE}", "ResourceType": "AWS::IAM::Role",
            "Timestamp": "2026-01-01T00:00:00Z", "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": reason}]})
        stubber.add_response("describe_stacks", {"Stacks": [{
            "StackName": "s", "StackId": stack_id, "CreationTime": "2026-01-01T00:00:00Z",
            "StackStatus": "CREATE_FAILED", "StackStatusReason": reason,
            "Outputs": [{"OutputKey": "Leak", "OutputValue": NOECHO_VALUE}]}]})
        stubber.add_client_error("describe_stacks", service_error_code="AccessDenied", http_status_code=403,
                                 service_message=f"not allowed to describe {NOECHO_VALUE}")
        session.create_stack("s", TOPIC, parameters={"DbPassword": NOECHO_VALUE}, noecho={"DbPassword"})
        events = session.iter_new_events("s")
        stack = session.describe_stack("s")
        with pytest.raises(AutofixError) as caught:
            session.describe_stack("s-other")
    assert events[0].reason == "Policy arn:aws:iam::aws:policy/**** does not exist or is not attachable."
    assert events[0].physical_id == "role-****"
    text = json.dumps(stack, default=str) + str(caught.value)
    assert NOECHO_VALUE not in text and "****" in stack["Outputs"][0]["OutputValue"]

"""`cfn-autofix diagnose`: saved events files of the failure corpus, a live sandbox stack, bad input, formats."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app

EVENTS = Path(__file__).parent / "corpora" / "failures" / "events"
INDEX = json.loads((EVENTS / "index.json").read_text(encoding="utf-8"))


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize("name", sorted(INDEX))
def test_each_saved_events_file_gives_its_expected_root_causes(name):
    args = ["diagnose", "--events", str(EVENTS / name), "--format", "json"]
    for child in sorted({item["stack"] for item in INDEX[name] if item.get("stack")}):
        args += ["--events", str(EVENTS / child)]
    result = run(*args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    got = sorted((cause["logical_id"], cause["class"]) for cause in report["root_causes"])
    assert got == sorted((item["logical_id"], item["class"]) for item in INDEX[name])
    for cause in report["root_causes"]:
        assert set(cause) >= {"logical_id", "resource_type", "status_reason", "class", "playbook", "explanation", "docs"}
        assert cause["docs"].startswith("https://docs.aws.amazon.com/") and cause["explanation"]


def test_nested_parent_without_the_childs_events_is_unknown_and_exits_1():
    result = run("diagnose", "--events", str(EVENTS / "nested-parent.json"), "--format", "json")
    assert result.exit_code == 1
    (cause,) = json.loads(result.stdout)["root_causes"]
    assert (cause["logical_id"], cause["class"], cause["playbook"]) == ("NetworkStack", "unknown", None)
    assert "nested stack" in cause["explanation"]


def test_text_output_names_class_reason_and_docs():
    result = run("diagnose", "--events", str(EVENTS / "lambda-runtime-deprecated.json"))
    assert result.exit_code == 0
    assert "AppFunction (AWS::Lambda::Function): lambda-runtime-deprecated" in result.stdout
    assert "docs:   https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html" in result.stdout


def test_sarif_rule_ids_are_the_class_ids():
    result = run("diagnose", "--events", str(EVENTS / "quota-exceeded.json"), "--format", "sarif")
    assert result.exit_code == 0
    sarif = json.loads(result.stdout)
    (only,) = sarif["runs"][0]["results"]
    assert only["ruleId"] == "quota-exceeded"
    assert sarif["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"].startswith("https://docs.aws.amazon.com/")


@pytest.mark.parametrize(
    "case, content, message",
    [
        ("malformed JSON", '{"StackEvents": [\n  {"EventId": }', ":2: not JSON"),
        ("wrong shape", '[{"EventId": "x"}]', 'expected {"StackEvents": [...]}'),
        ("event without status", '{"StackEvents": [{"EventId": "e", "LogicalResourceId": "A", "ResourceType": "T"}]}',
         "StackEvents[0] has no ResourceStatus"),
        ("bad timestamp", '{"StackEvents": [{"EventId": "e", "LogicalResourceId": "A", "ResourceType": "T", '
         '"ResourceStatus": "CREATE_FAILED", "Timestamp": "yesterday"}]}', "is not an ISO 8601 time"),
    ],
)
def test_bad_events_file_is_one_line_and_exit_2(tmp_path, case, content, message):
    path = tmp_path / "events.json"
    path.write_text(content, encoding="utf-8")
    result = run("diagnose", "--events", str(path))
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("missing file", ["--events", "no/such/events.json"], "events file not found"),
        ("neither source", [], "give exactly one of --events FILE or --stack-name NAME"),
        ("both sources", ["--events", "x.json", "--stack-name", "s"], "give exactly one of"),
        ("out without fix", ["--events", str(EVENTS / "transient.json"), "--out", "x.yaml"], "needs --fix"),
        ("fix without template", ["--events", str(EVENTS / "transient.json"), "--fix"], "--fix needs the template"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(case, args, message):
    result = run("diagnose", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


FAILING = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Queue:
    Type: AWS::SQS::Queue
  BadSubnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 192.168.0.0/24
"""


def _wait_terminal(cfn, name: str) -> str:
    deadline = time.monotonic() + 900  # bounds a runaway wait (generously: CI runners are busy); not a speed assertion
    while time.monotonic() < deadline:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"{name} never left IN_PROGRESS")


def test_live_sandbox_stack_is_diagnosed_by_stack_name(sandbox, tmp_path):
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url,
                       **sandbox.credentials)
    cfn.create_stack(StackName="diag-live", TemplateBody=FAILING)
    assert _wait_terminal(cfn, "diag-live") in ("ROLLBACK_COMPLETE", "CREATE_FAILED")
    env = {"AWS_ACCESS_KEY_ID": sandbox.credentials["aws_access_key_id"],
           "AWS_SECRET_ACCESS_KEY": sandbox.credentials["aws_secret_access_key"]}
    result = run("diagnose", "--stack-name", "diag-live", "--target", "endpoint", "--endpoint-url",
                 sandbox.endpoint_url, "--region", "us-east-1", "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    (cause,) = json.loads(result.stdout)["root_causes"]
    assert (cause["logical_id"], cause["class"]) == ("BadSubnet", "cidr-invalid")
    missing = run("diagnose", "--stack-name", "no-such-stack", "--target", "endpoint", "--endpoint-url",
                  sandbox.endpoint_url, "--region", "us-east-1", env=env)
    assert missing.exit_code == 2 and "stack 'no-such-stack' not found" in missing.stderr


def test_stack_inspection_makes_only_read_only_calls(sandbox):
    from orchestrator.aws.inspect import READ_ONLY_CALLS, nested_reader, stack_events, stack_template
    from orchestrator.aws.session import AwsSession
    from orchestrator.aws.targets import Target

    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url,
                       **sandbox.credentials)
    cfn.create_stack(StackName="diag-ro", TemplateBody=FAILING)
    _wait_terminal(cfn, "diag-ro")
    session = AwsSession(Target(kind="endpoint", region="us-east-1", endpoint_url=sandbox.endpoint_url,
                                credentials={k: v for k, v in sandbox.credentials.items() if k != "region_name"}))
    called: list[str] = []
    session.client("cloudformation").meta.events.register(
        "before-call.cloudformation.*", lambda model, **_: called.append(model.name)
    )
    assert stack_events(session, "diag-ro")
    assert "BadSubnet" in stack_template(session, "diag-ro")
    assert nested_reader(session)("arn:aws:cloudformation:us-east-1:123456789012:stack/gone/1") is None
    assert called and set(called) <= set(READ_ONLY_CALLS)


POLICY_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  AppManagedPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: sqs:SendMessage
            Resource: "*"
"""


def test_fix_writes_the_repaired_template_and_leaves_the_input(tmp_path):
    template = tmp_path / "app.yaml"
    template.write_text(POLICY_TEMPLATE, encoding="utf-8")
    result = run("diagnose", str(template), "--events", str(EVENTS / "policy-version-missing.json"), "--fix",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    fixed = tmp_path / "app.fixed.yaml"
    assert report["repaired_template"] == str(fixed)
    assert [r["repair"] for r in report["repairs"]] == ["policy-version"]
    assert template.read_text(encoding="utf-8") == POLICY_TEMPLATE
    assert "Version: '2012-10-17'" in fixed.read_text(encoding="utf-8") or 'Version: "2012-10-17"' in fixed.read_text(encoding="utf-8")
    same = run("diagnose", str(template), "--events", str(EVENTS / "policy-version-missing.json"), "--fix",
               "--out", str(template))
    assert same.exit_code == 2 and "would overwrite the input" in same.stderr


def test_fix_never_applies_a_needs_human_class(tmp_path):
    template = tmp_path / "app.yaml"
    template.write_text(POLICY_TEMPLATE.replace("AppManagedPolicy", "NatEip"), encoding="utf-8")
    result = run("diagnose", str(template), "--events", str(EVENTS / "quota-exceeded.json"), "--fix", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["root_causes"][0]["repair"] == "needs-human" and report["repairs"] == []

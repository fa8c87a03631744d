"""End-to-end deploy-with-autofix on the embedded sandbox: each failure class, all together, and the loop's stops."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from orchestrator import deploy_with_autofix
from orchestrator.cli import app
from orchestrator.iam.policy import managed_policy
from orchestrator.template import load_template

FIXTURES = Path(__file__).parent / "fixtures" / "deploy"
EXAMPLE = Path(__file__).parent.parent / "examples" / "webtier-broken.yaml"
CODEDEPLOY_ARN = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    return dst


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _failed_playbooks(result) -> list[set[str]]:
    return [{f["playbook"] for f in attempt["failures"]} for attempt in result.attempts]


def _inline_documents(resource: dict) -> list[dict]:
    return [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]


@pytest.mark.parametrize(
    "case, fixture, playbook",
    [
        ("managed-policy-yaml", "managed-policy.yaml", "managed-policy-not-attachable"),
        ("logs-kms-json", "logs-kms.json", "logs-kms-key-policy"),
        ("igw-route-yaml", "igw-route.yaml", "missing-depends-on"),
        ("eip-racing-its-vpc-yaml", "../repairs/depends_on_igw.yaml", "missing-depends-on"),
    ],
)
def test_each_class_alone_is_repaired_after_one_failed_deployment(case, fixture, playbook, tmp_path):
    template = _copy(FIXTURES / fixture, tmp_path)
    before = _digest(template)
    result = deploy_with_autofix(template, forecast=False, region="us-east-1")
    assert result.status == "succeeded", result.report["stop_reason"]
    assert result.exit_code == 0
    assert result.deployments == 2
    assert _failed_playbooks(result)[0] == {playbook}
    assert result.repairs and {r["stage"] for r in result.repairs} == {1}
    assert result.attempts[1]["stack_status"] in ("UPDATE_COMPLETE", "CREATE_COMPLETE")
    assert _digest(template) == before, "the input template must never change"
    assert result.repaired_template == tmp_path / f"{template.stem}.fixed{template.suffix}"
    repaired = load_template(result.repaired_template)
    assert repaired.fmt == load_template(template).fmt
    assert repaired.document == result.template.document
    assert result.report["stack_deleted"] is True


def test_managed_policy_repair_inlines_the_exact_catalog_document_on_every_role(tmp_path):
    template = _copy(FIXTURES / "managed-policy.yaml", tmp_path)
    result = deploy_with_autofix(template, forecast=False)
    assert result.status == "succeeded"
    resources = result.template.document["Resources"]
    expected = managed_policy(CODEDEPLOY_ARN)["document"]
    for role in ("DeployRole", "BlueGreenRole"):
        arns = resources[role]["Properties"].get("ManagedPolicyArns", [])
        assert "arn:aws:iam::aws:policy/AWSCodeDeployRole" not in arns
        assert _inline_documents(resources[role]) == [expected]
    # The other managed policy of BlueGreenRole is untouched.
    assert {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"} in resources["BlueGreenRole"]["Properties"]["ManagedPolicyArns"]
    # Both roles were fixed by the first repair: one failed deployment only.
    assert result.deployments == 2
    privilege = result.report["privilege"]
    assert privilege and all(not p["widening"] for p in privilege)


def test_fix_arn_strategy_rewrites_the_arn_to_its_service_role_path(tmp_path):
    template = _copy(FIXTURES / "managed-policy.yaml", tmp_path)
    result = deploy_with_autofix(template, forecast=False, managed_policy_strategy="fix-arn")
    assert result.status == "succeeded"
    for role in ("DeployRole", "BlueGreenRole"):
        arns = json.dumps(result.template.document["Resources"][role]["Properties"]["ManagedPolicyArns"])
        assert "service-role/AWSCodeDeployRole" in arns
        assert "policy/AWSCodeDeployRole" not in arns


@pytest.mark.parametrize("case, fixture", [("yaml", EXAMPLE), ("json", FIXTURES / "webtier-broken.json")])
def test_all_three_defects_without_forecast_end_green(case, fixture, tmp_path):
    template = _copy(fixture, tmp_path)
    before = _digest(template)
    source = load_template(template)
    result = deploy_with_autofix(template, forecast=False, max_attempts=5)
    assert result.status == "succeeded", result.report["stop_reason"]
    seen = set().union(*_failed_playbooks(result))
    assert seen == {"managed-policy-not-attachable", "logs-kms-key-policy", "missing-depends-on"}
    # One deployment per wave of failures, never one per failed resource.
    failed_resources = sum(len(a["failures"]) for a in result.attempts)
    assert result.deployments < failed_resources + 1
    assert _digest(template) == before
    repaired = result.template.document["Resources"]
    original = source.document["Resources"]
    changed = {name for name in original if original[name] != repaired[name]}
    assert changed == {"CodeDeployServiceRole", "EncryptionKey", "PublicRoute"}
    assert repaired["PublicRoute"]["DependsOn"] == "AttachGateway"
    statements = repaired["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert statements[:2] == original["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert len(statements) == 3


def test_forecast_repairs_everything_before_the_first_deployment(tmp_path):
    template = _copy(EXAMPLE, tmp_path)
    result = deploy_with_autofix(template)
    assert result.status == "succeeded"
    assert result.deployments == 1
    assert result.report["failed_deployments"] == 0
    assert {f["playbook"] for f in result.forecast} == {
        "managed-policy-not-attachable", "logs-kms-key-policy", "missing-depends-on",
    }
    assert result.report["forecast_repairs"]
    assert result.attempts[0]["failures"] == []
    # result.repairs lists the forecast's repairs too (the attempts made none here).
    assert [r["repair"] for r in result.repairs] == [r["repair"] for r in result.report["forecast_repairs"]]
    assert {r["stage"] for r in result.repairs} == {"forecast"}


def test_correct_template_deploys_once_with_no_repair(tmp_path):
    template = _copy(FIXTURES / "correct.yaml", tmp_path)
    result = deploy_with_autofix(template)
    assert result.status == "succeeded"
    assert result.deployments == 1
    assert result.forecast == []
    assert result.repairs == []
    assert result.repaired_template is None
    assert not (tmp_path / "correct.fixed.yaml").exists()


def test_failure_needing_a_person_stops_at_once_with_class_and_docs(tmp_path):
    # A subnet outside its VPC's range: no template change is safe (which range is free is a person's call).
    template = _copy(FIXTURES / "unknown.yaml", tmp_path)
    result = deploy_with_autofix(template, forecast=False)
    assert result.status == "failed"
    assert result.exit_code == 1
    assert result.deployments == 1
    human = result.report["needs_human"]
    assert [(h["logical_id"], h["class"]) for h in human] == [("BadSubnet", "cidr-invalid")]
    assert human[0]["docs"].startswith("https://docs.aws.amazon.com/") and human[0]["explanation"]
    assert result.report["stop_reason"].startswith("needs a person: BadSubnet is cidr-invalid")
    assert result.attempts[0]["repairs"] == []
    assert result.report["unknown"] == []
    assert result.report["stack_deleted"] is True


def test_budget_exhausted_stops_with_failed_status(tmp_path):
    template = _copy(FIXTURES / "igw-route.yaml", tmp_path)
    result = deploy_with_autofix(template, forecast=False, max_attempts=1)
    assert result.status == "failed"
    assert result.deployments == 1
    assert "budget" in result.report["stop_reason"]


@pytest.mark.parametrize("case, strategy, operation", [("keep", "keep", "update"), ("recreate", "recreate", "recreate")])
def test_strategies_update_in_place_or_recreate(case, strategy, operation, tmp_path, sandbox):
    template = _copy(FIXTURES / "igw-route.yaml", tmp_path)
    result = deploy_with_autofix(
        template, forecast=False, strategy=strategy, target="endpoint", endpoint_url=sandbox.endpoint_url,
        credentials=sandbox.credentials, keep_stack=True,
    )
    assert result.status == "succeeded"
    assert [a["operation"] for a in result.attempts] == ["create", operation]
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    stack = cfn.describe_stacks(StackName=result.stack_name)["Stacks"][0]
    assert stack["StackStatus"] in ("UPDATE_COMPLETE", "CREATE_COMPLETE")
    events = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack["StackId"])
              for e in page["StackEvents"]]
    created: dict[str, int] = {}
    for event in events:
        if event["ResourceStatus"] == "CREATE_COMPLETE" and event["ResourceType"] != "AWS::CloudFormation::Stack":
            created[event["LogicalResourceId"]] = created.get(event["LogicalResourceId"], 0) + 1
    if strategy == "keep":
        # Nothing that succeeded in the first attempt is built a second time.
        assert set(created.values()) == {1}
        assert stack["DisableRollback"] is True
    assert "DefaultRoute" in created
    cfn.delete_stack(StackName=stack["StackId"])


def test_report_json_has_the_contract_shape(tmp_path):
    template = _copy(FIXTURES / "igw-route.yaml", tmp_path)
    report_path = tmp_path / "report.json"
    deploy_with_autofix(template, forecast=False, report_json=report_path)
    report = json.loads(report_path.read_text())
    for key in ("status", "target", "region", "stack_name", "attempts", "forecast", "repaired_template", "deployments"):
        assert key in report
    attempt = report["attempts"][0]
    assert set(attempt) >= {"number", "stack_status", "failures", "repairs", "duration_s"}
    failure = attempt["failures"][0]
    assert set(failure) >= {"logical_id", "resource_type", "status_reason", "playbook"}
    repair = attempt["repairs"][0]
    assert set(repair) >= {"playbook", "repair", "resources", "operations"}
    assert repair["operations"][0]["path"].startswith("/Resources/DefaultRoute")


def test_cli_deploy_green_and_out_path(tmp_path):
    template = _copy(FIXTURES / "igw-route.yaml", tmp_path)
    out = tmp_path / "fixed" / "route.yaml"
    result = CliRunner().invoke(app, ["deploy", str(template), "--no-forecast", "--out", str(out),
                                      "--report-json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "green" in result.stdout
    assert load_template(out).document["Resources"]["DefaultRoute"]["DependsOn"] == "GatewayAttachment"


@pytest.mark.parametrize(
    "case, args, needle",
    [
        ("missing-file", ["deploy", "does-not-exist.yaml"], "does-not-exist.yaml"),
        ("bad-param", ["deploy", str(FIXTURES / "correct.yaml"), "--param", "novalue"], "KEY=VALUE"),
        ("bad-strategy", ["deploy", str(FIXTURES / "correct.yaml"), "--strategy", "sideways"], "sideways"),
        ("endpoint-without-url", ["deploy", str(FIXTURES / "correct.yaml"), "--target", "endpoint"], "endpoint"),
        ("missing-required-parameter", ["deploy", str(FIXTURES / "required-param.yaml")], "--param Name=VALUE"),
        ("undeclared-parameter", ["deploy", str(FIXTURES / "correct.yaml"), "--param", "Nope=1"], "'Nope'"),
    ],
)
def test_cli_deploy_bad_input_is_one_line_exit_2(case, args, needle):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert "Traceback" not in result.output


def test_a_library_call_draws_nothing_and_leaves_logging_alone(tmp_path, monkeypatch):
    """progress defaults to False even when stderr is a terminal; structlog and logging stay as the host set them."""
    import io
    import logging

    import structlog
    import structlog.testing

    class FakeTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stderr = FakeTerminal()
    monkeypatch.setattr("sys.stderr", stderr)
    handlers = list(logging.getLogger().handlers)
    phases: list[str] = []
    template = _copy(FIXTURES / "igw-route.yaml", tmp_path)
    # The host's structlog configuration (here: capture) receives the library's log lines, nothing else does.
    with structlog.testing.capture_logs() as logs:
        structlog_config = structlog.get_config()
        result = deploy_with_autofix(template, on_state=phases.append)
        assert structlog.get_config() == structlog_config
    assert result.status == "succeeded"
    assert stderr.getvalue() == ""
    assert logging.getLogger().handlers == handlers
    assert {"run_started", "run_finished"} <= {entry["event"] for entry in logs}
    # The phases a spinner shows, in order, from the forecast on.
    # (The target opens before the forecast: an aws target's account guard runs before any work.)
    assert phases[:5] == ["starting the sandbox", "forecast", "preparing prerequisites",
                          "attempt 1: creating the stack", "attempt 1: watching the create"]
    assert phases[-1] == "cleaning up"

"""Least privilege of repairs: IAM/KMS repairs compute their permission delta, inline policies copy the catalog exactly, widening is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from orchestrator import repairs
from orchestrator.forecast.run import forecast_and_fix
from orchestrator.template.graph import build_graph
from orchestrator.deploy.loop import deploy_with_autofix
from orchestrator.model import Failure
from orchestrator.template import apply_patch, load_template, loads_template

ROOT = Path(__file__).resolve().parents[1]
WEBTIER = ROOT / "examples" / "webtier-broken.yaml"
# moto's own copy of the AWS managed-policy catalog, read here independently of orchestrator.iam.policy.
CATALOG = json.loads(aws_managed_policies_data)

ASSUME = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def role_template(*arns: str, extra_policies: list | None = None) -> str:
    props = {"AssumeRolePolicyDocument": ASSUME, "ManagedPolicyArns": list(arns)}
    if extra_policies:
        props["Policies"] = extra_policies
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                       "Resources": {"AppRole": {"Type": "AWS::IAM::Role", "Properties": props}}}, indent=2)


def not_attachable(arn: str, logical_id: str = "AppRole") -> Failure:
    return Failure(logical_id=logical_id, resource_type="AWS::IAM::Role",
                   status_reason=f"Policy {arn} does not exist or is not attachable.",
                   playbook="managed-policy-not-attachable", details={"policy_arn": arn})


def test_every_iam_and_kms_repair_reports_its_privilege_delta():
    source = load_template(WEBTIER)
    result = forecast_and_fix(source, lint=False)
    fixed, findings, plans, rejected = result.template, result.findings, result.plans, result.rejected
    assert rejected == []
    types = {lid: body.get("Type", "") for lid, body in source.resources.items()}
    by_repair = {plan.repair: plan for plan in plans if plan.operations}
    assert {"managed-policy-inline", "logs-kms-key-policy"} <= set(by_repair)
    for plan in by_repair.values():
        if any(types.get(lid, "").startswith(("AWS::IAM::", "AWS::KMS::")) for lid in plan.resources):
            assert plan.privilege is not None, f"{plan.repair} touches IAM/KMS without a privilege delta"
            assert plan.privilege.widening is False, plan.privilege
            json.dumps(plan.to_json())  # the delta is part of the report
    logs = by_repair["logs-kms-key-policy"].privilege
    assert logs.added and logs.removed == []
    # The only new grants are CloudWatch Logs' own, on the key, for the five action families it needs.
    assert all("logs." in entry and "kms:" in entry for entry in logs.added), logs.added
    inline = by_repair["managed-policy-inline"].privilege
    # The inline copy grants what the (unattachable) managed policy was meant to grant: nothing more, nothing less.
    assert inline.added == [] and inline.removed == []


@pytest.mark.parametrize(
    "case, bad_arn, name",
    [
        ("codedeploy-missing-service-role-path", "arn:aws:iam::aws:policy/AWSCodeDeployRole", "AWSCodeDeployRole"),
        ("lambda-basic-missing-path", "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole",
         "AWSLambdaBasicExecutionRole"),
        ("ecs-task-execution-missing-path", "arn:aws:iam::aws:policy/AmazonECSTaskExecutionRolePolicy",
         "AmazonECSTaskExecutionRolePolicy"),
    ],
    ids=["codedeploy-missing-service-role-path", "lambda-basic-missing-path", "ecs-task-execution-missing-path"],
)
def test_inline_substitution_is_exactly_the_catalog_document(case, bad_arn, name):
    keep = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    tpl = loads_template(role_template(bad_arn, keep), fmt="json")
    plan = repairs.REGISTRY.get("managed-policy-inline").plan(tpl, build_graph(tpl), [not_attachable(bad_arn)], {})
    after = apply_patch(tpl, plan.operations)
    props = after.resources["AppRole"]["Properties"]
    assert props["ManagedPolicyArns"] == [keep], "only the broken ARN is removed"
    inline = [p["PolicyDocument"] for p in props["Policies"]]
    assert inline == [CATALOG[name]["Document"]], "the inline document is the catalog's, byte for byte"
    assert plan.privilege is not None and plan.privilege.widening is False
    assert plan.privilege.added == [] and plan.privilege.removed == []
    # Idempotent: planning again on the repaired template changes nothing.
    again = repairs.REGISTRY.get("managed-policy-inline").plan(after, build_graph(after), [not_attachable(bad_arn)], {})
    assert again.operations == []


RENAMED = "arn:aws:iam::aws:policy/service-role/AWSConfigRole"  # retired by AWS; its successor is AWS_ConfigRole


@pytest.mark.slow
@pytest.mark.parametrize("case, allow_widening", [("refused-by-default", False), ("accepted-when-allowed", True)])
def test_widening_repair_is_refused_unless_allowed_and_the_delta_is_reported(case, allow_widening, tmp_path):
    """fix-arn to a renamed policy would grant the successor's permissions where the template's meant none known."""
    template = tmp_path / "config-role.json"
    template.write_text(role_template(RENAMED))
    result = deploy_with_autofix(template, forecast=False, managed_policy_strategy="fix-arn",
                                 allow_widening=allow_widening, max_attempts=3, report_json=tmp_path / "r.json",
                                 out=tmp_path / "fixed.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report == json.loads(json.dumps(result.report, default=str))
    first = report["attempts"][0]
    assert first["failures"][0]["playbook"] == "managed-policy-not-attachable"
    if not allow_widening:
        assert result.status == "failed"
        assert result.deployments == 1, "a refused repair is never deployed"
        [rejected] = report["rejected_repairs"]
        # Named by the playbook's repair id; with the fix-arn strategy that repair hands over to fix-arn.
        assert rejected["repair"] == "managed-policy-inline"
        assert rejected["privilege"]["widening"] is True and rejected["privilege"]["added"]
        assert not (tmp_path / "fixed.json").exists(), "nothing repaired, nothing written"
    else:
        assert result.status == "succeeded", report.get("stop_reason")
        assert report["rejected_repairs"] == []
        [applied] = [r for attempt in report["attempts"] for r in attempt["repairs"] if r.get("operations")]
        assert applied["repair"] == "managed-policy-fix-arn"
        assert applied["privilege"]["widening"] is True and applied["privilege"]["added"]
        fixed = json.loads((tmp_path / "fixed.json").read_text())
        assert fixed["Resources"]["AppRole"]["Properties"]["ManagedPolicyArns"] == [
            "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"]

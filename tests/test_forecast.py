"""Forecast over whole templates: precision on correct templates, exactly the planted defects on broken ones, fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.forecast.run import forecast, forecast_and_fix
from orchestrator.catalog.playbooks import load_playbooks
from orchestrator.template import load_template

FIXTURES = Path(__file__).parent / "fixtures" / "forecast"

PIPELINE_DEFECTS = {
    ("managed-policy-not-attachable", "CodeDeployServiceRole"),
    ("managed-policy-not-attachable", "ConfigRecorderRole"),
    ("managed-policy-not-attachable", "AuditRole"),
    ("logs-kms-key-policy", "ApplicationLogGroup"),
    ("logs-kms-key-policy", "ErrorLogGroup"),
}
NETWORK_DEFECTS = {
    ("missing-depends-on", "PublicRoute"),
    ("missing-depends-on", "NatGateway"),
    ("missing-depends-on", "VpnPropagation"),
    ("missing-depends-on", "WebServer"),
    ("missing-depends-on", "WebGroup"),
    ("missing-depends-on", "WebLoadBalancer"),
    ("missing-depends-on-ecs-listener", "ApiService"),
    ("missing-depends-on-iam-policy", "ProcessorFunction"),
    ("missing-depends-on-apigateway", "ApiDeployment"),
    ("logs-kms-key-policy", "DebugLogGroup"),
}


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks()


GOOD = sorted(p.name for p in FIXTURES.glob("good-*"))
# good-pipeline.json writes arn:aws:... literally, as most single-partition templates do.
PORTABLE = [name for name in GOOD if name != "good-pipeline.json"]


@pytest.mark.parametrize(
    "case,region",
    [(name, region) for name in GOOD for region in ("us-east-1", "ap-southeast-1")]
    + [(name, "cn-north-1") for name in PORTABLE],
)
def test_correct_templates_have_no_findings(case, region, playbooks):
    findings = forecast(load_template(FIXTURES / case), region=region, playbooks=playbooks)
    assert [f.message for f in findings] == []


def test_literal_aws_partition_arns_are_found_in_china(playbooks):
    findings = forecast(load_template(FIXTURES / "good-pipeline.json"), region="cn-north-1", playbooks=playbooks)
    assert {(f.logical_id, f.details["reason"]) for f in findings} == {
        ("ConfigRecorderRole", "partition"),
        ("CodeBuildServiceRole", "partition"),
    }


@pytest.mark.parametrize(
    "case,expected",
    [("broken-pipeline.json", PIPELINE_DEFECTS), ("broken-network.yaml", NETWORK_DEFECTS)],
)
def test_broken_templates_have_exactly_the_planted_defects(case, expected, playbooks):
    findings = forecast(load_template(FIXTURES / case), playbooks=playbooks)
    assert {(f.playbook, f.logical_id) for f in findings} == expected
    assert all(f.line and f.line > 1 for f in findings)
    assert [f.line for f in findings] == sorted(f.line for f in findings)


def test_findings_point_at_the_defect_line(playbooks):
    tpl = load_template(FIXTURES / "broken-pipeline.json")
    by_id = {f.logical_id: f for f in forecast(tpl, playbooks=playbooks)}
    line = tpl.source.splitlines()[by_id["CodeDeployServiceRole"].line - 1]
    assert "arn:aws:iam::aws:policy/AWSCodeDeployRole" in line
    line = tpl.source.splitlines()[by_id["ApplicationLogGroup"].line - 1]
    assert '"KmsKeyId"' in line


def test_warnings_are_not_fixable(playbooks):
    findings = forecast(load_template(FIXTURES / "broken-network.yaml"), playbooks=playbooks)
    warning = [f for f in findings if f.severity == "warning"]
    assert [(f.logical_id, f.fixable) for f in warning] == [("DebugLogGroup", False)]


def test_region_changes_the_verdict_on_a_literal_principal(playbooks):
    tpl = load_template(FIXTURES / "good-logs-kms.yaml")
    text = tpl.source.replace("Service: !Sub logs.${AWS::Region}.${AWS::URLSuffix}", "Service: logs.us-east-1.amazonaws.com", 1)
    assert text != tpl.source
    from orchestrator.template import loads_template

    literal = loads_template(text, fmt="yaml")
    assert forecast(literal, region="us-east-1", playbooks=playbooks) == []
    found = forecast(literal, region="ap-southeast-1", playbooks=playbooks)
    assert {f.logical_id for f in found} == {"AccessLogGroup", "ErrorLogGroup", "AuditLogGroup"}


def test_one_detector_shared_by_playbooks_runs_once_per_finding(playbooks):
    only_generic = [b for b in playbooks if b.id == "missing-depends-on"]
    findings = forecast(load_template(FIXTURES / "broken-network.yaml"), playbooks=only_generic)
    # Without the specialised playbooks loaded, their cases fall to the one playbook naming the detector.
    assert {f.playbook for f in findings} == {"missing-depends-on"}
    assert len(findings) == 9


@pytest.mark.parametrize("case", ["broken-pipeline.json", "broken-network.yaml"])
def test_forecast_and_fix_reforecasts_clean(case, playbooks):
    tpl = load_template(FIXTURES / case)
    before_source = tpl.source
    strategy = [
        replace(b, params={**b.params, "strategy": "fix-arn"}) if b.id == "managed-policy-not-attachable" else b
        for b in playbooks
    ]
    # A renamed policy's successor cannot be compared with a document the catalog no longer has:
    # that counts as widening, so this pass accepts it explicitly.
    result = forecast_and_fix(tpl, playbooks=strategy, allow_widening=True)
    fixed, findings, plans, rejected = result.template, result.findings, result.plans, result.rejected
    assert rejected == []
    assert plans and all(plan.operations for plan in plans)
    assert tpl.source == before_source  # the input is untouched
    remaining = forecast(fixed, playbooks=strategy)
    assert [(f.playbook, f.logical_id, f.message) for f in remaining] == [
        (f.playbook, f.logical_id, f.message) for f in findings if not f.fixable
    ]
    assert fixed.fmt == tpl.fmt
    # A second pass finds nothing left to fix: every repair is idempotent.
    result = forecast_and_fix(fixed, playbooks=strategy, allow_widening=True)
    again, _, plans_again, _ = result.template, result.findings, result.plans, result.rejected
    assert [p for p in plans_again if p.operations] == []
    assert again.dumps() == fixed.dumps()


def test_forecast_and_fix_groups_one_plan_per_repair(playbooks):
    result = forecast_and_fix(load_template(FIXTURES / "broken-network.yaml"), playbooks=playbooks)
    fixed, findings, plans, _ = result.template, result.findings, result.plans, result.rejected
    assert [p.repair for p in plans] == ["add-depends-on"]
    assert set(plans[0].resources) == {f.logical_id for f in findings if f.fixable}
    yaml_text = fixed.dumps()
    assert "!Ref Igw" in yaml_text and "!GetAtt NatEip.AllocationId" in yaml_text  # short-form tags kept


def test_forecast_and_fix_with_inline_strategy_leaves_the_renamed_policy(playbooks):
    result = forecast_and_fix(load_template(FIXTURES / "broken-pipeline.json"), playbooks=playbooks)
    fixed, findings, plans, rejected = result.template, result.findings, result.plans, result.rejected
    remaining = {(f.playbook, f.logical_id) for f in forecast(fixed, playbooks=playbooks)}
    # The inline strategy refuses to stand in a renamed policy's successor for it; fix-arn does that.
    assert remaining == {
        ("managed-policy-not-attachable", "ConfigRecorderRole"),
        ("managed-policy-not-attachable", "AuditRole"),
    }
    assert rejected == []


def test_forecast_and_fix_rejects_a_widening_rename_unless_allowed(playbooks):
    strategy = [
        replace(b, params={**b.params, "strategy": "fix-arn"}) if b.id == "managed-policy-not-attachable" else b
        for b in playbooks
    ]
    tpl = load_template(FIXTURES / "broken-pipeline.json")
    result = forecast_and_fix(tpl, playbooks=strategy)
    fixed, _, _, rejected = result.template, result.findings, result.plans, result.rejected
    widening = [r for r in rejected if r["repair"] == "managed-policy-inline"]
    assert widening and "grants more" in widening[0]["reason"]
    assert widening[0]["privilege"]["widening"] is True
    assert "AWS_ConfigRole" not in fixed.dumps()

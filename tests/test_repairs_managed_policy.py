"""managed-policy-inline and managed-policy-fix-arn: exact documents, whole class, idempotent, pure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.template.graph import build_graph
from orchestrator.model import Failure
from orchestrator.iam.policy import managed_policy
from orchestrator.template import apply_patch, load_template, loads_template

FIXTURES = Path(__file__).parent / "fixtures" / "repairs"
BAD = "arn:aws:iam::aws:policy/AWSCodeDeployRole"
GOOD = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"


def bad_arn_failure(arn: str = BAD, logical_id: str = "CodeDeployServiceRole") -> Failure:
    return Failure(
        logical_id=logical_id,
        resource_type="AWS::IAM::Role",
        status_reason=f"Policy {arn} does not exist or is not attachable.",
        playbook="managed-policy-not-attachable",
        details={"policy_arn": arn},
    )


def run(repair_id: str, template, failures, params=None):
    plan = repairs.REGISTRY.get(repair_id).plan(template, build_graph(template), failures, params or {})
    return plan, apply_patch(template, plan.operations)


@pytest.mark.parametrize(
    "case, repair_id, source, expected",
    [
        ("inline json", "managed-policy-inline", "managed_policy_roles.json", "managed_policy_roles.inline.expected.json"),
        ("fix-arn json", "managed-policy-fix-arn", "managed_policy_roles.json", "managed_policy_roles.fix-arn.expected.json"),
        ("fix-arn yaml short forms", "managed-policy-fix-arn", "managed_policy_paths.yaml", "managed_policy_paths.fix-arn.expected.yaml"),
    ],
)
def test_repaired_template_matches_expected(case, repair_id, source, expected):
    template = load_template(FIXTURES / source)
    plan, repaired = run(repair_id, template, [bad_arn_failure()])
    assert repaired.document == load_template(FIXTURES / expected).document
    assert repaired.fmt == template.fmt
    # applying the repair again changes nothing
    again, _ = run(repair_id, repaired, [bad_arn_failure()])
    assert again.operations == []


def test_inline_uses_exactly_the_catalog_document_on_every_role():
    template = load_template(FIXTURES / "managed_policy_roles.json")
    before = copy.deepcopy(template.document)
    plan, repaired = run("managed-policy-inline", template, [bad_arn_failure()])
    assert template.document == before  # input untouched
    catalog = managed_policy(GOOD)["document"]
    for role in ("CodeDeployServiceRole", "BlueGreenDeployRole"):  # the whole class, not only the failing role
        props = repaired.resources[role]["Properties"]
        inline = [p for p in props["Policies"] if p["PolicyName"] == "AWSCodeDeployRole"]
        assert [p["PolicyDocument"] for p in inline] == [catalog]
        assert BAD not in json.dumps(props.get("ManagedPolicyArns", []))
    assert repaired.resources["ReadOnlyRole"] == template.resources["ReadOnlyRole"]
    assert plan.resources == ["BlueGreenDeployRole", "CodeDeployServiceRole"]
    assert "service-role/AWSCodeDeployRole" in plan.rationale


def test_inline_privilege_delta_is_exact():
    template = load_template(FIXTURES / "managed_policy_roles.json")
    plan, _ = run("managed-policy-inline", template, [bad_arn_failure()])
    assert plan.privilege is not None
    assert (plan.privilege.added, plan.privilege.removed, plan.privilege.widening) == ([], [], False)


def test_fix_arn_keeps_partition_sub_and_is_not_widening():
    template = load_template(FIXTURES / "managed_policy_roles.json")
    plan, repaired = run("managed-policy-fix-arn", template, [bad_arn_failure()])
    arns = repaired.resources["BlueGreenDeployRole"]["Properties"]["ManagedPolicyArns"]
    assert arns[0] == {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRole"}
    assert plan.privilege.widening is False


def test_strategy_param_selects_fix_arn():
    template = load_template(FIXTURES / "managed_policy_roles.json")
    plan, repaired = run("managed-policy-inline", template, [bad_arn_failure()], {"strategy": "fix-arn"})
    assert plan.repair == "managed-policy-fix-arn"
    assert repaired.resources["CodeDeployServiceRole"]["Properties"]["ManagedPolicyArns"] == [GOOD]


UNKNOWN_NAME = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/NoSuchPolicyAnywhere]
"""


def test_inline_refuses_when_the_document_is_unknown():
    template = loads_template(UNKNOWN_NAME, fmt="yaml")
    plan, repaired = run("managed-policy-inline", template, [bad_arn_failure("arn:aws:iam::aws:policy/NoSuchPolicyAnywhere", "Role")])
    assert plan.operations == []
    assert repaired.document == template.document
    assert any("invent permissions" in note for note in plan.notes)


RENAMED = """
Resources:
  ConfigRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      ManagedPolicyArns:
        - !Sub arn:${AWS::Partition}:iam::aws:policy/AWSConfigRole
"""


def test_fix_arn_follows_a_documented_rename_and_reports_widening():
    template = loads_template(RENAMED, fmt="yaml")
    plan, repaired = run("managed-policy-fix-arn", template, [bad_arn_failure("arn:aws:iam::aws:policy/AWSConfigRole", "ConfigRole")])
    assert repaired.resources["ConfigRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWS_ConfigRole"}
    ]
    assert "renamed AWSConfigRole to AWS_ConfigRole" in plan.rationale
    # the old document is unknown, so every permission of the successor is new to this template
    assert plan.privilege.widening is True and plan.privilege.added


def test_yaml_short_forms_survive_in_the_text():
    template = load_template(FIXTURES / "managed_policy_paths.yaml")
    _, repaired = run("managed-policy-fix-arn", template, [bad_arn_failure()])
    text = repaired.dumps()
    assert "!Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSCodeDeployRole" in text
    assert "!Ref DeployGroup" in text


def test_no_failure_arn_means_no_change():
    template = load_template(FIXTURES / "managed_policy_roles.json")
    failure = Failure("CodeDeployServiceRole", "AWS::IAM::Role", "something else entirely")
    plan, _ = run("managed-policy-inline", template, [failure])
    assert plan.operations == [] and plan.privilege is None

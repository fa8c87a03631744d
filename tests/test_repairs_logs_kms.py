"""logs-kms-key-policy: one dedicated statement per key that log groups use, existing statements untouched."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.template.graph import build_graph
from orchestrator.model import Failure
from orchestrator.iam.policy import logs_can_use_key
from orchestrator.template import apply_patch, load_template, loads_template
from orchestrator.template.intrinsics import resolve_known as resolve_pseudo

FIXTURES = Path(__file__).parent / "fixtures" / "repairs"
GROUP_ARN = "arn:aws:logs:ap-southeast-1:342597974367:log-group:/aws/application/httpd-access-dev"


def logs_failure(logical_id: str = "ApplicationLogGroup", arn: str | None = GROUP_ARN) -> Failure:
    return Failure(
        logical_id=logical_id,
        resource_type="AWS::Logs::LogGroup",
        status_reason=f"The specified KMS key does not exist or is not allowed to be used with Arn '{arn}'",
        playbook="logs-kms-key-policy",
        details={"log_group_arn": arn} if arn else {},
    )


def run(template, failures, params=None):
    plan = repairs.REGISTRY.get("logs-kms-key-policy").plan(template, build_graph(template), failures, params or {})
    return plan, apply_patch(template, plan.operations)


@pytest.mark.parametrize(
    "case, source, expected, failure",
    [
        ("json getatt, two groups one key", "logs_kms.json", "logs_kms.expected.json", logs_failure()),
        ("yaml alias and key without policy", "logs_kms_alias.yaml", "logs_kms_alias.expected.yaml", logs_failure("AppLogGroup", None)),
    ],
)
def test_repaired_template_matches_expected(case, source, expected, failure):
    template = load_template(FIXTURES / source)
    before = copy.deepcopy(template.document)
    plan, repaired = run(template, [failure])
    assert template.document == before
    assert repaired.document == load_template(FIXTURES / expected).document
    again, twice = run(repaired, [failure])
    assert again.operations == [] and twice.document == repaired.document


def test_existing_statements_untouched_and_adequate_key_left_alone():
    template = load_template(FIXTURES / "logs_kms.json")
    plan, repaired = run(template, [logs_failure()])
    old = template.resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
    new = repaired.resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert new[: len(old)] == old and len(new) == len(old) + 1
    assert repaired.resources["AuditKey"] == template.resources["AuditKey"]
    assert plan.resources == ["EncryptionKey"]


@pytest.mark.parametrize("group", ["ApplicationLogGroup", "ErrorLogGroup"])
def test_every_group_of_the_key_can_use_it_afterwards(group):
    template = load_template(FIXTURES / "logs_kms.json")
    _, repaired = run(template, [logs_failure()])
    pseudo = {"AWS::Region": "ap-southeast-1", "AWS::AccountId": "342597974367", "AWS::Partition": "aws", "EnvironmentSuffix": "dev"}
    key_policy = resolve_pseudo(repaired.resources["EncryptionKey"]["Properties"]["KeyPolicy"], pseudo)
    name = "httpd-access-dev" if group == "ApplicationLogGroup" else "httpd-error-dev"
    arn = f"arn:aws:logs:ap-southeast-1:342597974367:log-group:/aws/application/{name}"
    ok, why = logs_can_use_key(key_policy, region="ap-southeast-1", account_id="342597974367", log_group_arn=arn)
    assert ok, why


def test_privilege_delta_lists_the_grant_as_required_not_widening():
    template = load_template(FIXTURES / "logs_kms.json")
    plan, _ = run(template, [logs_failure()])
    assert plan.privilege.widening is False
    assert plan.privilege.removed == []
    assert any("kms:encrypt" in line and "logs.${AWS::Region}" in line for line in plan.privilege.added)
    assert any("required grant" in note for note in plan.notes)


EXTERNAL_KEY = """
Parameters:
  KeyArn: {Type: String}
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      KmsKeyId: !Ref KeyArn
"""


def test_key_outside_the_template_is_refused_with_a_note():
    template = loads_template(EXTERNAL_KEY, fmt="yaml")
    plan, _ = run(template, [logs_failure("Group")])
    assert plan.operations == []
    assert any("Group: cannot repair" in note for note in plan.notes)


LITERAL_KEY = """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement: []
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      KmsKeyId: arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab
"""


def test_literal_key_arn_maps_through_physical_ids():
    template = loads_template(LITERAL_KEY, fmt="yaml")
    failure = logs_failure("Group", "arn:aws:logs:us-east-1:111122223333:log-group:g")
    failure.details["physical_ids"] = {"0b1c2d3e-aaaa-bbbb-cccc-1234567890ab": "Key"}
    plan, repaired = run(template, [failure])
    assert plan.resources == ["Key"]
    assert repaired.resources["Key"]["Properties"]["KeyPolicy"]["Statement"][0]["Sid"] == "AllowCloudWatchLogsUseOfKey"

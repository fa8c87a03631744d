"""Unit tests of orchestrator.iam.policy: managed-policy catalog, CloudWatch Logs key-policy check, privilege deltas."""

from __future__ import annotations

import json

import pytest

from orchestrator.iam.policy import (
    find_managed_policy_by_name,
    known_rename,
    logs_can_use_key,
    managed_policy,
    privilege_delta,
    privilege_set,
)

REGION, ACCOUNT = "ap-southeast-1", "342597974367"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/application/httpd-error"
ROOT = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
        "Resource": "*"}
DOCUMENTED = {
    "Sid": "Logs", "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
    "Resource": "*",
    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"}},
}


def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("case", "arn", "found"),
    [
        ("service-role path", "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole", True),
        ("wrong path", "arn:aws:iam::aws:policy/AWSCodeDeployRole", False),
        ("root path", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", True),
        ("china partition", "arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore", True),
        ("unknown name", "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere", False),
        ("customer policy", "arn:aws:iam::123456789012:policy/Mine", False),
        ("not an arn", "AWSCodeDeployRole", False),
    ],
)
def test_managed_policy_lookup(case: str, arn: str, found: bool) -> None:
    entry = managed_policy(arn)
    assert (entry is not None) is found
    if found:
        assert entry["arn"] == arn
        assert entry["document"]["Statement"]


def test_managed_policy_returns_the_exact_document() -> None:
    entry = managed_policy("arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole")
    assert entry["name"] == "AWSCodeDeployRole"
    assert entry["path"] == "/service-role/"
    actions = {a for s in entry["document"]["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "autoscaling:CompleteLifecycleAction" in actions


def test_find_managed_policy_by_name_reports_the_real_path() -> None:
    assert find_managed_policy_by_name("AWSCodeDeployRole") == ["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"]
    assert find_managed_policy_by_name("AWSCodeDeployRole", "aws-cn") == [
        "arn:aws-cn:iam::aws:policy/service-role/AWSCodeDeployRole"]
    assert find_managed_policy_by_name("NoSuchPolicyAnywhere") == []


@pytest.mark.parametrize(
    ("case", "name", "new"),
    [
        ("config role", "AWSConfigRole", "AWS_ConfigRole"),
        ("lambda full access", "AWSLambdaFullAccess", "AWSLambda_FullAccess"),
        ("still current", "AmazonSSMManagedInstanceCore", None),
        ("unknown", "Whatever", None),
    ],
)
def test_known_rename(case: str, name: str, new: str | None) -> None:
    assert known_rename(name) == new


@pytest.mark.parametrize(
    ("case", "policy", "allowed"),
    [
        ("documented statement", _policy(ROOT, DOCUMENTED), True),
        ("root only", _policy(ROOT), False),
        ("global principal as in the failure analysis", _policy(ROOT, {
            "Effect": "Allow", "Principal": {"Service": ["s3.amazonaws.com", "logs.amazonaws.com"]},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"], "Resource": "*"}), False),
        ("regional principal but actions missing", _policy({**DOCUMENTED, "Action": ["kms:Decrypt", "kms:GenerateDataKey"]}), False),
        ("concrete actions of the fixed template", _policy({**DOCUMENTED, "Action": [
            "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"]}), True),
        ("kms star", _policy({**DOCUMENTED, "Action": "kms:*"}), True),
        ("spread across statements", _policy(
            {**DOCUMENTED, "Action": ["kms:Encrypt*", "kms:Decrypt*"]},
            {**DOCUMENTED, "Sid": "More", "Action": ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]}), True),
        ("condition for another region", _policy({**DOCUMENTED, "Condition": {"ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}}}), False),
        ("condition naming this group exactly", _policy({**DOCUMENTED, "Condition": {"ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": GROUP_ARN}}}), True),
        ("condition naming another group", _policy({**DOCUMENTED, "Condition": {"StringEquals": {
            "kms:EncryptionContext:aws:logs:arn": GROUP_ARN + "-other"}}}), False),
        ("condition account-wide as in the failure analysis", _policy({**DOCUMENTED, "Condition": {"ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*"}}}), True),
        ("condition list with one match", _policy({**DOCUMENTED, "Condition": {"StringLike": {
            "kms:EncryptionContext:aws:logs:arn": ["arn:aws:logs:eu-west-1:*", f"arn:aws:logs:{REGION}:*"]}}}), True),
        ("any principal", _policy({**DOCUMENTED, "Principal": "*"}), True),
        ("explicit deny wins", _policy(DOCUMENTED, {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}), False),
        ("empty policy", {}, False),
    ],
)
def test_logs_can_use_key(case: str, policy: dict, allowed: bool) -> None:
    ok, why = logs_can_use_key(policy, region=REGION, account_id=ACCOUNT, log_group_arn=GROUP_ARN)
    assert ok is allowed, why
    assert why


def test_logs_can_use_key_accepts_json_text_and_explains_the_principal() -> None:
    text = json.dumps(_policy({**DOCUMENTED, "Principal": {"Service": "logs.amazonaws.com"}}))
    ok, why = logs_can_use_key(text, region=REGION, account_id=ACCOUNT, log_group_arn=GROUP_ARN)
    assert not ok
    assert f"logs.{REGION}.amazonaws.com" in why
    assert "logs.amazonaws.com" in why


def test_privilege_set_expands_actions_and_resources() -> None:
    doc = _policy({"Effect": "Allow", "Action": ["s3:GetObject", "S3:ListBucket"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]})
    got = privilege_set([doc], "role/Web")
    assert ("Allow", "role/Web", "s3:listbucket", "arn:aws:s3:::b") in got
    assert len(got) == 4


@pytest.mark.parametrize(
    ("case", "before", "after", "widening"),
    [
        ("same document inline", [{"Action": "s3:GetObject", "Resource": "*"}], [{"Action": "s3:GetObject", "Resource": "*"}], False),
        ("narrower action under a wildcard", [{"Action": "s3:*", "Resource": "*"}], [{"Action": "s3:GetObject", "Resource": "*"}], False),
        ("new service", [{"Action": "s3:GetObject", "Resource": "*"}], [{"Action": "ec2:*", "Resource": "*"}], True),
        ("broader resource", [{"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}], [{"Action": "s3:GetObject", "Resource": "*"}], True),
    ],
)
def test_privilege_delta(case: str, before: list[dict], after: list[dict], widening: bool) -> None:
    def docs(statements: list[dict]) -> list[dict]:
        return [_policy(*({"Effect": "Allow", **s} for s in statements))]

    delta = privilege_delta(privilege_set(docs(before), "r"), privilege_set(docs(after), "r"))
    assert delta.widening is widening
    if before == after:
        assert delta.added == [] and delta.removed == []

"""Privilege sets and deltas: wildcard expansion with cfn-lint's IAM data, widening, required logs grants."""

from __future__ import annotations

import pytest

from orchestrator.iam.privilege import (
    expand_action,
    privilege_delta,
    privilege_set,
    required_logs_grant,
)
from orchestrator.repairs.logs_kms import logs_statement


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_wildcard_expands_against_known_actions():
    actions = set(expand_action("kms:Describe*"))
    assert actions == {"kms:describekey", "kms:describecustomkeystores"}


@pytest.mark.parametrize(
    "case, pattern, expected",
    [
        ("star stays", "*", ("*",)),
        ("unknown service stays", "nosuchservice:Get*", ("nosuchservice:get*",)),
        ("exact action lower-cased", "s3:GetObject", ("s3:getobject",)),
        ("pattern matching nothing stays", "kms:Zzz*", ("kms:zzz*",)),
    ],
)
def test_expand_action_edges(case, pattern, expected):
    assert expand_action(pattern) == expected


def test_identity_statements_use_given_principal_and_key_statements_their_own():
    identity = privilege_set([doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})], "RoleA")
    assert identity == {("Allow", "RoleA", "s3:getobject", "arn:aws:s3:::b/*")}
    key = privilege_set(
        [doc({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"})],
        "Key",
    )
    assert key == {("Allow", "Service:logs.amazonaws.com", "kms:decrypt", "*")}


def test_single_statement_object_counts():
    single = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}
    assert privilege_set([single], "R") == {("Allow", "R", "sqs:sendmessage", "*")}


def test_same_document_is_no_change():
    document = doc({"Effect": "Allow", "Action": ["ec2:Describe*", "sns:Publish"], "Resource": "*"})
    delta = privilege_delta(privilege_set([document], "R"), privilege_set([dict(document)], "R"))
    assert (delta.added, delta.removed, delta.widening) == ([], [], False)


def test_narrower_replacement_is_not_widening():
    before = privilege_set([doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})], "R")
    after = privilege_set([doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})], "R")
    delta = privilege_delta(before, after)
    assert delta.widening is False
    assert delta.added == ["Allow R s3:getobject arn:aws:s3:::b/*"]


def test_new_action_is_widening():
    before = privilege_set([doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})], "R")
    after = before | privilege_set([doc({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})], "R")
    assert privilege_delta(before, after).widening is True


def test_removing_a_deny_is_widening():
    deny = doc({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    allow = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    delta = privilege_delta(privilege_set([allow, deny], "R"), privilege_set([allow], "R"))
    assert delta.widening is True
    assert delta.removed == ["Deny R s3:deleteobject *"]


def test_logs_statement_is_a_required_grant_not_widening():
    statement = logs_statement()
    assert required_logs_grant(statement)
    before = privilege_set([doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"})], "Key")
    after = before | privilege_set([doc(statement)], "Key")
    required = privilege_set([doc(statement)], "Key")
    assert privilege_delta(before, after).widening is True
    delta = privilege_delta(before, after, required=required)
    assert delta.widening is False
    assert len(delta.added) == len(required) and any("kms:generatedatakey" in line for line in delta.added)


@pytest.mark.parametrize(
    "case, change",
    [
        ("global principal", {"Principal": {"Service": "logs.amazonaws.com"}}),
        ("no condition", {"Condition": {}}),
        ("any account", {"Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}}}),
        ("extra action", {"Action": ["kms:Encrypt*", "kms:CreateGrant"]}),
        ("deny", {"Effect": "Deny"}),
    ],
)
def test_not_required_grants(case, change):
    assert not required_logs_grant({**logs_statement(), **change})


def test_literal_scope_is_required_when_region_and_account_match():
    statement = {
        **logs_statement(),
        "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:*"}},
    }
    assert required_logs_grant(statement, region="eu-west-1", account_id="111122223333")
    assert not required_logs_grant(statement, region="eu-west-1", account_id="999999999999")

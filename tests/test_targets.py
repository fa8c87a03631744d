"""Targets: the sandbox-account guard, credentials handling, capabilities derivation and stack naming."""

from __future__ import annotations

import sys
import types

import re

import pytest
from botocore.stub import Stubber

from orchestrator.aws.session import AwsSession, RetryPolicy
from orchestrator.errors import BadInput, Refusal
from orchestrator.aws.targets import (
    DUMMY_CREDENTIALS,
    Target,
    check_sandbox_account,
    new_run_id,
    open_target,
    required_capabilities,
    STACK_NAME_MAX,
    stack_name_for,
)

MOTO_ACCOUNT = "123456789012"  # the account a plain moto server reports for any key


@pytest.fixture
def no_ambient_credentials(monkeypatch, tmp_path):
    """An environment with no AWS credentials anywhere (and no instance metadata lookups)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws_env_on_moto(monkeypatch, moto_url, no_ambient_credentials):
    """The `aws` target's real code path, with every AWS endpoint redirected to the local moto server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def stubbed_sts_session(account: str) -> tuple[AwsSession, Stubber]:
    target = Target(kind="aws", endpoint_url="http://127.0.0.1:9", credentials=dict(DUMMY_CREDENTIALS))
    session = AwsSession(target, retry=RetryPolicy(max_attempts=2, base_s=0, cap_s=0))
    stubber = Stubber(session.client("sts"))
    stubber.add_response(
        "get_caller_identity",
        {"Account": account, "Arn": f"arn:aws:iam::{account}:user/dev", "UserId": "AIDAEXAMPLE"},
    )
    return session, stubber


@pytest.mark.parametrize(
    ("case", "account", "allowed", "refused"),
    [
        ("allowed", "111122223333", ["111122223333"], False),
        ("allowed-among-several", "111122223333", ["999999999999", "111122223333"], False),
        ("not-in-list", "123456789012", ["111122223333"], True),
    ],
)
def test_sandbox_guard_with_stubbed_sts(case, account, allowed, refused):
    session, stubber = stubbed_sts_session(account)
    with stubber:
        if refused:
            with pytest.raises(Refusal, match=f"refusing to deploy: account {account} is not in \\[aws\\] allowed_accounts"):
                check_sandbox_account(session, allowed)
        else:
            assert check_sandbox_account(session, allowed) == account
        stubber.assert_no_pending_responses()


def test_guard_with_an_empty_allow_list_refuses_without_asking_sts():
    session, stubber = stubbed_sts_session("123456789012")
    with stubber, pytest.raises(Refusal, match="refusing to deploy: \\[aws\\] allowed_accounts is empty"):
        check_sandbox_account(session, [])
    assert stubber._queue, "the identity answer must stay unused"


def test_guard_refusal_message_is_exact():
    session, stubber = stubbed_sts_session("123456789012")
    with stubber, pytest.raises(Refusal) as caught:
        check_sandbox_account(session, ["111122223333"])
    assert str(caught.value) == "refusing to deploy: account 123456789012 is not in [aws] allowed_accounts [111122223333]"
    assert caught.value.exit_code == 3


def test_aws_target_without_credentials_is_refused(no_ambient_credentials, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)  # belt and braces: never real AWS, even by mistake
    with pytest.raises(Refusal, match="no usable AWS credentials"):
        with open_target("aws", allowed_accounts=[MOTO_ACCOUNT]):
            raise AssertionError("the body must not run without credentials")


def test_aws_target_with_unknown_profile_is_refused(no_ambient_credentials):
    with pytest.raises(Refusal, match="profile 'nope' not found"):
        with open_target("aws", profile="nope", allowed_accounts=[MOTO_ACCOUNT]):
            raise AssertionError("the body must not run with an unknown profile")


def test_aws_target_allowed_account_opens(aws_env_on_moto):
    with open_target("aws", region="eu-west-1", allowed_accounts=[MOTO_ACCOUNT]) as target:
        assert target.kind == "aws" and target.account_id == MOTO_ACCOUNT and target.region == "eu-west-1"


def test_aws_target_other_account_is_refused_before_any_write(aws_env_on_moto):
    with pytest.raises(Refusal, match=f"account {MOTO_ACCOUNT} is not in"):
        with open_target("aws", allowed_accounts=["111122223333"]):
            raise AssertionError("the body must not run for a non-sandbox account")


def test_aws_target_assumes_the_role_before_the_guard(aws_env_on_moto):
    role_arn = f"arn:aws:iam::{MOTO_ACCOUNT}:role/deployer"
    with open_target("aws", role_arn=role_arn, allowed_accounts=[MOTO_ACCOUNT]) as target:
        assert target.role_arn == role_arn
        assert target.credentials["aws_access_key_id"] != "testing"
        assert AwsSession(target).caller_identity()["Arn"].startswith(f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/deployer/")


def test_endpoint_target_uses_dummy_credentials_when_none(moto_url):
    with open_target("endpoint", endpoint_url=moto_url + "/") as target:
        assert target.endpoint_url == moto_url
        assert target.credentials == DUMMY_CREDENTIALS
        assert AwsSession(target).caller_identity()["Account"] == MOTO_ACCOUNT


@pytest.mark.parametrize(
    ("case", "kwargs", "message"),
    [
        ("endpoint-without-url", {"kind": "endpoint"}, "needs an endpoint URL"),
        ("endpoint-bad-scheme", {"kind": "endpoint", "endpoint_url": "ftp://x"}, "must start with http"),
        ("unknown-kind", {"kind": "mars"}, "unknown target 'mars'"),
    ],
)
def test_bad_target_arguments(case, kwargs, message):
    with pytest.raises(BadInput, match=message):
        with open_target(**kwargs):
            raise AssertionError("unreachable")


def test_embedded_target_starts_and_stops_a_sandbox(monkeypatch):
    # Unit test of the wiring only; the real Sandbox is exercised by the sandbox's own and end-to-end tests.
    calls: list[str] = []

    class FakeSandbox:
        def __init__(self, *, region, config=None):
            self.region, self.config = region, config
            self.endpoint_url = "http://127.0.0.1:4567"
            self.account_id = "210987654321"
            self.credentials = {"aws_access_key_id": "AK", "aws_secret_access_key": "SK", "region_name": region}

        def start(self):
            calls.append("start")
            return self

        def stop(self):
            calls.append("stop")

    module = types.ModuleType("orchestrator.sandbox")
    module.Sandbox = FakeSandbox
    monkeypatch.setitem(sys.modules, "orchestrator.sandbox", module)
    with open_target("embedded", region="eu-central-1", sandbox_config="cfg") as target:
        assert calls == ["start"]
        assert (target.kind, target.endpoint_url, target.account_id) == ("embedded", "http://127.0.0.1:4567", "210987654321")
        assert target.credentials == {"aws_access_key_id": "AK", "aws_secret_access_key": "SK"}
        assert target.sandbox.config == "cfg" and target.sandbox.region == "eu-central-1"
    assert calls == ["start", "stop"]


@pytest.mark.parametrize(
    ("case", "resources", "transform", "expected"),
    [
        ("nothing", {"Q": {"Type": "AWS::SQS::Queue"}}, None, []),
        ("unnamed-role", {"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}, None, ["CAPABILITY_IAM"]),
        ("inline-policy", {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "p"}}}, None, ["CAPABILITY_IAM"]),
        ("named-role", {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r"}}}, None, ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]),
        ("named-user", {"U": {"Type": "AWS::IAM::User", "Properties": {"UserName": "u"}}}, None, ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]),
        ("named-group", {"G": {"Type": "AWS::IAM::Group", "Properties": {"GroupName": "g"}}}, None, ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]),
        (
            "named-managed-policy",
            {"M": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "m"}}},
            None,
            ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        ),
        (
            "named-instance-profile",
            {"I": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"InstanceProfileName": "i", "Roles": []}}},
            None,
            ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        ),
        (
            "role-name-from-ref",
            {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Ref": "Name"}}}},
            None,
            ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        ),
        ("sam-transform", {"F": {"Type": "AWS::Serverless::Function", "Properties": {}}}, "AWS::Serverless-2016-10-31", ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]),
        ("sam-with-role", {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Role": "arn"}}}, ["AWS::Serverless-2016-10-31"], ["CAPABILITY_AUTO_EXPAND"]),
        (
            "fn-transform-include",
            {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Fn::Transform": {"Name": "AWS::Include"}}}},
            None,
            ["CAPABILITY_AUTO_EXPAND"],
        ),
        ("nested-stack-alone", {"N": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://x"}}}, None, []),
    ],
)
def test_required_capabilities(case, resources, transform, expected):
    document = {"Resources": resources}
    if transform is not None:
        document["Transform"] = transform
    assert required_capabilities(document) == expected


@pytest.mark.parametrize(
    ("case", "stem", "run_id", "expected"),
    [
        ("plain", "webtier", "r1", "cfa-webtie-r1"),
        ("dots-and-underscores", "web_tier.v2", "r1", "cfa-web-ti-r1"),
        ("upper-case-and-long", "MyWebTier_Production", "20240101000000abcdef", "cfa-mywebt-abcdef"),
        ("stem-too-short-to-say-anything", "ab", "20240101000000abcdef", "cfa-abcdef"),
    ],
)
def test_stack_name_for(case, stem, run_id, expected):
    assert stack_name_for(stem, run_id) == expected


def test_stack_name_is_valid_when_long_or_numeric():
    long_name = stack_name_for("x" * 300, "20240101000000abcdef")
    assert len(long_name) <= STACK_NAME_MAX and long_name.endswith("-abcdef")
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", long_name)
    assert stack_name_for("9lives", "r", prefix="")[0].isalpha()
    assert "--" not in stack_name_for("a--b", "--r--", prefix="x-")


def test_a_default_stack_name_leaves_room_for_the_names_templates_build_from_it():
    # aws-samples/ecs-refarch-cloudformation master.yaml passes the stack name to its children, which name a
    # target group "${EnvironmentName}-default": ELBv2 allows 32 characters. Our former 25-character default
    # made that correct template fail ("Target group name ... cannot be longer than '32' characters").
    name = stack_name_for("master", new_run_id())
    assert len(f"{name}-default") <= 32
    assert len(name) <= STACK_NAME_MAX == 20


def test_a_longer_configured_prefix_is_kept_and_the_stem_gives_way():
    assert stack_name_for("master", "20240101000000abcdef", prefix="cfn-autofix-") == "cfn-autofix-abcdef"
    assert stack_name_for("master", "20240101000000abcdef", prefix="team-") == "team-master-abcdef"
    # A prefix longer than the budget is the user's choice: kept whole, only the run id is added.
    assert stack_name_for("master", "20240101000000abcdef", prefix="a-very-long-team-prefix-") == \
        "a-very-long-team-prefix-abcdef"


def test_two_runs_in_the_same_second_get_different_names():
    # The name keeps the run id's random tail (secrets.token_hex), not its time stamp.
    first, second = "20240101000000" + "abcdef", "20240101000000" + "abcdee"
    assert stack_name_for("webtier", first) != stack_name_for("webtier", second)


def test_run_ids_are_unique_and_name_safe():
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50 and all(i.isalnum() for i in ids)

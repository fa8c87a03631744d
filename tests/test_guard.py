"""The account guard: one code path for deploy, verify and sweep on every target that can reach a real account."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.aws.guard import Guard, endpoint_is_loopback, identity_target
from orchestrator.aws.targets import Target, open_target
from orchestrator.cli import app
from orchestrator.errors import Refusal

CANARY_SECRET_KEY = "CANARYsecretKEYthatMustNeverBeLogged0001"  # the clean_aws_env fixture's secret key
FOREIGN_ACCOUNT = "222222222222"  # what the recorded_calls fixture's STS answers
ALLOWED = "111111111111"
AWS_CFN_URL = "https://cloudformation.us-east-1.amazonaws.com"
TOPIC = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://127.8.9.10", True),
        ("http://localhost:4566", True),
        ("http://LOCALHOST.:4566/", True),
        ("http://moto.localhost:5000", True),
        ("http://[::1]:5000", True),
        (AWS_CFN_URL, False),
        ("http://10.0.0.5:5000", False),
        ("http://0.0.0.0:5000", False),
        ("http://localstack:4566", False),  # a DNS name may point anywhere
        ("http://127.0.0.1.nip.io", False),
        ("http://localhost@evil.example.com", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_only_literal_loopback_endpoints_count_as_local(url, loopback):
    assert endpoint_is_loopback(url) is loopback


def test_guard_applies_to_aws_and_every_non_loopback_endpoint_unless_declared():
    guard = Guard(emulator_endpoints=("http://localstack:4566/",))
    assert not guard.applies("embedded", None)
    assert guard.applies("aws", None) and guard.applies("aws", "http://127.0.0.1:5000")
    assert not guard.applies("endpoint", "http://127.0.0.1:5000")
    assert guard.applies("endpoint", AWS_CFN_URL)
    assert not guard.applies("endpoint", "http://LocalStack:4566")
    assert guard.applies("endpoint", "http://localstack:4567")


def test_identity_is_asked_of_aws_sts_when_the_endpoint_is_an_aws_service_host():
    assert identity_target(Target(kind="endpoint", endpoint_url=AWS_CFN_URL)).endpoint_url is None
    assert identity_target(Target(kind="endpoint", endpoint_url="http://10.0.0.5:1")).endpoint_url == "http://10.0.0.5:1"


def test_empty_allow_list_refuses_an_aws_endpoint_without_any_call(clean_aws_env, recorded_calls):
    with pytest.raises(Refusal, match="refusing to deploy: \\[aws\\] allowed_accounts is empty") as caught:
        with open_target("endpoint", endpoint_url=AWS_CFN_URL):
            raise AssertionError("the body must not run")
    assert caught.value.exit_code == 3
    assert recorded_calls == []


def test_foreign_account_behind_an_aws_endpoint_is_refused_after_identity_only(clean_aws_env, recorded_calls):
    with pytest.raises(Refusal, match=f"refusing to sweep: account {FOREIGN_ACCOUNT} is not in"):
        with open_target("endpoint", endpoint_url=AWS_CFN_URL, guard=Guard("sweep", (ALLOWED,))):
            raise AssertionError("the body must not run")
    assert recorded_calls == [("sts", "GetCallerIdentity")]


def test_allowed_account_behind_a_non_loopback_endpoint_opens(clean_aws_env, recorded_calls):
    with open_target("endpoint", endpoint_url=AWS_CFN_URL, guard=Guard("deploy", (FOREIGN_ACCOUNT,))) as target:
        assert target.account_id == FOREIGN_ACCOUNT


def _cli(tmp_path, monkeypatch, args, toml=""):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(TOPIC)
    (tmp_path / "cfn-autofix.toml").write_text(f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n' + toml)
    return CliRunner().invoke(app, args)


def _refusal_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("{")]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("deploy", ["deploy", "t.yaml", "--target", "endpoint", "--endpoint-url", AWS_CFN_URL]),
        ("deploy", ["deploy", "t.yaml", "--target", "aws"]),
        ("verify", ["verify", "t.yaml", "--target", "endpoint", "--endpoint-url", AWS_CFN_URL]),
        ("verify", ["verify", "t.yaml", "--target", "aws"]),
        ("sweep", ["sweep", "--target", "endpoint", "--endpoint-url", AWS_CFN_URL, "--yes"]),
        ("sweep", ["sweep", "--target", "aws", "--yes"]),
    ],
)
def test_cli_empty_allow_list_refuses_at_once_with_the_command_named(clean_aws_env, recorded_calls, tmp_path,
                                                                     monkeypatch, command, args):
    result = _cli(tmp_path, monkeypatch, args)
    assert result.exit_code == 3, result.output
    lines = _refusal_lines(result)
    assert len(lines) == 1 and lines[0].startswith(f"cfn-autofix: refused: refusing to {command}: "), lines
    assert recorded_calls == [], "an empty allow-list refuses before any network call"
    assert not (tmp_path / "journal.jsonl").exists()


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("deploy", ["deploy", "t.yaml"]),
        ("verify", ["verify", "t.yaml"]),
        ("sweep", ["sweep", "--yes"]),
    ],
)
def test_cli_project_file_pointing_at_aws_is_guarded_with_no_flag(clean_aws_env, recorded_calls, tmp_path,
                                                                   monkeypatch, command, args):
    toml = f'[deploy]\ntarget = "endpoint"\nendpoint_url = "{AWS_CFN_URL}"\n[aws]\nallowed_accounts = ["{ALLOWED}"]\n'
    result = _cli(tmp_path, monkeypatch, args, toml)
    assert result.exit_code == 3, result.output
    assert _refusal_lines(result) == [
        f"cfn-autofix: refused: refusing to {command}: account {FOREIGN_ACCOUNT} is not in [aws] allowed_accounts "
        f"[{ALLOWED}]"
    ]
    assert [op for _, op in recorded_calls] == ["GetCallerIdentity"], "nothing but the identity check may run"
    assert CANARY_SECRET_KEY not in result.stdout + result.stderr


def test_emulator_flag_needs_an_endpoint(tmp_path, monkeypatch):
    result = _cli(tmp_path, monkeypatch, ["deploy", "t.yaml", "--emulator"])
    assert result.exit_code == 2
    assert "--emulator" in result.stderr

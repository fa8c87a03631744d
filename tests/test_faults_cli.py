"""--faults on deploy, verify and sandbox (and [sandbox] faults in config): rehearsing a flaky day from the CLI."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.sandbox.config import FaultConfig

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n  Queue:\n    Type: AWS::SQS::Queue\n"
FAULTS = "throttle=0.3,5xx=0.05,resets=2,seed=7"


def test_fault_spec_parses_like_the_docs_say():
    assert FaultConfig.parse(FAULTS) == FaultConfig(throttle_rate=0.3, error_5xx_rate=0.05, connection_resets=2, seed=7)
    assert FaultConfig.parse("lost=1,ops=CreateStack|DescribeStacks") == FaultConfig(
        lost_responses=1, operations=("CreateStack", "DescribeStacks"))
    assert FaultConfig.parse("") == FaultConfig()


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text(TOPIC)
    return tmp_path


def write_config(work: Path, extra: str = "") -> None:
    (work / "cfn-autofix.toml").write_text(
        f'[run]\njournal = "{work / "journal.jsonl"}"\n[retry]\nbase_s = 0.005\ncap_s = 0.05\nmax_attempts = 12\n'
        + extra)


def retries(stderr: str) -> list[dict]:
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == "aws_retry"]


@pytest.mark.parametrize("how", ["flag", "config"])
def test_deploy_rehearses_a_flaky_day(work, how):
    write_config(work, f'[sandbox]\nfaults = "{FAULTS}"\n' if how == "config" else "")
    args = ["--log-json", "deploy", "t.yaml", "--report-json", "r.json"] + (["--faults", FAULTS] if how == "flag" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert retries(result.stderr), "the injected faults were met and retried"
    assert json.loads((work / "r.json").read_text())["status"] == "succeeded"


def test_verify_rehearses_a_flaky_day(work):
    write_config(work)
    result = CliRunner().invoke(app, ["--log-json", "verify", "t.yaml", "--faults", FAULTS, "--report-json", "v.json"])
    assert result.exit_code == 0, result.output
    assert retries(result.stderr)


@pytest.mark.parametrize(("args", "message"), [
    (["deploy", "t.yaml", "--faults", "throttle=1.5"], "--faults: 'throttle=1.5': a rate between 0 and 1"),
    (["deploy", "t.yaml", "--faults", "jitter=1"], "--faults: 'jitter=1': expected one of"),
    (["deploy", "t.yaml", "--faults", "resets=1", "--target", "endpoint", "--endpoint-url", "http://127.0.0.1:9"],
     "--faults are injected by the embedded sandbox"),
    (["sandbox", "--faults", "5xx=x"], "--faults: '5xx=x': 'x' is not a number"),
])
def test_bad_fault_specs_are_bad_input(work, args, message):
    write_config(work)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_a_bad_fault_spec_in_config_names_the_key(work):
    write_config(work, '[sandbox]\nfaults = "throttle=lots"\n')
    result = CliRunner().invoke(app, ["deploy", "t.yaml"])
    assert result.exit_code == 2 and "config key 'sandbox.faults'" in result.stderr, result.output


def test_the_served_sandbox_injects_the_faults_it_is_given():
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "sandbox", "--port", "0", "--faults",
                             "throttle=1.0,ops=DescribeStacks"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=ROOT)
    try:
        info: dict[str, str] = {}
        printed = []
        while "AWS_DEFAULT_REGION" not in info:
            line = proc.stdout.readline()
            assert line, "the sandbox exited before printing its endpoint"
            printed.append(line)
            match = re.search(r"export (AWS_[A-Z_]+)=(\S+)", line)
            if match:
                info[match.group(1)] = match.group(2)
        printed.append(proc.stdout.readline())
        assert any("injecting API faults" in line for line in printed), printed
        cfn = boto3.client("cloudformation", endpoint_url=info["AWS_ENDPOINT_URL"], region_name="us-east-1",
                           aws_access_key_id=info["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=info["AWS_SECRET_ACCESS_KEY"],
                           config=BotoConfig(retries={"total_max_attempts": 1}))
        with pytest.raises(ClientError, match="Rate exceeded"):
            cfn.describe_stacks()
        assert cfn.list_stacks()["StackSummaries"] == []  # other operations are untouched
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

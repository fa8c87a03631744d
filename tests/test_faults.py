"""API faults: with the sandbox throttling, failing with 5xx and resetting connections, the loop reaches the same repair and result."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig
from structlog.testing import capture_logs

from orchestrator.config import load_config
from orchestrator.aws.journal import Journal
from orchestrator.logs import configure_logging
from orchestrator.deploy.loop import deploy_with_autofix
from orchestrator.iam.policy import managed_policy
from orchestrator.sandbox import FaultConfig, SandboxConfig
from orchestrator.template import load_template

ROOT = Path(__file__).resolve().parents[1]
WEBTIER = ROOT / "examples" / "webtier-broken.yaml"
RETRY_ATTEMPTS = 10
BAD_ARN = "arn:aws:iam::aws:policy/AWSCodeDeployRole"
GOOD_ARN = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"


def run_config(tmp_path: Path):
    # Tiny backoff so a faulty run costs milliseconds per retry; ten attempts make a 30% fault rate harmless.
    return load_config({"retry.base_s": 0.005, "retry.cap_s": 0.05, "retry.max_attempts": RETRY_ATTEMPTS,
                        "retry.max_wait_s": 30.0, "run.journal": str(tmp_path / "journal.jsonl")},
                       project_dir=tmp_path)


def outcome(result) -> dict:
    """What must not depend on faults: the result, the repaired template, and what each attempt saw and did."""
    return {
        "status": result.status,
        "deployments": result.deployments,
        "template": result.template.document,
        "attempts": [
            {"stack_status": a["stack_status"],
             "failures": sorted((f["logical_id"], f["playbook"]) for f in a["failures"]),
             "repairs": sorted(r["repair"] for r in a["repairs"] if r.get("operations"))}
            for a in result.attempts
        ],
    }


def deploy_on(sandbox, monkeypatch, tmp_path: Path):
    """deploy_with_autofix against a sandbox we keep, so what is left in it can be checked afterwards."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.credentials["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.credentials["aws_secret_access_key"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    configure_logging(json=True)
    with capture_logs() as logs:
        result = deploy_with_autofix(WEBTIER, target="endpoint", endpoint_url=sandbox.endpoint_url, forecast=False,
                                     config=run_config(tmp_path), out=tmp_path / "webtier.fixed.yaml",
                                     report_json=tmp_path / "report.json")
    return result, logs


def live_stacks(sandbox) -> list[str]:
    # The checking client retries through the injected faults on its own (botocore's standard mode).
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials,
                       config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 30}))
    summaries = cfn.list_stacks()["StackSummaries"]
    return [s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The fault-free run every faulty one is compared with."""
    tmp_path = tmp_path_factory.mktemp("baseline")
    result = deploy_with_autofix(WEBTIER, forecast=False, config=run_config(tmp_path),
                                 out=tmp_path / "webtier.fixed.yaml")
    assert result.status == "succeeded"
    return outcome(result)


FAULTS = [
    ("throttle-30pct", FaultConfig(throttle_rate=0.3, seed=7)),
    ("5xx-5pct", FaultConfig(error_5xx_rate=0.05, seed=15)),
    ("one-connection-reset", FaultConfig(connection_resets=1, operations=("DescribeStackEvents",), seed=3)),
    ("mixed", FaultConfig(throttle_rate=0.3, error_5xx_rate=0.05, connection_resets=1, seed=29)),
]


@pytest.mark.parametrize("case, faults", FAULTS, ids=[case for case, _ in FAULTS])
def test_faults_change_nothing_but_the_retries(case, faults, baseline, sandbox_factory, monkeypatch, tmp_path):
    sandbox = sandbox_factory(config=SandboxConfig(faults=faults))
    result, logs = deploy_on(sandbox, monkeypatch, tmp_path)

    assert outcome(result) == baseline
    injected = sandbox.faults.injected
    assert injected, "the sandbox injected no fault: the test proves nothing"
    kinds = {kind for _, kind in injected}
    expected = {"throttle-30pct": {"throttle"}, "5xx-5pct": {"5xx"}, "one-connection-reset": {"reset"},
                "mixed": {"throttle", "5xx", "reset"}}[case]
    assert expected <= kinds, kinds
    assert sum(kind == "reset" for _, kind in injected) == faults.connection_resets

    retries = [entry for entry in logs if entry["event"] == "aws_retry"]
    assert retries, "every injected fault is retried, and each retry is logged"
    assert all(1 <= entry["attempt"] < RETRY_ATTEMPTS for entry in retries), "retries are bounded"
    assert all(entry["operation"] and entry["error"] for entry in retries)
    # Every fault the server injected shows up as one logged retry (the client saw each one, and gave up on none).
    assert len(retries) == len(injected), (len(retries), len(injected))

    assert live_stacks(sandbox) == [], "no stack left behind"
    assert Journal(tmp_path / "journal.jsonl").pending() == []
    repaired = load_template(tmp_path / "webtier.fixed.yaml").document
    assert repaired == result.template.document, "the written fix is the template that went green"
    # The default (inline) repair: the unattachable ARN is gone and its exact catalog document is inlined.
    role = repaired["Resources"]["CodeDeployServiceRole"]["Properties"]
    assert BAD_ARN not in role.get("ManagedPolicyArns", [])
    assert role["Policies"] == [{"PolicyName": "AWSCodeDeployRole",
                                 "PolicyDocument": managed_policy(GOOD_ARN)["document"]}]
    assert load_template(WEBTIER).document["Resources"]["CodeDeployServiceRole"]["Properties"]["ManagedPolicyArns"] == [
        BAD_ARN], "the input still holds the defect: the check above is about the repair"
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "succeeded"

"""Records that agree with the world: a CreateStack whose answer was lost, failed creates, embedded runs, sweep."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from typer.testing import CliRunner

from orchestrator.aws.journal import Journal
from orchestrator.aws.sweep import sweep
from orchestrator.cli import app
from orchestrator.config import load_config
from orchestrator.deploy.loop import deploy_with_autofix
from orchestrator.sandbox import FaultConfig, SandboxConfig

TOPIC = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


def config(tmp_path: Path, **extra):
    return load_config({"retry.base_s": 0.005, "retry.cap_s": 0.05, "retry.max_attempts": 4,
                        "run.journal": str(tmp_path / "journal.jsonl"), **extra}, project_dir=tmp_path)


def use_keys(monkeypatch, sandbox) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.credentials["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.credentials["aws_secret_access_key"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def live_stacks(sandbox) -> list[str]:
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials,
                       config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 10}))
    return [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]


def test_create_whose_answer_was_lost_is_reconciled_and_cleaned_up(sandbox_factory, monkeypatch, tmp_path):
    sandbox = sandbox_factory(config=SandboxConfig(faults=FaultConfig(lost_responses=1, operations=("CreateStack",))))
    use_keys(monkeypatch, sandbox)
    (tmp_path / "t.yaml").write_text(TOPIC)
    result = deploy_with_autofix(tmp_path / "t.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 config=config(tmp_path), report_json=tmp_path / "r.json")
    assert ("CreateStack", "lost") in sandbox.faults.injected, "the server acted and the answer was lost"
    report = json.loads((tmp_path / "r.json").read_text())
    # The stack the server created is known, counted, watched and deleted: the record matches the world.
    assert report["status"] == "succeeded", report["stop_reason"]
    assert report["deployments"] == 1 and report["stack_deleted"] is True and report["stack_left"] is False
    assert len(report["reconciled"]) == 1 and report["reconciled"][0]["operation"] == "CreateStack"
    assert report["reconciled"][0]["found"] is not None
    assert live_stacks(sandbox) == []
    assert Journal(tmp_path / "journal.jsonl").pending() == []
    assert result.deployments == 1


def test_a_create_that_never_happened_closes_its_journal_entry(sandbox_factory, monkeypatch, tmp_path):
    # Every CreateStack throttled: retries run out, no stack exists, and the journal says so.
    sandbox = sandbox_factory(config=SandboxConfig(faults=FaultConfig(throttle_rate=1.0, operations=("CreateStack",))))
    use_keys(monkeypatch, sandbox)
    (tmp_path / "t.yaml").write_text(TOPIC)
    deploy_with_autofix(tmp_path / "t.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                        config=config(tmp_path), report_json=tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["status"] == "failed" and "CreateStack" in report["stop_reason"]
    assert report["deployments"] == 0 and report["stack_left"] is False
    journal = Journal(tmp_path / "journal.jsonl")
    assert journal.pending() == []
    assert [r.get("reason") for r in journal.read() if r["op"] == "deleted"] == ["never created"]


def test_an_embedded_run_closes_its_journal_entry_even_when_keeping_the_stack(tmp_path):
    (tmp_path / "t.yaml").write_text(TOPIC)
    result = deploy_with_autofix(tmp_path / "t.yaml", config=config(tmp_path), keep_stack=True)
    assert result.status == "succeeded"
    assert result.report["stack_left"] is False, "the embedded sandbox and its stack are gone"
    assert Journal(tmp_path / "journal.jsonl").pending() == []


def test_sweep_closes_old_embedded_entries_and_shows_young_pending_ones(tmp_path, moto_url, monkeypatch):
    journal = Journal(tmp_path / "journal.jsonl")
    old = (datetime.now(timezone.utc) - timedelta(hours=12)).isoformat(timespec="seconds")
    young = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = [
        {"op": "create", "run_id": "r-emb", "stack_name": "emb-stack", "target": "embedded", "region": "us-east-1",
         "endpoint_url": "http://127.0.0.1:1", "recorded_at": old},
        {"op": "create", "run_id": "r-young", "stack_name": "young-stack", "target": "endpoint",
         "region": "us-east-1", "endpoint_url": moto_url, "recorded_at": young},
    ]
    journal.path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    items = {i.stack_name: i for i in sweep(target="endpoint", regions=["us-east-1"], endpoint_url=moto_url,
                                            older_than=timedelta(hours=6), journal=journal, yes=True)}
    assert items["emb-stack"].action == "gone"
    assert items["young-stack"].action == "skipped"
    assert [e.stack_name for e in journal.pending()] == ["young-stack"]
    # With --older-than 0 nothing is young: the pending entry of a stack that does not exist is closed.
    sweep(target="endpoint", regions=["us-east-1"], endpoint_url=moto_url, older_than=timedelta(0),
          journal=journal, yes=True)
    assert journal.pending() == []


def test_sweep_help_and_readme_say_what_it_does_with_pending_entries():
    text = CliRunner().invoke(app, ["sweep", "--help"]).stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for said in (" ".join(text.split()), " ".join(readme.split())):
        assert "pending" in said and "younger" in said, said[:300]

"""The transient path end to end: a resource that fails once with "Internal Failure" is deployed again unchanged, then green."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from orchestrator.config import load_config
from orchestrator.aws.journal import Journal
from orchestrator.logs import configure_logging
from orchestrator.deploy.loop import deploy_with_autofix
from orchestrator.sandbox import FaultConfig, SandboxConfig
from orchestrator.template import load_template

pytestmark = pytest.mark.slow

CORRECT = Path(__file__).parent / "fixtures" / "deploy" / "correct.yaml"


def test_transient_resource_failure_ends_green_after_a_retry(tmp_path):
    # A tiny backoff window keeps the test short; the policy (tenacity's, from [retry]) is the one aws.py uses.
    config = load_config({"retry.base_s": 0.01, "retry.cap_s": 0.05, "run.journal": str(tmp_path / "journal.jsonl")},
                         project_dir=tmp_path)
    configure_logging(json=True)
    with capture_logs() as logs:
        result = deploy_with_autofix(CORRECT, forecast=False, config=config, report_json=tmp_path / "report.json",
                                     sandbox_config=SandboxConfig(faults=FaultConfig(failing_resources=("Vpc",))))

    assert result.status == "succeeded", result.report.get("stop_reason")
    assert result.deployments == 2
    first, second = result.attempts
    assert [f["logical_id"] for f in first["failures"]] == ["Vpc"]
    assert first["failures"][0]["playbook"] == "transient"
    assert [r["repair"] for r in first["repairs"]] == ["retry"]
    assert first["repairs"][0]["operations"] == [] and first["repairs"][0]["resources"] == ["Vpc"]
    assert second["failures"] == [] and second["repairs"] == []
    assert result.template.document == load_template(CORRECT).document
    assert result.repaired_template is None, "a retry changes nothing, so nothing is written"

    backoffs = [entry for entry in logs if entry["event"] == "transient_backoff"]
    assert len(backoffs) == 1 and 0 <= backoffs[0]["seconds"] <= 0.05, backoffs
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "succeeded" and report["deployments"] == 2
    assert [r["repair"] for a in report["attempts"] for r in a["repairs"]] == ["retry"]
    assert Journal(tmp_path / "journal.jsonl").pending() == []

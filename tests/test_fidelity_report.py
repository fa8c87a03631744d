"""Every report says what was really built: deploy JSON, the terminal verdict, verify's Markdown and JUnit."""

from __future__ import annotations

import io
import json

from rich.console import Console

from orchestrator import deploy_with_autofix
from orchestrator.deploy.fidelity import from_real_stack, summary
from orchestrator.deploy.report import render_summary
from orchestrator.verify.markdown import render_markdown
from orchestrator.verify.reports import render_junit

ONLY_STAND_INS = {"Resources": {f"App{i}": {"Type": "AWS::EC2::IPAM"} for i in range(3)}}


def test_summary_words():
    assert summary({"modeled": [], "stand_in": ["A", "B"], "skipped_by_condition": [], "sandbox_limitations": []}) \
        == "2 of 2 resources were stand-ins, nothing was built"
    text = summary({"modeled": ["M"], "stand_in": ["S"], "skipped_by_condition": ["K"],
                    "sandbox_limitations": [{"logical_id": "Q", "resource_type": "AWS::SQS::Queue"}]})
    assert text == ("1 of 2 resources were stand-ins (S); 1 skipped by their condition (K); "
                    "1 sandbox limitation(s): Q (AWS::SQS::Queue)")
    assert summary({"modeled": ["M"], "stand_in": [], "skipped_by_condition": [], "sandbox_limitations": []}) == ""


def test_real_stack_fidelity_counts_condition_skips_only_when_green():
    resources = {"A": {}, "B": {}, "C": {}}
    assert from_real_stack(resources, {"A", "B"}, True)["skipped_by_condition"] == ["C"]
    assert from_real_stack(resources, {"A"}, False) == {"modeled": ["A"], "stand_in": [],
                                                         "skipped_by_condition": [], "sandbox_limitations": []}


def test_a_green_built_of_stand_ins_says_so(tmp_path):
    template = tmp_path / "apps.json"
    template.write_text(json.dumps(ONLY_STAND_INS))
    result = deploy_with_autofix(template, forecast=False, report_json=tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.status == "succeeded"
    assert report["fidelity"] == {"modeled": [], "stand_in": ["App0", "App1", "App2"], "skipped_by_condition": [],
                                  "sandbox_limitations": []}
    out = io.StringIO()
    render_summary(report, Console(file=out, width=200))
    assert "green — 3 of 3 resources were stand-ins, nothing was built" in out.getvalue()


def _run(fidelity: dict) -> dict:
    report = {"status": "succeeded", "attempts": [{"number": 1, "stack_status": "CREATE_COMPLETE", "failures": [],
                                                   "repairs": []}],
              "deployments": 1, "forecast_repairs": [], "fidelity": fidelity}
    cell = {"id": "t|us-east-1|default", "template": "t.yaml", "region": "us-east-1", "parameter_set": "default",
            "report": report, "error": None, "duration_s": 1.0}
    return {"cells": [cell]}


def test_verify_reports_show_fidelity_per_cell():
    hollow = _run({"modeled": [], "stand_in": ["A"], "skipped_by_condition": [], "sandbox_limitations": []})
    assert "1 of 1 resources were stand-ins, nothing was built" in render_markdown(hollow)
    junit = render_junit(hollow)
    assert 'name="fidelity" value="1 of 1 resources were stand-ins, nothing was built"' in junit
    solid = _run({"modeled": ["A"], "stand_in": [], "skipped_by_condition": [], "sandbox_limitations": []})
    assert "every resource modeled" in render_markdown(solid)
    assert "fidelity" not in render_junit(solid)

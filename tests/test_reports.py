"""Verify reports from deploy-report dicts: JUnit XML structure, Markdown analysis, JSON, merge and exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator.verify import markdown, reports
from orchestrator.errors import BadInput

REPORTS = Path(__file__).parent / "fixtures" / "verify" / "reports"


def deploy_report(name: str, **changes) -> dict:
    data = json.loads((REPORTS / f"{name}.json").read_text())
    data.update(changes)
    return data


def cell(template: str, region: str, pset: str, report: dict | None, *, error: str | None = None, duration: float = 2.0):
    return {
        "id": f"{template}|{region}|{pset}",
        "template": template,
        "template_path": f"/nowhere/{template}",
        "region": region,
        "parameter_set": pset,
        "parameters": {},
        "max_attempts": 3,
        "report": report,
        "error": error,
        "duration_s": duration,
    }


def sample_cells() -> list[dict]:
    return [
        cell("templates/bucket.yaml", "us-east-1", "dev", deploy_report("green")),
        cell("templates/bucket.yaml", "eu-west-1", "dev", deploy_report("green", region="eu-west-1")),
        cell("templates/legacy/deployer.json", "us-east-1", "dev", deploy_report("repaired")),
        cell("templates/queue.yaml", "eu-west-1", "dev", deploy_report("failed")),
        cell("templates/queue.yaml", "us-east-1", "dev", None, error="RuntimeError: sandbox exploded <&>"),
        cell("templates/queue.yaml", "us-east-1", "prod", deploy_report("retried")),
    ]


def sample_run(cells=None, *, shard=None) -> dict:
    cells = sample_cells() if cells is None else cells
    return reports.build_run(
        cells,
        matrix_cells=[c["id"] for c in sample_cells()],
        matrix_digest="d1",
        target="embedded",
        matrix="matrix.toml",
        shard=shard,
        wall_s=7.5,
    )


PLAYBOOKS = {
    "managed-policy-not-attachable": {
        "impact": "critical",
        "explanation": "The managed policy ARN does not name an attachable AWS managed policy.",
        "docs": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
    },
    "missing-depends-on": {
        "impact": "high",
        "explanation": "CloudFormation created the resource before one it needs.",
        "docs": "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html",
    },
}


@pytest.mark.parametrize(
    "case,name,expected",
    [
        ("green", "green", reports.GREEN),
        ("repaired", "repaired", reports.REPAIRED),
        ("failed", "failed", reports.FAILED),
        ("retry-is-not-a-repair", "retried", reports.GREEN),
    ],
)
def test_classify(case, name, expected):
    assert reports.classify(cell("t.yaml", "us-east-1", "d", deploy_report(name))) == expected


def test_classify_forecast_repair_counts_as_repair():
    report = deploy_report("green", forecast=[{"playbook": "x", "logical_id": "A", "resource_type": "T", "message": "m"}])
    assert reports.classify(cell("t.yaml", "us-east-1", "d", report)) == reports.REPAIRED


def test_classify_interrupted_and_error():
    assert reports.classify(cell("t", "r", "d", deploy_report("green", status="interrupted"))) == reports.FAILED
    assert reports.classify(cell("t", "r", "d", None, error="ValueError: x")) == reports.ERROR


def test_summary_counts():
    summary = sample_run()["summary"]
    assert summary == {
        "cells": 6,
        "green_first_try": 3,
        "green_after_repair": 1,
        "failed": 1,
        "errors": 1,
        "missing": 0,
        "deployments": 1 + 1 + 2 + 1 + 0 + 2,
        "cell_time_s": 12.0,
        "wall_s": 7.5,
    }


def test_exit_codes():
    all_green = sample_run([c for c in sample_cells() if reports.classify(c) == reports.GREEN])
    assert reports.exit_code(all_green) == 0
    assert reports.exit_code(all_green, fail_on_repair=True) == 0
    with_repair = sample_run([c for c in sample_cells() if reports.classify(c) in (reports.GREEN, reports.REPAIRED)])
    assert reports.exit_code(with_repair) == 0
    assert reports.exit_code(with_repair, fail_on_repair=True) == 1
    assert reports.exit_code(sample_run()) == 1


def test_junit_structure_and_counts():
    root = ET.fromstring(reports.render_junit(sample_run()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "1")
    assert float(root.get("time")) == pytest.approx(12.0)
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == ["templates/bucket.yaml", "templates/legacy/deployer.json", "templates/queue.yaml"]
    queue = suites["templates/queue.yaml"]
    assert (queue.get("tests"), queue.get("failures"), queue.get("errors"), queue.get("skipped")) == ("3", "1", "1", "0")
    cases = {c.get("name"): c for c in queue.findall("testcase")}
    assert sorted(cases) == ["eu-west-1 [dev]", "us-east-1 [dev]", "us-east-1 [prod]"]
    assert all(c.get("classname") == "templates/queue.yaml" for c in cases.values())

    failure = cases["eu-west-1 [dev]"].find("failure")
    assert "Jobs (AWS::SQS::Queue): Queue name <jobs> | `weird` is already taken [unknown]" == failure.get("message")
    assert "attempt 1: ROLLBACK_COMPLETE" in failure.text
    error = cases["us-east-1 [dev]"].find("error")
    assert error.get("type") == "RuntimeError"
    assert error.get("message") == "RuntimeError: sandbox exploded <&>"
    assert cases["us-east-1 [prod]"].find("failure") is None and cases["us-east-1 [prod]"].find("error") is None


def test_junit_repairs_in_system_out_and_time():
    root = ET.fromstring(reports.render_junit(sample_run()))
    (case,) = root.find("testsuite[@name='templates/legacy/deployer.json']").findall("testcase")
    assert case.get("time") == "2.000"
    assert case.find("failure") is None
    out = case.find("system-out").text
    assert "attempt 1: managed-policy-fix-arn [managed-policy-not-attachable] on DeployRole" in out
    assert "+        \"ManagedPolicyArns\": [\"arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole\"]" in out
    assert "attempt 1: add-depends-on [missing-depends-on] on Group" in out
    assert '+ /Resources/Group/DependsOn: [' in out


def test_junit_of_an_empty_run_is_valid():
    root = ET.fromstring(reports.render_junit(sample_run([])))
    assert root.get("tests") == "0" and root.findall("testsuite") == []


def test_markdown_summary_table_and_analysis():
    text = markdown.render_markdown(sample_run(), playbooks=PLAYBOOKS)
    assert "| 6 | 3 | 1 | 1 | 1 | 7 | 7.5 s wall, 12.0 s in cells |" in text
    # Green cells get no analysis section; repaired, failed and crashed ones do.
    assert "## green after repair: templates/legacy/deployer.json, us-east-1 [dev]" in text
    assert "## failed: templates/queue.yaml, eu-west-1 [dev]" in text
    assert "## error: templates/queue.yaml, us-east-1 [dev]" in text
    assert "## green: templates/bucket.yaml" not in text
    assert "2 attempt(s), 1 rollback(s), 2 deployment(s)" in text
    assert "impact **critical**" in text
    assert "Error received: `Policy arn:aws:iam::aws:policy/AWSCodeDeployRole does not exist" in text
    assert "Root cause: The managed policy ARN does not name an attachable AWS managed policy." in text
    assert "AWS documentation: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html" in text
    assert "```diff\n--- templates/legacy/deployer.json" in text
    assert "```diff\n+ /Resources/Group/DependsOn: [" in text
    assert "Root cause: unknown (no playbook matched" in text
    assert "``` Queue name <jobs> | `weird` is already taken ```" not in text
    assert "`` Queue name <jobs> | `weird` is already taken ``" in text


def test_markdown_mermaid_from_report_when_no_template():
    text = markdown.render_markdown(sample_run(), playbooks=PLAYBOOKS)
    section = text.split("\n## green after repair")[1].split("\n## ")[0]
    assert "```mermaid\ngraph LR" in section
    assert "Group -->|DependsOn| App" in section
    assert "class DeployRole failed" in section


def test_markdown_uses_given_graphs_and_fields_in_the_report():
    run = sample_run()
    repaired_id = "templates/legacy/deployer.json|us-east-1|dev"
    run["cells"][[c["id"] for c in run["cells"]].index(repaired_id)]["report"]["attempts"][0]["failures"][0][
        "impact"
    ] = "low"
    text = markdown.render_markdown(run, playbooks=PLAYBOOKS, graphs={repaired_id: "graph TD\n  X --> Y"})
    assert "```mermaid\ngraph TD\n  X --> Y\n```" in text
    assert "`DeployRole`** (AWS::IAM::Role), impact **low**" in text


def test_markdown_all_green():
    run = sample_run([cell("a.yaml", "us-east-1", "d", deploy_report("green"))])
    assert "Every cell reached green with the templates as written." in markdown.render_markdown(run)


def test_json_round_trip_keeps_every_deploy_report():
    run = sample_run()
    data = json.loads(reports.render_json(run))
    assert data["kind"] == "cfn-autofix-verify"
    assert len(data["cells"]) == 6
    repaired = next(c for c in data["cells"] if c["outcome"] == reports.REPAIRED)
    assert repaired["report"] == deploy_report("repaired")


def test_merge_of_shards_equals_the_single_run_modulo_timings():
    cells = sample_cells()
    single = sample_run()
    first = sample_run([cells[0], cells[3], cells[5]], shard=(1, 2))
    second = sample_run([cells[1], cells[2], cells[4]], shard=(2, 2))
    merged = reports.merge_runs([("b.json", json.loads(reports.render_json(second))), ("a.json", first)])
    assert reports.strip_timings(merged["cells"]) == reports.strip_timings(single["cells"])
    assert reports.strip_timings(merged["summary"]) == reports.strip_timings(single["summary"])
    assert reports.render_junit(merged) == reports.render_junit(single)
    assert [m["file"] for m in merged["merged_from"]] == ["b.json", "a.json"]
    assert merged["shard"] is None


def test_merge_marks_cells_no_shard_reported_as_missing():
    cells = sample_cells()
    merged = reports.merge_runs([("a.json", sample_run(cells[:2], shard=(1, 3)))])
    assert merged["summary"]["missing"] == 4
    assert reports.exit_code(merged) == 1
    root = ET.fromstring(reports.render_junit(merged))
    assert root.get("errors") == "4"
    assert root.find(".//error").get("type") == "MissingResult"


@pytest.mark.parametrize(
    "case,runs,expected",
    [
        ("no-input", [], "at least one shard"),
        (
            "other-matrix",
            [("a.json", {"matrix_digest": "d1", "matrix_cells": [], "cells": []}),
             ("b.json", {"matrix_digest": "d2", "matrix_cells": [], "cells": []})],
            "b.json: shard is from another matrix",
        ),
        (
            "duplicate-cell",
            [("a.json", {"matrix_digest": "d1", "matrix_cells": ["x|r|d"], "cells": [{"id": "x|r|d"}]}),
             ("b.json", {"matrix_digest": "d1", "matrix_cells": ["x|r|d"], "cells": [{"id": "x|r|d"}]})],
            "cell 'x|r|d' is also reported by a.json",
        ),
    ],
)
def test_merge_rejects(case, runs, expected):
    with pytest.raises(BadInput, match=expected.replace("|", r"\|")):
        reports.merge_runs(runs)


@pytest.mark.parametrize(
    "case,text,expected",
    [
        ("not-json", "{", "s.json:1: not valid JSON"),
        ("not-a-verify-report", '{"status": "succeeded"}', "not a verify report"),
        ("wrong-version", '{"kind": "cfn-autofix-verify", "version": 99}', "unsupported verify report version 99"),
    ],
)
def test_load_run_rejects(case, text, expected):
    with pytest.raises(BadInput) as err:
        reports.load_run("s.json", text)
    assert expected in err.value.one_line()


def test_forecast_repairs_count_and_show_their_diff():
    forecasted = cell("templates/legacy/deployer.json", "us-east-1", "dev", deploy_report("forecasted"))
    assert reports.classify(forecasted) == reports.REPAIRED
    run = sample_run([forecasted])
    text = markdown.render_markdown(run, playbooks=PLAYBOOKS)
    assert "### Predicted before the first deployment (forecast)" in text
    assert "Repair `managed-policy-fix-arn` (playbook `managed-policy-not-attachable`) on `DeployRole`:" in text
    assert '+        "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"' in text
    out = ET.fromstring(reports.render_junit(run)).find(".//system-out").text
    assert "before deploying: managed-policy-fix-arn [managed-policy-not-attachable] on DeployRole" in out
    assert reports.exit_code(run, fail_on_repair=True) == 1


def test_a_repair_that_changes_nothing_is_not_a_repair():
    report = deploy_report("retried")
    report["attempts"][0]["repairs"] = [{"playbook": "missing-depends-on", "repair": "add-depends-on", "resources": ["Jobs"], "operations": []}]
    assert reports.classify(cell("t", "us-east-1", "d", report)) == reports.GREEN

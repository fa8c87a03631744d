"""Concurrency: verify with 8 workers over the same templates in several regions equals the 1-worker run, cells isolated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = [
    ROOT / "tests" / "fixtures" / "reliability" / "odd-anchors-unicode.yaml",
    ROOT / "tests" / "fixtures" / "reliability" / "odd-crlf-shortforms.yaml",
    ROOT / "tests" / "fixtures" / "reliability" / "odd-deep.json",
    ROOT / "tests" / "fixtures" / "reliability" / "route-race.yaml",  # fails, is repaired, redeploys
]
REGIONS = ["us-east-1", "eu-west-1"]


def run_matrix(tmp_path: Path, workers: int) -> dict:
    out = tmp_path / f"w{workers}"
    (tmp_path / "cfn-autofix.toml").write_text(
        f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n[deploy]\nforecast = false\n')
    result = CliRunner().invoke(app, ["--config", str(tmp_path / "cfn-autofix.toml"), "verify",
                                      *map(str, TEMPLATES), "--regions", ",".join(REGIONS), "--workers", str(workers),
                                      "--out-dir", str(out), "--report-json", str(out / "verify.json")])
    assert result.exit_code == 0, result.output[-3000:]
    return json.loads((out / "verify.json").read_text())


def comparable(cell: dict) -> dict:
    """What a cell's outcome is, without what legitimately differs between runs (ids, times, paths)."""
    report = cell["report"]
    repaired = report.get("repaired_template")
    return {
        "status": report["status"],
        "region": report["region"],
        "deployments": report["deployments"],
        "attempts": [
            {"stack_status": a["stack_status"],
             "failures": sorted((f["logical_id"], f["playbook"]) for f in a["failures"]),
             "repairs": [(r["repair"], json.dumps(r["operations"], sort_keys=True)) for r in a["repairs"]]}
            for a in report["attempts"]
        ],
        "repaired": load_template(repaired).document if repaired else None,
    }


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory):
    return run_matrix(tmp_path_factory.mktemp("one"), 1), run_matrix(tmp_path_factory.mktemp("eight"), 8)


def test_eight_workers_equal_one_worker(both_runs):
    one, eight = both_runs
    key = lambda cell: (cell["template"], cell["region"])  # noqa: E731 - a sort key
    assert len(one["cells"]) == len(eight["cells"]) == len(TEMPLATES) * len(REGIONS)
    assert sorted(map(key, one["cells"])) == sorted(map(key, eight["cells"]))
    by_cell = {key(cell): comparable(cell) for cell in one["cells"]}
    for cell in eight["cells"]:
        assert comparable(cell) == by_cell[key(cell)], key(cell)
    # The matrix is not trivial: one template needed a repair in every region, the others were green at once.
    repaired = [c for c in eight["cells"] if c["report"]["deployments"] > 1]
    assert {c["region"] for c in repaired} == set(REGIONS)


def test_no_cell_sees_another_cells_stacks(both_runs):
    _, eight = both_runs
    names = [cell["report"]["stack_name"] for cell in eight["cells"]]
    assert len(set(names)) == len(names), "every cell has its own stack"
    for cell in eight["cells"]:
        report = cell["report"]
        own = set(load_template(cell["template"]).resources)
        seen = {f["logical_id"] for a in report["attempts"] for f in a["failures"]}
        seen |= {r["logical_id"] for r in report.get("emulated_resources") or []}
        assert seen <= own, f"{cell['template']} in {cell['region']} saw resources of another stack: {seen - own}"
        assert report["region"] == cell["region"]
        for unknown in report.get("unknown") or []:
            assert all(event["logical_id"] in own | {report["stack_name"]} for event in unknown.get("events", []))

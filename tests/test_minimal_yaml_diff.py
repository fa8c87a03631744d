"""A YAML repair changes only the lines it adds: six DependsOn on six routes is a six-line diff."""

from __future__ import annotations

import difflib
from pathlib import Path

from orchestrator.forecast.run import forecast, forecast_and_fix
from orchestrator.template import load_template

FIXTURES = Path(__file__).parent / "fixtures" / "repairs"


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_six_depends_on_repair_changes_exactly_six_lines():
    source = FIXTURES / "six_routes.yaml"
    text = source.read_text()
    result = forecast_and_fix(load_template(source), region="us-east-1")
    assert sorted(f.logical_id for f in result.findings) == ["RouteA", "RouteA6", "RouteB", "RouteB6", "RouteC", "RouteC6"]
    rendered = result.template.dumps()
    changed = _changed_lines(text, rendered)
    assert len(changed) == 6
    assert changed == ["+    DependsOn: Attach"] * 6  # only additions: every other line byte for byte
    assert rendered == (FIXTURES / "six_routes.expected.yaml").read_text()
    assert source.read_text() == text  # the input is never modified


def test_repaired_yaml_is_clean_and_a_second_fix_changes_nothing(tmp_path):
    repaired = tmp_path / "six_routes.fixed.yaml"
    repaired.write_text((FIXTURES / "six_routes.expected.yaml").read_text())
    template = load_template(repaired)
    assert forecast(template, region="us-east-1") == []
    again = forecast_and_fix(template, region="us-east-1")
    assert again.template.dumps() == repaired.read_text()

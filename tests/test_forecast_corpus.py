"""The forecast on real public templates: a six-DependsOn repair is a six-line diff, a false condition gives
no finding, and the races it reports are exactly the ones the manifest records (issue 18).

The template files are not committed (tests/corpora/README.md); the golden diff holds only the lines the
repair adds, with their positions.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest

from orchestrator.errors import AutofixError
from orchestrator.forecast.run import forecast, forecast_and_fix
from orchestrator.template import load_template

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpora"))
import corpus_files  # noqa: E402  (the manifest is committed; the template files are located, never committed)

GOLDEN = Path(__file__).parent / "golden" / "corpus"
ENTRIES = {e["id"]: e for e in corpus_files.manifest()["templates"]}
MISSING = "corpus files not materialized: python tests/corpora/corpus_files.py --mirror-root DIR"


def corpus_template(entry_id: str):
    path = corpus_files.template_path(ENTRIES[entry_id])
    if path is None:
        pytest.skip(MISSING)
    return path


def test_six_depends_on_repair_of_a_public_yaml_template_changes_six_lines():
    entry = ENTRIES["cfn-s3-compliant-static-website"]
    path = corpus_template(entry["id"])
    text = path.read_text()
    result = forecast_and_fix(load_template(path), region="us-east-1", parameters=entry["parameters"])
    diff = difflib.unified_diff(text.splitlines(), result.template.dumps().splitlines(), lineterm="", n=0)
    hunks = [line for line in diff if not line.startswith(("---", "+++"))]
    assert hunks == (GOLDEN / "cfn-s3-compliant-static-website.diff").read_text().splitlines()
    assert len([line for line in hunks if line.startswith(("+", "-"))]) == 6
    assert path.read_text() == text


@pytest.mark.parametrize("create_mq, flagged", [("true", ["MQRoute"]), ("false", [])])
def test_a_resource_whose_condition_is_false_gives_no_finding(create_mq, flagged):
    # MQRoute (Condition: ShouldCreateMq) routes through the gateway with nothing ordering it after the
    # attachment; with CreateMqBroker=false it is not created, so there is nothing to forecast.
    template = load_template(corpus_template("sam-integ-companion-stack"))
    found = forecast(template, region="us-east-1", parameters={"CreateMqBroker": create_mq})
    assert [f.logical_id for f in found if f.playbook.startswith("missing-depends-on")] == flagged
    assert all(f.severity == "error" for f in found)


@pytest.mark.slow
def test_race_findings_are_exactly_the_races_the_manifest_records():
    available = corpus_files.available()
    if len(available) < len(ENTRIES):
        pytest.skip(MISSING)
    reported, recorded = set(), set()
    region = corpus_files.manifest().get("region", "us-east-1")
    for entry, path in available:
        recorded |= {(entry["id"], race["resource"]) for race in entry["expected"].get("races") or []}
        try:
            template = load_template(path)
        except AutofixError:  # Fn::ForEach is not forecast yet (cfn-foreach-ddb); the bench lists it
            continue
        found = forecast(template, region=region, parameters=dict(entry.get("parameters") or {}))
        reported |= {(entry["id"], f.logical_id) for f in found
                     if f.severity == "error" and f.details.get("timing") == "race"}
    assert reported == recorded

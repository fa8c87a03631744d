"""The failure corpus is well-formed data: every line sourced and classed, every class documented, events files as the CLI writes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpora" / "failures"
FIELDS = {"id", "message", "resource_type", "resource_status", "class", "root_cause", "source_url", "source_title", "origin"}
CONTRACT = {
    "managed-policy-not-attachable", "logs-kms-key-policy", "missing-depends-on", "transient", "iam-eventual-consistency",
    "name-already-exists", "name-invalid", "lambda-runtime-deprecated", "quota-exceeded", "bucket-not-empty", "export-in-use",
    "export-not-found", "ssm-parameter-not-found", "capacity-unavailable", "cidr-invalid", "kms-key-unusable",
    "certificate-not-ready", "stabilization-timeout", "custom-resource-failed", "replacement-of-named-resource",
    "rollback-failed", "resource-not-found", "access-denied", "invalid-property", "parameter-invalid", "template-invalid",
    "policy-version-missing",
}
EVENT_KEYS = {"StackId", "EventId", "StackName", "LogicalResourceId", "PhysicalResourceId", "ResourceType", "Timestamp", "ResourceStatus"}


def _rows() -> list[dict]:
    return [json.loads(line) for line in (CORPUS / "messages.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def _documented_classes() -> set[str]:
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", (CORPUS / "CLASSES.md").read_text(encoding="utf-8"), re.MULTILINE))


def test_every_line_has_the_fields_a_unique_id_and_a_source():
    rows = _rows()
    assert len(rows) >= 200
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert set(row) >= FIELDS, row["id"]
        assert row["message"].strip() and row["root_cause"].strip(), row["id"]
        assert row["source_url"].startswith("https://"), row["id"]
        assert re.fullmatch(r"(AWS|Custom|Community)::[\w:]+", row["resource_type"]), row["id"]
        assert re.fullmatch(r"[A-Z_]+", row["resource_status"]), row["id"]
        assert not row.get("synthetic"), row["id"]


def test_classes_cover_the_contract_and_are_all_documented():
    classes = {row["class"] for row in _rows()}
    assert CONTRACT <= classes
    assert len(classes - {"cascade"}) >= 30
    assert "unknown" not in classes
    assert classes == _documented_classes()


def test_documented_counts_match_the_corpus():
    counts: dict[str, int] = {}
    for row in _rows():
        counts[row["class"]] = counts.get(row["class"], 0) + 1
    table = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (\d+) \|", (CORPUS / "CLASSES.md").read_text(encoding="utf-8"), re.MULTILINE))
    assert {cls: int(n) for cls, n in table.items()} == counts


def _events_files() -> list[Path]:
    return sorted(p for p in (CORPUS / "events").glob("*.json") if p.name not in ("index.json", "sources.json"))


@pytest.mark.parametrize("path", _events_files(), ids=lambda p: p.name)
def test_events_file_has_the_cli_shape_newest_first(path: Path):
    events = json.loads(path.read_text(encoding="utf-8"))["StackEvents"]
    assert events
    for event in events:
        assert EVENT_KEYS <= set(event), (path.name, event.get("EventId"))
    stamps = [event["Timestamp"] for event in events]
    assert stamps == sorted(stamps, reverse=True)
    assert len({event["EventId"] for event in events}) == len(events)


def test_index_names_every_events_file_and_a_root_cause_present_in_it():
    index = json.loads((CORPUS / "events" / "index.json").read_text(encoding="utf-8"))
    classes = {row["class"] for row in _rows()} - {"cascade"}
    assert set(index) == {p.name for p in _events_files()}
    assert classes <= {cause["class"] for causes in index.values() for cause in causes}
    for name, causes in index.items():
        for cause in causes:
            source = CORPUS / "events" / cause.get("stack", name)
            logical_ids = {e["LogicalResourceId"] for e in json.loads(source.read_text(encoding="utf-8"))["StackEvents"]}
            assert cause["logical_id"] in logical_ids, (name, cause)

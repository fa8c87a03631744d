"""The real-template corpus manifest stays complete, consistent with its files, and honest about its sources."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

try:
    from orchestrator.template import load_template
except ImportError:  # before the issue-14 layout
    from orchestrator.template_io import load_template

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpora"))
import corpus_files  # noqa: E402

MANIFEST = corpus_files.manifest()
ENTRIES = MANIFEST["templates"]
PERMISSIVE = {"Apache-2.0", "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "CC0-1.0"}
KINDS = {"vpc", "subnet", "security-group", "keypair", "hosted-zone", "image", "availability-zone", "s3-artifact",
         "local-artifact", "import-value", "nested-stack", "ssm-parameter", "certificate"}


def test_corpus_is_large_and_varied():
    assert len(ENTRIES) >= 60
    assert len({e["repo"] for e in ENTRIES}) >= 10
    assert any(e["sam"] for e in ENTRIES) and any(not e["sam"] for e in ENTRIES)
    assert {e["format"] for e in ENTRIES} == {"json", "yaml"}


def test_ids_unique_and_subsets_name_entries():
    ids = [e["id"] for e in ENTRIES]
    assert len(ids) == len(set(ids))
    for name, members in MANIFEST["subsets"].items():
        assert members and set(members) <= set(ids), name


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["id"])
def test_entry_is_consistent_with_its_file(entry):
    assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"])
    assert entry["url"] == f"https://github.com/{entry['repo']}/blob/{entry['commit']}/{entry['path']}"
    assert entry["license"] in PERMISSIVE
    for kind in entry["prerequisites"]:
        assert kind in KINDS or kind.startswith("other:"), kind
    expected = entry["expected"]
    assert expected["outcome"] in ("green", "failure") and expected["why"]
    assert (expected["outcome"] == "failure") == bool(expected.get("class"))
    assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
    path = corpus_files.template_path(entry)
    if path is None:  # the files are not committed (see corpus_files.py); the manifest alone is checked
        return
    if entry["id"] == "cfn-foreach-ddb":  # Fn::ForEach: template_io does not expand it yet
        return
    tpl = load_template(path)
    declared = tpl.document.get("Parameters") or {}
    required = {name for name, spec in declared.items() if "Default" not in spec}
    assert required <= set(entry["parameters"]), "a parameter without a Default has no value"
    assert set(entry["parameters"]) <= set(declared)
    assert len(tpl.document["Resources"]) == entry["resource_count"]
    assert tpl.fmt == entry["format"]
    transforms = tpl.document.get("Transform") or []
    transforms = transforms if isinstance(transforms, list) else [transforms]
    assert ("AWS::Serverless-2016-10-31" in transforms) == entry["sam"]
    for other in entry.get("exports_from", []):
        assert other in {e["id"] for e in ENTRIES}


def test_corpus_files_are_not_committed():
    """Fetched third-party templates stay out of the repository's commits; only the manifest is tracked."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files", "tests/corpora/templates"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.split()
    assert sorted(tracked) == ["tests/corpora/templates/README.md", "tests/corpora/templates/manifest.json"]

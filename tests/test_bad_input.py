"""Bad templates through `cfn-autofix graph`: exit 2, one stderr line naming file and line, no traceback, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app

BILLION_LAUGHS = """\
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
Resources:
  A:
    Type: AWS::SNS::Topic
    Metadata: *g
"""

OK_RESOURCE = "Resources:\n  A:\n    Type: AWS::SNS::Topic\n"


def deep_yaml(levels: int) -> str:
    return OK_RESOURCE + "    Metadata: " + "[" * levels + "]" * levels + "\n"


CASES = [
    # case id, file name, content (str, bytes, or None for "do not create"), expected message part, expected line
    ("missing-file", "absent.yaml", None, "template file not found", None),
    ("directory", "adir.yaml", "DIR", "is a directory", None),
    ("not-utf8", "latin.yaml", b"Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Description: caf\xe9\n", "not UTF-8", 4),
    ("invalid-json", "bad.json", '{\n  "Resources": {\n    "A": {"Type": "AWS::SNS::Topic",}\n  }\n}\n', "invalid JSON", 3),
    ("invalid-yaml", "bad.yaml", OK_RESOURCE + "    Properties: {TopicName: [x\n", "invalid YAML", 5),
    ("unknown-tag", "tag.yaml", OK_RESOURCE + "    Properties:\n      TopicName: !Bogus x\n", "unknown tag !Bogus", 5),
    ("duplicate-key-yaml", "dup.yaml", OK_RESOURCE + "  A:\n    Type: AWS::SQS::Queue\n", "duplicate key 'A'", 4),
    ("duplicate-key-json", "dup.json", '{"Resources": {\n "A": {"Type": "T::A::A"},\n "A": {"Type": "T::B::B"}}}', "duplicate key 'A'", 3),
    ("top-level-list", "list.yaml", "- a\n- b\n", "not a mapping", 1),
    ("empty-file", "empty.yaml", "", "not a mapping", None),
    ("no-resources", "nores.yaml", "Parameters:\n  P: {Type: String}\n", "no Resources section", 1),
    ("empty-resources", "emptyres.yaml", "Resources: {}\n", "at least one resource", 1),
    ("resource-without-type", "notype.yaml", "Resources:\n  A:\n    Type: AWS::SNS::Topic\n  B:\n    Properties: {}\n",
     "resource 'B' has no Type", 4),
    ("too-large", "huge.yaml", OK_RESOURCE + "    Metadata:\n      Blob: " + "x" * 1_000_001 + "\n", "over the 1,000,000-byte limit", None),
    ("alias-bomb", "bomb.yaml", BILLION_LAUGHS, "alias", None),
    ("absurd-nesting", "deep.yaml", deep_yaml(5000), "nesting", 4),
    ("nesting-over-our-bound", "deep150.yaml", deep_yaml(150), "nesting deeper than 100 levels", 4),
    ("absurd-nesting-json", "deep.json",
     '{"Resources": {"A": {"Type": "T::A::A", "Metadata": ' + "[" * 5000 + "]" * 5000 + "}}}", "nesting", None),
    ("dangling-ref", "ref.yaml", OK_RESOURCE + "    Properties:\n      TopicName: !Ref Foo\n",
     "Ref to unknown resource or parameter 'Foo'", 5),
    ("dangling-depends-on", "dep.yaml", OK_RESOURCE + "    DependsOn: Nope\n", "DependsOn names unknown resource 'Nope'", 4),
    ("cycle", "cycle.yaml",
     "Resources:\n  A:\n    Type: T::A::A\n    DependsOn: B\n  B:\n    Type: T::B::B\n    Properties: {X: !Ref A}\n",
     "dependency cycle: A -> B -> A", 4),
]


@pytest.mark.parametrize("case_id, name, content, message, line", CASES)
def test_bad_template_exits_2_with_one_line(case_id, name, content, message, line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "graph-out.json"

    result = CliRunner().invoke(app, ["graph", str(path), "--out", str(out)])

    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    where = f"{path}:{line}: " if line else f"{path}: "
    assert lines[0].startswith(f"cfn-autofix: error: {where}"), lines[0]
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    assert not out.exists()


def test_good_template_still_works_after_the_bad_ones(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(OK_RESOURCE)
    result = CliRunner().invoke(app, ["graph", str(path)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["nodes"] == [{"id": "A", "kind": "resource", "type": "AWS::SNS::Topic"}]


def test_unknown_highlight_is_bad_input(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(OK_RESOURCE)
    result = CliRunner().invoke(app, ["graph", str(path), "--highlight", "Nope"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"cfn-autofix: error: {path}: --highlight: no node 'Nope' in the graph"]


def test_bad_project_config_is_one_line_naming_key_and_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfn-autofix.toml").write_text("[deploy]\nmax_attempts = 'many'\n")
    path = tmp_path / "ok.yaml"
    path.write_text(OK_RESOURCE)
    result = CliRunner().invoke(app, ["graph", str(path)])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "deploy.max_attempts" in line and str(Path("cfn-autofix.toml")) in line

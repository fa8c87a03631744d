"""`cfn-autofix forecast`: text / JSON / SARIF output, exit codes, --fix writing NAME.fixed.EXT, bad input."""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.forecast.run import forecast
from orchestrator.template import load_template

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "forecast"


REMAINING_AFTER_FIX = {
    "broken-network.yaml": {("logs-kms-key-policy", "DebugLogGroup")},
    "broken-pipeline.json": {
        ("managed-policy-not-attachable", "ConfigRecorderRole"),
        ("managed-policy-not-attachable", "AuditRole"),
    },
}


def invoke(*args: str):
    return CliRunner().invoke(app, ["forecast", *args])


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(FIXTURES / name, target)
    return target


def test_text_lists_file_line_playbook_message_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = copy(tmp_path, "broken-pipeline.json")
    result = invoke(path.name)
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert "broken-pipeline.json:70: managed-policy-not-attachable: CodeDeployServiceRole: " in result.stdout
    assert all(line.startswith("broken-pipeline.json:") for line in lines)


def test_a_correct_template_exits_0(tmp_path):
    result = invoke(str(FIXTURES / "good-ecs.yaml"))
    assert result.exit_code == 0, result.stderr
    # One line says the forecast ran and found nothing.
    [line] = result.stdout.splitlines()
    assert re.fullmatch(re.escape(f"{FIXTURES / 'good-ecs.yaml'}: no known failure forecast (") + r"\d+ playbooks\)", line)


def test_json_output(tmp_path):
    result = invoke(str(FIXTURES / "broken-network.yaml"), "--format", "json", "--region", "eu-west-1")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["region"] == "eu-west-1"
    assert {"playbook", "logical_id", "resource_type", "message", "line", "fixable"} <= set(data["findings"][0])
    assert {(f["playbook"], f["logical_id"]) for f in data["findings"]} >= {("missing-depends-on", "PublicRoute")}


def test_sarif_output_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = copy(tmp_path, "broken-network.yaml")
    result = invoke(path.name, "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    schema = json.loads((HERE / "fixtures" / "sarif-schema-subset.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]} == {
        "broken-network.yaml"
    }


@pytest.mark.parametrize("case", ["broken-network.yaml", "broken-pipeline.json"])
def test_fix_writes_name_fixed_ext_and_leaves_the_input(case, tmp_path):
    path = copy(tmp_path, case)
    original = path.read_bytes()
    result = invoke(str(path), "--fix")
    assert result.exit_code == 1  # findings were found (and repaired)
    assert path.read_bytes() == original
    fixed_path = path.with_name(path.stem + ".fixed" + path.suffix)
    assert f"wrote {fixed_path}" in result.stderr
    fixed = load_template(fixed_path)
    assert fixed.fmt == load_template(path).fmt
    remaining = {(f.playbook, f.logical_id) for f in forecast(fixed)}
    # Left: what no repair can fix, and the renamed policy the default inline strategy will not replace.
    assert remaining == REMAINING_AFTER_FIX[case]
    if case.endswith(".yaml"):
        # Minimal diff: every original line is still there, in order; only DependsOn lines were added.
        diff = list(difflib.ndiff(path.read_text().splitlines(), fixed_path.read_text().splitlines()))
        assert [line for line in diff if line.startswith("- ")] == []
        added = [line[2:] for line in diff if line.startswith("+ ")]
        assert len(added) == 9 and all(line.strip().startswith("DependsOn: ") for line in added)


def test_fix_to_out_path_in_json(tmp_path):
    path = copy(tmp_path, "broken-network.yaml")
    out = tmp_path / "repaired.yaml"
    result = invoke(str(path), "--fix", "--out", str(out), "--format", "json")
    data = json.loads(result.stdout)
    assert data["repaired_template"] == str(out)
    assert [r["repair"] for r in data["repairs"]] == ["add-depends-on"]
    assert data["rejected_repairs"] == []
    assert out.exists() and not path.with_name("broken-network.fixed.yaml").exists()


@pytest.mark.parametrize(
    "case,args,message",
    [
        ("missing-file", ["nope.yaml"], "nope.yaml"),
        ("out-without-fix", ["{good}", "--out", "x.yaml"], "needs --fix"),
        ("out-is-input", ["{good}", "--fix", "--out", "{good}"], "overwrite the input"),
        ("out-dir-missing", ["{good}", "--fix", "--out", "no/such/dir/x.yaml"], "existing directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(case, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = copy(tmp_path, "good-vpc.yaml")
    result = invoke(*[a.format(good=good.name) for a in args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.stderr


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {a: [}\n")
    result = invoke(str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"cfn-autofix: error: {path}:4")

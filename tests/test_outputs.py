"""Output paths: refused before any work when they are an input, another output of the run, or a special file."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import BadInput
from orchestrator.paths import check_outputs, same_file

TOPIC = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
# A template the forecast repairs, so a deploy writes a repaired template.
BROKEN = """\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: codedeploy.amazonaws.com}, Action: "sts:AssumeRole"}]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AWSCodeDeployRole]
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text(TOPIC)
    (tmp_path / "e.yaml").write_text(BROKEN)
    (tmp_path / "cfn-autofix.toml").write_text(f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    return tmp_path


def run(args):
    return CliRunner().invoke(app, args)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("{")]


def unchanged(work, name, text):
    assert (work / name).read_text() == text, f"{name} was modified"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "small.yaml", "--report-json", "small.yaml"], "--report-json would overwrite the input"),
        (["deploy", "small.yaml", "--out", "small.yaml"], "--out would overwrite the input"),
        (["deploy", "small.yaml", "--out", "./sub/../small.yaml"], "--out would overwrite the input"),
        (["deploy", "small.yaml", "--out", "r.json", "--report-json", "r.json"], "name the same file"),
        (["graph", "small.yaml", "--out", "small.yaml"], "--out would overwrite the input"),
        (["forecast", "small.yaml", "--fix", "--out", "small.yaml"], "--out would overwrite the input"),
        (["verify", "small.yaml", "--junit", "small.yaml"], "--junit would overwrite the input"),
        (["verify", "small.yaml", "--junit", "r.xml", "--report-md", "r.xml"], "name the same file"),
        (["verify", "small.yaml", "--report-json", "small.yaml"], "--report-json would overwrite the input"),
    ],
)
def test_an_output_onto_an_input_or_another_output_is_refused_before_any_work(work, args, message):
    (work / "sub").mkdir()
    result = run(args)
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 1 and message in lines[0], lines
    unchanged(work, "small.yaml", TOPIC)
    assert not (work / "journal.jsonl").exists(), "nothing may be deployed"
    assert not (work / "r.json").exists() and not (work / "r.xml").exists()


def test_report_json_onto_the_default_repaired_template_is_refused(work):
    result = run(["deploy", "e.yaml", "--report-json", "e.fixed.yaml"])
    assert result.exit_code == 2, result.output
    assert "--report-json and --out (the repaired template) name the same file" in result.stderr
    assert not (work / "e.fixed.yaml").exists() and not (work / "journal.jsonl").exists()


def test_symlink_and_hard_link_to_the_input_are_the_input(work):
    os.symlink(work / "small.yaml", work / "link.yaml")
    os.link(work / "small.yaml", work / "hard.yaml")
    for alias in ("link.yaml", "hard.yaml"):
        result = run(["graph", "small.yaml", "--out", alias])
        assert result.exit_code == 2 and "would overwrite the input" in result.stderr, result.output
    unchanged(work, "small.yaml", TOPIC)


def test_a_params_file_is_an_input_too(work):
    (work / "p.json").write_text("{}")
    result = run(["deploy", "small.yaml", "--params-file", "p.json", "--report-json", "p.json"])
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert (work / "p.json").read_text() == "{}"


@pytest.mark.parametrize("special", ["fifo", "dir", "dev"])
def test_special_files_are_not_outputs(work, special):
    path = {"fifo": work / "pipe", "dir": work / "d", "dev": "/dev/null"}[special]
    if special == "fifo":
        os.mkfifo(path)
    elif special == "dir":
        os.mkdir(path)
    result = run(["graph", "small.yaml", "--out", str(path)])
    assert result.exit_code == 2, result.output
    assert "not a file an output can be written to" in result.stderr


def test_report_merge_refuses_an_output_onto_a_shard(work):
    (work / "shard.json").write_text("{}")
    result = run(["report", "merge", "shard.json", "--report-md", "shard.json"])
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert (work / "shard.json").read_text() == "{}"


def test_library_deploy_checks_outputs_before_deploying(work):
    from orchestrator.deploy.loop import deploy_with_autofix

    with pytest.raises(BadInput, match="would overwrite the input"):
        deploy_with_autofix(work / "small.yaml", report_json=work / "small.yaml")
    unchanged(work, "small.yaml", TOPIC)


def test_same_file_and_check_outputs_units(tmp_path):
    a = tmp_path / "a"
    a.write_text("x")
    assert same_file(a, tmp_path / "." / "a") and not same_file(a, tmp_path / "b")
    check_outputs([a, None, "-"], {"--x": tmp_path / "b", "--y": None, "--z": tmp_path / "c"})

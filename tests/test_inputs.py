"""Inputs: regular files or stdin only, a byte limit held while reading, CloudFormation's name rules and quotas,
AllowedValues, and no terminal control from a template reaching the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.deploy.loop import template_body
from orchestrator.template.decode import MAX_BYTES

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "orchestrator"]
TOPIC = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
ESC = "\x1b"


def cli(args, *, stdin=None, cwd=None, timeout=120):
    """The real command in a subprocess: a hang becomes a TimeoutExpired, never a stuck suite."""
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, timeout=timeout, cwd=cwd or ROOT)


def one_error_line(proc) -> str:
    lines = [line for line in proc.stderr.decode().splitlines() if not line.startswith("{")]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "t.yaml"
    os.mkfifo(fifo)
    proc = cli(["graph", str(fifo)])
    assert proc.returncode == 2
    assert one_error_line(proc) == f"cfn-autofix: error: {fifo}: is a FIFO, not a regular file; give a file, or - for stdin"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_are_refused_at_once(device):
    proc = cli(["graph", device])
    assert proc.returncode == 2
    assert "is a character device, not a regular file" in one_error_line(proc)


def test_a_huge_pipe_on_stdin_stops_at_the_limit():
    proc = cli(["graph", "-"], stdin=b"# " + b"x" * (50 * 1024 * 1024))
    assert proc.returncode == 2
    assert one_error_line(proc) == ("cfn-autofix: error: <stdin>: template file on stdin is over the 1,000,000-byte "
                                    "limit (stopped reading there)")


def test_a_template_on_stdin_is_read():
    proc = cli(["graph", "-"], stdin=TOPIC.encode())
    assert proc.returncode == 0, proc.stderr
    assert "Topic" in json.loads(proc.stdout)["nodes"][0]["id"] or "Topic" in proc.stdout.decode()


def test_the_size_error_names_the_file_and_its_real_size(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(TOPIC + "Metadata:\n  Blob: " + "x" * 1_200_000 + "\n")
    size = big.stat().st_size
    result = CliRunner().invoke(app, ["graph", str(big)])
    assert result.exit_code == 2
    assert f"{big}: template file is {size:,} bytes, over the 1,000,000-byte limit" in result.stderr


def test_a_template_within_the_limit_is_never_refused_for_our_formatting():
    # Many small resources: indented JSON would be ~1.5x the compact size (the 863,536 -> 1,313,608 report).
    document = {"Resources": {f"Q{i}": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [
        {"Key": "k", "Value": "v"}] * 40}} for i in range(495)}}
    compact = len(json.dumps(document, separators=(",", ":")).encode())
    indented = len(json.dumps(document, indent=1).encode())
    assert compact < MAX_BYTES < indented
    assert len(template_body(document).encode()) <= MAX_BYTES


def _resources(n: int) -> str:
    return "Resources:\n" + "".join(f"  R{i}:\n    Type: AWS::SNS::Topic\n" for i in range(n))


@pytest.mark.parametrize(
    ("case", "text", "message"),
    [
        ("underscore", "Resources:\n  My_Topic:\n    Type: AWS::SNS::Topic\n",
         "Template format error: Resource name My_Topic is non alphanumeric."),
        ("rtl", "Resources:\n  Topic\u202eevil:\n    Type: AWS::SNS::Topic\n",
         "Template format error: Resource name Topic\\u202eevil is non alphanumeric."),
        ("escape", 'Resources:\n  "Topic\\e]0;pwned\\a\\e[2J":\n    Type: AWS::SNS::Topic\n',
         "Template format error: Resource name Topic\\x1b]0;pwned\\x07\\x1b[2J is non alphanumeric."),
        ("non-ascii-letter", "Resources:\n  Topicé:\n    Type: AWS::SNS::Topic\n",
         "Template format error: Resource name Topicé is non alphanumeric."),
        ("parameter", "Parameters:\n  my-param:\n    Type: String\n" + TOPIC,
         "Template format error: Parameter name my-param is non alphanumeric."),
        ("output", TOPIC + "Outputs:\n  out.put:\n    Value: x\n",
         "Template format error: Output name out.put is non alphanumeric."),
        ("long-name", f"Resources:\n  {'A' * 256}:\n    Type: AWS::SNS::Topic\n", "is 256 characters long"),
        ("501-resources", _resources(501),
         "Template format error: Number of resources, 501, is greater than maximum allowed, 500"),
        ("201-parameters", "Parameters:\n" + "".join(f"  P{i}:\n    Type: String\n    Default: x\n" for i in range(201))
         + TOPIC, "Template format error: Number of parameters, 201, is greater than maximum allowed, 200"),
        ("201-outputs", TOPIC + "Outputs:\n" + "".join(f"  O{i}:\n    Value: x\n" for i in range(201)),
         "Template format error: Number of outputs, 201, is greater than maximum allowed, 200"),
    ],
)
def test_names_and_quotas_as_cloudformation_checks_them(tmp_path, case, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["deploy", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and message in lines[0], lines
    assert ESC not in result.stderr


def test_500_resources_and_255_character_names_are_fine(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(_resources(499) + f"  {'A' * 255}:\n    Type: AWS::SNS::Topic\n")
    assert CliRunner().invoke(app, ["graph", str(path)]).exit_code == 0


ALLOWED = """\
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
    Default: {default}
  Secret:
    Type: String
    NoEcho: true
    AllowedValues: [alpha1, beta2]
    Default: alpha1
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


@pytest.mark.parametrize(
    ("default", "args", "name"),
    [("dev", ["--param", "Env=staging"], "Env"), ("test", [], "Env"), ("dev", ["--param", "Secret=gamma3"], "Secret")],
)
def test_allowed_values_are_enforced_before_deploying(tmp_path, monkeypatch, default, args, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfn-autofix.toml").write_text(f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    (tmp_path / "t.yaml").write_text(ALLOWED.format(default=default))
    result = CliRunner().invoke(app, ["deploy", "t.yaml", *args])
    assert result.exit_code == 2, result.output
    assert f"Parameter '{name}' must be one of AllowedValues" in result.stderr
    assert "gamma3" not in result.stderr
    assert not (tmp_path / "journal.jsonl").exists()


EVIL_TYPE = 'Resources:\n  Topic:\n    Type: "AWS::SNS::Topic\\e]0;owned\\a\\e[2J"\n'
BROKEN_ROLE = """\
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: codedeploy.amazonaws.com}, Action: "sts:AssumeRole"}]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AWSCodeDeployRole]
"""


def test_no_terminal_control_reaches_the_terminal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfn-autofix.toml").write_text(f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    evil_name = f"evil{ESC}]0;title\a{ESC}[2J.yaml"
    (tmp_path / evil_name).write_text(BROKEN_ROLE)
    (tmp_path / "type.yaml").write_text(EVIL_TYPE)
    runner = CliRunner()
    outputs = {
        "forecast": runner.invoke(app, ["forecast", evil_name]),
        "graph mermaid": runner.invoke(app, ["graph", "type.yaml", "-f", "mermaid"]),
        "graph dot": runner.invoke(app, ["graph", "type.yaml", "-f", "dot"]),
        "deploy summary": runner.invoke(app, ["deploy", evil_name, "--out", "fixed.yaml"]),
    }
    for name, result in outputs.items():
        assert result.exit_code in (0, 1), (name, result.output)
        assert ESC not in result.stdout and "\a" not in result.stdout, name
    assert "\\x1b]0;title\\x07" in outputs["forecast"].stdout
    assert "\\x1b[2J" in outputs["graph mermaid"].stdout

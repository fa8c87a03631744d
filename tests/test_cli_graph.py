"""`cfn-autofix graph` end to end through typer's CliRunner, plus the global options and logging set-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.logs import configure_logging, get_logger, noecho_parameters
from orchestrator.redact import Redactor

FIXTURES = Path(__file__).parent / "fixtures" / "templates"


@pytest.mark.parametrize("name", ["vpc.yaml", "pipeline.json", "sam.yaml"])
def test_graph_json_shape(name):
    result = CliRunner().invoke(app, ["graph", str(FIXTURES / name)])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"nodes", "edges"}
    for node in data["nodes"]:
        assert {"id", "kind", "type"} <= set(node)
    ids = {node["id"] for node in data["nodes"]}
    for edge in data["edges"]:
        assert {"source", "target", "kind", "path"} <= set(edge)
        assert edge["source"] in ids and edge["target"] in ids
        assert edge["path"].startswith("/")


def test_graph_dot_with_highlight_to_file(tmp_path):
    out = tmp_path / "g.dot"
    result = CliRunner().invoke(
        app, ["graph", str(FIXTURES / "vpc.yaml"), "--format", "dot", "--highlight", "GatewayAttachment",
              "--highlight", "NatGateway", "--out", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    dot = out.read_text()
    assert '"GatewayAttachment" [label="GatewayAttachment\\nAWS::EC2::VPCGatewayAttachment", shape=box, style=filled' in dot
    assert '"NatGateway" [label="NatGateway\\nAWS::EC2::NatGateway", shape=box, style=filled' in dot
    assert '"PublicDefaultRoute" -> "GatewayAttachment" [label="DependsOn", style=dotted' in dot


def test_graph_mermaid():
    result = CliRunner().invoke(app, ["graph", str(FIXTURES / "nested.yaml"), "-f", "mermaid", "--highlight", "AppStack"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("flowchart LR\n")
    assert '"AppStack<br/>AWS::CloudFormation::Stack"' in result.stdout
    assert "class n1 highlight" in result.stdout


def test_global_options_log_json_and_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[log]\nlevel = 'debug'\n")
    result = CliRunner().invoke(app, ["--log-json", "--config", str(config), "graph", str(FIXTURES / "sam.yaml")])
    assert result.exit_code == 0, result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[log]\nlevel = 'loud'\n")
    result = CliRunner().invoke(app, ["--config", str(bad), "graph", str(FIXTURES / "sam.yaml")])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"cfn-autofix: error: config key 'log.level' must be one of debug, info, warning, error, not 'loud' ({bad})"
    ]


def test_console_script_module_entry_exit_code(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("Resources:\n  A:\n    Type: T::A::A\n    Properties: {X: !Ref Missing}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "graph", str(bad)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr == f"cfn-autofix: error: {bad}:4: Ref to unknown resource or parameter 'Missing'\n"
    assert proc.stdout == ""


def test_logs_are_json_lines_on_stderr_with_bound_fields(capsys):
    configure_logging(json=True, level="info")
    log = get_logger(run_id="r1", stack="s")
    log.info("stack_event", logical_id="A", status="CREATE_COMPLETE")
    log.debug("not_shown")
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    record = json.loads(line)
    assert record["event"] == "stack_event" and record["run_id"] == "r1" and record["logical_id"] == "A"
    assert record["level"] == "info" and "timestamp" in record
    structlog.get_logger("orchestrator.other").warning("module_logger_follows_config")
    assert json.loads(capsys.readouterr().err)["event"] == "module_logger_follows_config"


def test_logs_readable_when_not_json(capsys):
    configure_logging(json=False, level="info")
    get_logger().info("deploy_started", stack="s1")
    err = capsys.readouterr().err
    assert "deploy_started" in err and "stack_name=s1" in err
    configure_logging(json=True)


def test_redact_noecho_values():
    document = {"Parameters": {"DbPassword": {"Type": "String", "NoEcho": True}, "Env": {"Type": "String"},
                               "Token": {"Type": "String", "NoEcho": "true"}}}
    names = noecho_parameters(document)
    assert names == {"DbPassword", "Token"}
    assert Redactor(["hunter2"]).value({"DbPassword": "hunter2", "Env": "dev"}) == {"DbPassword": "****", "Env": "dev"}

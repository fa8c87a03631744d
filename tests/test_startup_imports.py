"""The commands that do not deploy start light: no moto or boto3, cfn-lint (and the sympy it brings) only to read
YAML, networkx only for a repair or an order to deploy in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "webtier-broken.yaml"

# Runs the CLI in a fresh interpreter and reports which of the heavy packages got imported. (pydantic is not
# listed: typer builds a pydantic TypeAdapter for every parameter it converts, so any command with options
# imports it; none of our code does.)
PROBE = """
import json, sys
from orchestrator.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = {"moto", "boto3", "botocore", "cfnlint", "sympy", "networkx", "ruamel", "werkzeug", "flask", "structlog", "rich"}
print(json.dumps({"code": code, "imported": sorted({m.split(".")[0] for m in sys.modules} & heavy)}), file=sys.stderr)
"""


def imported_by(*argv: str) -> tuple[int, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], set(report["imported"])


@pytest.fixture(scope="module")
def json_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "role.json"
    path.write_text(json.dumps({"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": []},
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AWSCodeDeployRole"]}},
        "Queue": {"Type": "AWS::SQS::Queue"}}}))
    return path


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["playbooks"]])
def test_commands_without_templates_import_no_aws_sdk_no_cfn_lint_no_logging(argv: list[str]) -> None:
    code, imported = imported_by(*argv)
    assert code == 0
    assert imported == set(), imported


def test_a_deploying_commands_help_imports_no_aws_sdk() -> None:
    # The global options configure logging for a command that deploys, before its --help is seen.
    code, imported = imported_by("deploy", "--help")
    assert code == 0
    assert imported <= {"structlog", "rich"}, imported


@pytest.mark.parametrize("command", ["forecast", "graph"])
def test_a_json_template_needs_neither_moto_boto3_nor_cfn_lint(command: str, json_template: Path) -> None:
    # The managed-policy detector runs here (its catalog is packaged data, not moto's module).
    code, imported = imported_by(command, str(json_template))
    assert code == (1 if command == "forecast" else 0)  # the CodeDeploy ARN lacks its service-role/ path
    assert imported == set(), imported  # not even structlog, Rich, networkx or ruamel (the playbooks' index)


@pytest.mark.parametrize("command", ["forecast", "graph"])
def test_yaml_templates_load_cfn_lint_for_decoding_but_never_moto_or_boto3(command: str) -> None:
    code, imported = imported_by(command, str(EXAMPLE))
    assert code in (0, 1)
    # cfn-lint's decoder imports its rules, which import sympy and networkx (cfn-lint's own graph): the
    # price of its line-numbered YAML.
    assert {"cfnlint", "sympy"} <= imported <= {"cfnlint", "sympy", "networkx", "structlog", "rich"}, imported
    assert not {"moto", "boto3", "botocore"} & imported


def test_a_missing_file_is_reported_without_loading_cfn_lint(tmp_path: Path) -> None:
    code, imported = imported_by("forecast", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert imported == set(), imported


def test_a_name_over_its_schema_limit_is_found_without_importing_cfn_lint(tmp_path: Path) -> None:
    # The names detector reads the registry schema cfn-lint ships as a data file, not through cfn-lint's
    # schema manager (whose import loads all of cfn-lint).
    template = tmp_path / "named.json"
    template.write_text(json.dumps({"Resources": {
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b" * 70}}}}))
    proc = subprocess.run([sys.executable, "-c", PROBE, "forecast", str(template)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 1
    assert "Logs" in proc.stdout and "63" in proc.stdout, proc.stdout  # S3's limit, from the schema
    assert set(report["imported"]) == set(), report

"""`cfn-autofix verify`, `report merge` and `sweep` end to end: the real loop on the embedded sandbox."""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.verify import reports
from orchestrator.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "verify"

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["--log-json", *args], catch_exceptions=False)


@pytest.fixture
def project(tmp_path):
    """A copy of the fixture templates with a two-region matrix: 4 cells, one needs a repair."""
    shutil.copytree(FIXTURES / "templates", tmp_path / "templates")
    (tmp_path / "matrix.toml").write_text(
        'regions = ["us-east-1", "eu-west-1"]\n'
        '[templates."templates/bucket.yaml"]\n'
        '[templates."templates/legacy/deployer.json"]\n'
    )
    return tmp_path


@pytest.mark.slow
def test_verify_shards_merge_to_the_single_run(project):
    out = project / "out"
    single = invoke(
        "verify", "--matrix", str(project / "matrix.toml"), "--workers", "4", "--out-dir", str(out / "fixed"),
        "--junit", str(out / "junit.xml"), "--report-md", str(out / "report.md"), "--report-json", str(out / "all.json"),
    )
    assert single.exit_code == 0, single.output
    assert "verify: 4 cell(s), 2 green at first try, 2 green after repair, 0 failed" in single.stdout
    run = json.loads((out / "all.json").read_text())
    outcomes = {c["id"]: c["outcome"] for c in run["cells"]}
    assert outcomes == {
        "templates/bucket.yaml|eu-west-1|default": "green",
        "templates/bucket.yaml|us-east-1|default": "green",
        "templates/legacy/deployer.json|eu-west-1|default": "repaired",
        "templates/legacy/deployer.json|us-east-1|default": "repaired",
    }
    # Cells ran in worker processes (the default), at most --workers of them, each reporting its peak memory.
    pids = {c["worker"]["pid"] for c in run["cells"]}
    assert os.getpid() not in pids and 1 <= len(pids) <= 4
    assert all(c["worker"]["max_rss_mb"] > 0 for c in run["cells"])
    assert run["worker_max_rss_mb"] == max(c["worker"]["max_rss_mb"] for c in run["cells"])
    # Each record says when its worker started and when the cell ran (what bench_verify --profile reads):
    # a cell runs after its worker's start-up, and a worker's cells one after another.
    for pid in pids:
        spans = sorted(c["worker"]["timeline"]["cell"] for c in run["cells"] if c["worker"]["pid"] == pid)
        ready = next(c["worker"]["timeline"]["init"][1] for c in run["cells"] if c["worker"]["pid"] == pid)
        assert ready <= spans[0][0] and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        assert all(start <= end for start, end in spans)
    # Each cell ran in its own sandbox account and wrote its own repaired template.
    fixed = sorted(p.relative_to(out / "fixed").as_posix() for p in (out / "fixed").rglob("*.fixed.json"))
    assert len(fixed) == 2 and fixed[0] != fixed[1]
    root = ET.parse(out / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "0", "0")
    markdown = (out / "report.md").read_text()
    assert "## green after repair: templates/legacy/deployer.json, eu-west-1 [default]" in markdown
    assert "impact **critical**" in markdown and "```mermaid" in markdown and "```diff" in markdown

    # Templates on the command line replace the matrix's list; --fail-on-repair turns the repair into exit 1.
    again = invoke(
        "verify", str(project / "templates" / "legacy" / "deployer.json"), "--regions", "us-east-1",
        "--fail-on-repair", "--out-dir", str(out / "f2"),
    )
    assert again.exit_code == 1
    assert "1 cell(s), 0 green at first try, 1 green after repair" in again.stdout
    # The same cell as a thread of this process gives the same verdict.
    threads = invoke(
        "verify", str(project / "templates" / "legacy" / "deployer.json"), "--regions", "us-east-1", "--threads",
        "--out-dir", str(out / "f3"), "--report-json", str(out / "threads.json"),
    )
    assert threads.exit_code == 0, threads.output
    assert "1 cell(s), 0 green at first try, 1 green after repair" in threads.stdout
    assert "worker" not in json.loads((out / "threads.json").read_text())["cells"][0]

    shard_files = []
    for k in (1, 2):
        result = invoke(
            "verify", "--matrix", str(project / "matrix.toml"), "--shard", f"{k}/2", "--workers", "2",
            "--out-dir", str(out / "fixed"), "--report-json", str(out / f"shard{k}.json"),
        )
        assert result.exit_code == 0, result.output
        shard_files.append(str(out / f"shard{k}.json"))
    merged = invoke(
        "report", "merge", *shard_files, "--junit", str(out / "m.xml"), "--report-json", str(out / "m.json"),
        "--report-md", str(out / "m.md"),
    )
    assert merged.exit_code == 0, merged.output
    merged_run = json.loads((out / "m.json").read_text())

    def comparable(cells):
        # Run ids, stack names, timings and output paths differ between two runs of the same matrix.
        keep = ("id", "outcome", "template", "region", "parameter_set", "parameters")
        return [
            {**{k: c[k] for k in keep}, "status": c["report"]["status"], "deployments": c["report"]["deployments"],
             "forecast": c["report"]["forecast"], "attempts": [
                 {k: a[k] for k in ("number", "stack_status", "failures")} for a in c["report"]["attempts"]]}
            for c in cells
        ]

    assert comparable(merged_run["cells"]) == comparable(run["cells"])
    assert reports.strip_timings(merged_run["summary"]) == reports.strip_timings(run["summary"])

    def untimed(xml: str) -> str:
        return re.sub(r'time="[0-9.]+"', 'time=""', xml)

    assert untimed((out / "m.xml").read_text()) == untimed((out / "junit.xml").read_text())

    incomplete = invoke("report", "merge", shard_files[0], "--junit", str(out / "partial.xml"))
    assert incomplete.exit_code == 1
    assert ET.parse(out / "partial.xml").getroot().find(".//error").get("type") == "MissingResult"


@pytest.mark.slow
def test_a_cell_that_cannot_run_is_its_own_error_not_the_runs(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [\n")
    good = tmp_path / "ok.yaml"
    good.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    result = invoke(
        "verify", str(broken), str(good), "--regions", "us-east-1", "--out-dir", str(tmp_path / "o"),
        "--junit", str(tmp_path / "j.xml"),
    )
    assert result.exit_code == 1
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("2", "1", "0")
    (suite,) = [s for s in root.findall("testsuite") if s.get("name").endswith("broken.yaml")]
    error = suite.find("testcase/error")
    assert error.get("type") == "BadInput" and "broken.yaml" in error.get("message")


@pytest.mark.parametrize(
    "case,args,expected",
    [
        ("bad-matrix-key", ["--matrix", "{matrix}"], "key 'regionz': unknown key"),
        ("no-input", [], "verify needs templates, --matrix FILE or --from-taskcat FILE"),
        ("bad-shard", ["--matrix", "{good}", "--shard", "0/2"], "--shard '0/2'"),
        ("bad-region", ["--matrix", "{good}", "--regions", "moon-1"], "'moon-1' is not an AWS region name"),
        ("endpoint-without-url", ["--matrix", "{good}", "--target", "endpoint"], "--endpoint-url"),
    ],
)
def test_verify_bad_input_is_one_line_and_exit_2(tmp_path, case, args, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text("regionz = []\n")
    good = tmp_path / "good.toml"
    (tmp_path / "t.yaml").write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    good.write_text('templates = ["t.yaml"]\n')
    argv = [a.format(matrix=bad, good=good) for a in args]
    result = invoke("verify", *argv, "--out-dir", str(tmp_path / "o"))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("cfn-autofix: error:")]
    assert len(lines) == 1 and expected in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "case,content,expected",
    [
        ("not-json", "{", "not valid JSON"),
        ("not-a-verify-report", '{"status": "succeeded"}', "not a verify report"),
    ],
)
def test_report_merge_bad_input(tmp_path, case, content, expected):
    shard = tmp_path / "s.json"
    shard.write_text(content)
    result = invoke("report", "merge", str(shard))
    assert result.exit_code == 2
    assert expected in result.stderr and "Traceback" not in result.output


def test_report_merge_missing_file(tmp_path):
    result = invoke("report", "merge", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and "shard result not found" in result.stderr


def test_sweep_refuses_the_embedded_target():
    result = invoke("sweep", "--target", "embedded")
    assert result.exit_code == 2 and "--target endpoint" in result.stderr


def test_sweep_bad_age():
    result = invoke("sweep", "--target", "endpoint", "--endpoint-url", "http://127.0.0.1:1", "--older-than", "soon")
    assert result.exit_code == 2 and "--older-than 'soon'" in result.stderr


@pytest.mark.slow
def test_sweep_dry_run_through_the_cli_against_a_sandbox(sandbox, tmp_path):
    from orchestrator.aws.session import AwsSession
    from orchestrator.aws.targets import Target

    session = AwsSession(Target(kind="endpoint", region=sandbox.region, endpoint_url=sandbox.endpoint_url,
                                credentials={k: sandbox.credentials[k] for k in ("aws_access_key_id", "aws_secret_access_key")}))
    queue = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    session.create_stack("cli-tagged", queue, tags={"cfn-autofix:run-id": "r1"})
    session.create_stack("cli-untagged", queue)
    journal = tmp_path / "journal.jsonl"
    common = ["sweep", "--target", "endpoint", "--endpoint-url", sandbox.endpoint_url, "--regions", sandbox.region,
              "--older-than", "0", "--journal", str(journal)]
    # The sandbox's account is selected by its access key: pass it as the AWS CLI would.
    env = {"AWS_ACCESS_KEY_ID": sandbox.credentials["aws_access_key_id"],
           "AWS_SECRET_ACCESS_KEY": sandbox.credentials["aws_secret_access_key"]}
    dry = runner.invoke(app, ["--log-json", *common], env=env, catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.stdout and "cli-tagged" in dry.stdout and "cli-untagged" not in dry.stdout
    assert session.describe_stack("cli-tagged")["StackStatus"] != "DELETE_COMPLETE"
    done = runner.invoke(app, ["--log-json", *common, "--yes"], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "deleted" in done.stdout
    assert session.describe_stack("cli-tagged") is None or session.describe_stack("cli-tagged")["StackStatus"] == "DELETE_COMPLETE"
    assert session.describe_stack("cli-untagged")["StackStatus"] == "CREATE_COMPLETE"

"""Interruption: SIGINT/SIGTERM during deploy or verify delete the run's stacks and exit 130; after SIGKILL, sweep cleans up."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from orchestrator.aws.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
WEBTIER = ROOT / "examples" / "webtier-broken.yaml"
CLI = [sys.executable, "-m", "orchestrator"]
# A backstop that kills a hung child, never a speed verdict: generous enough for a loaded 2-core machine.
DEADLINE_S = 600


def kill_group(proc: subprocess.Popen) -> None:
    """Kill proc and every process of its session: a worker left behind keeps the stderr pipe open, and a
    reader waiting for its end would wait for ever."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def watchdog(proc: subprocess.Popen, group: bool = False) -> threading.Timer:
    """Kill `proc` (with its whole session when `group`) if it is still running after DEADLINE_S, so a hang
    fails the test instead of stalling the suite."""
    timer = threading.Timer(DEADLINE_S, (lambda: kill_group(proc)) if group else proc.kill)
    timer.daemon = True
    timer.start()
    return timer


@pytest.fixture(scope="module")
def served_sandbox():
    """`cfn-autofix sandbox` in a subprocess on loopback: its endpoint and the keys that select its account."""
    proc = subprocess.Popen([*CLI, "sandbox", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=ROOT)
    info: dict[str, str] = {}
    timer = watchdog(proc)
    try:
        while "AWS_DEFAULT_REGION" not in info:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("cfn-autofix sandbox exited before printing its endpoint")
            match = re.search(r"export (AWS_[A-Z_]+)=(\S+)", line)
            if match:
                info[match.group(1)] = match.group(2)
        timer.cancel()
        yield info
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def workdir(tmp_path, served_sandbox):
    """A folder with a copy of the example, a config file whose journal lives here, and the child environment."""
    shutil.copy(WEBTIER, tmp_path / "webtier.yaml")
    (tmp_path / "cfn-autofix.toml").write_text(
        f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n[retry]\nbase_s = 0.05\ncap_s = 0.5\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=served_sandbox["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=served_sandbox["AWS_SECRET_ACCESS_KEY"],
               AWS_EC2_METADATA_DISABLED="true", PYTHONUNBUFFERED="1")
    return tmp_path, env


def cfn_client(served_sandbox):
    return boto3.client("cloudformation", endpoint_url=served_sandbox["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id=served_sandbox["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=served_sandbox["AWS_SECRET_ACCESS_KEY"])


def live_stacks(served_sandbox, names: set[str]) -> list[str]:
    summaries = cfn_client(served_sandbox).list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in summaries if s["StackName"] in names and s["StackStatus"] != "DELETE_COMPLETE")


def run_until_stack_event(args: list[str], cwd: Path, env: dict, sig: int) -> tuple[int, list[dict], str]:
    """Start the CLI, send `sig` right after its first stack_event log line; (exit code, JSON log lines, other stderr)."""
    # Its own session, so that the watchdog can end the workers of a hung run too (their stderr is this pipe).
    proc = subprocess.Popen([*CLI, "--log-json", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    logs: list[dict] = []
    other: list[str] = []
    signalled = False
    timer = watchdog(proc, group=True)
    try:
        for line in proc.stderr:
            try:
                logs.append(json.loads(line))
            except ValueError:
                other.append(line)
                continue
            if not signalled and logs[-1].get("event") == "stack_event":
                proc.send_signal(sig)
                signalled = True
        code = proc.wait(timeout=DEADLINE_S)
    finally:
        timer.cancel()
        if proc.poll() is None:
            kill_group(proc)
            proc.wait()
    assert signalled, "no stack_event was logged: " + "".join(other)[-2000:]
    return code, logs, "".join(other)


@pytest.mark.parametrize("case, sig", [("sigint", signal.SIGINT), ("sigterm", signal.SIGTERM)])
def test_deploy_interrupted_deletes_its_stack_and_reports(case, sig, workdir, served_sandbox):
    tmp_path, env = workdir
    report = tmp_path / "report.json"
    # On a loaded machine the whole run can finish before the signal lands; only a run that was still going
    # when signalled says anything about interruption, so such a run is tried again (at most three times).
    for _ in range(3):
        report.unlink(missing_ok=True)
        code, logs, other = run_until_stack_event(
            ["--config", str(tmp_path / "cfn-autofix.toml"), "deploy", "webtier.yaml", "--target", "endpoint",
             "--endpoint-url", served_sandbox["AWS_ENDPOINT_URL"], "--no-forecast", "--report-json", str(report)],
            tmp_path, env, sig)
        finished_first = report.exists() and json.loads(report.read_text())["status"] == "succeeded"
        if not finished_first:
            break
    assert code == 130, other
    assert "Traceback" not in other
    data = json.loads(report.read_text())
    assert data["status"] == "interrupted"
    stack = data["stack_name"]
    assert any(entry["event"] == "run_interrupted" for entry in logs)
    assert live_stacks(served_sandbox, {stack}) == [], "the interrupted run left its stack"
    assert Journal(tmp_path / "journal.jsonl").pending() == []
    assert (tmp_path / "webtier.yaml").read_bytes() == WEBTIER.read_bytes(), "the input is never modified"


def test_verify_interrupted_deletes_its_stacks(workdir, served_sandbox):
    tmp_path, env = workdir
    # Both cells share the endpoint's account: the second gets its own names (log groups are named by the suffix).
    (tmp_path / "second.yaml").write_text(WEBTIER.read_text().replace("Default: dev", "Default: qa"))
    # Forecast off: each cell fails, repairs and redeploys, so the signal lands while both are mid-run.
    config = tmp_path / "cfn-autofix.toml"
    config.write_text(config.read_text() + "[deploy]\nforecast = false\n")
    code, logs, other = run_until_stack_event(
        ["--config", str(config), "verify", "webtier.yaml", "second.yaml", "--target",
         "endpoint", "--endpoint-url", served_sandbox["AWS_ENDPOINT_URL"], "--workers", "2", "--out-dir",
         str(tmp_path / "out"), "--report-json", str(tmp_path / "verify.json")],
        tmp_path, env, signal.SIGINT)
    assert code == 130, other
    assert "Traceback" not in other
    journal = Journal(tmp_path / "journal.jsonl")
    created = {record["stack_name"] for record in journal.read() if record["op"] == "create"}
    assert created, "verify journalled the stacks it created"
    assert live_stacks(served_sandbox, created) == []
    assert journal.pending() == []
    results = json.loads((tmp_path / "verify.json").read_text())
    statuses = {(cell.get("report") or {}).get("status") for cell in results["cells"]}
    assert statuses == {"interrupted"}, statuses
    assert any(entry["event"] == "verify_interrupted" for entry in logs)


def test_sigkill_leaves_journal_entries_that_sweep_removes(workdir, served_sandbox):
    tmp_path, env = workdir
    code, logs, other = run_until_stack_event(
        ["--config", str(tmp_path / "cfn-autofix.toml"), "deploy", "webtier.yaml", "--target", "endpoint",
         "--endpoint-url", served_sandbox["AWS_ENDPOINT_URL"], "--no-forecast"],
        tmp_path, env, signal.SIGKILL)
    assert code == -signal.SIGKILL
    pending = Journal(tmp_path / "journal.jsonl").pending()
    assert len(pending) == 1, "the stack was journalled before it was created"
    stack = pending[0].stack_name
    assert live_stacks(served_sandbox, {stack}) == [stack], "a killed run cannot clean up: the stack is still there"

    sweep = subprocess.run(
        [*CLI, "--config", str(tmp_path / "cfn-autofix.toml"), "sweep", "--target", "endpoint", "--endpoint-url",
         served_sandbox["AWS_ENDPOINT_URL"], "--older-than", "0", "--yes", "--journal", str(tmp_path / "journal.jsonl")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert stack in sweep.stdout
    assert live_stacks(served_sandbox, {stack}) == []
    assert Journal(tmp_path / "journal.jsonl").pending() == []

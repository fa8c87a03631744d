"""The loop's runner (`_Runner`) against a scripted fake session: every stop reason, and what the report says."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from orchestrator.aws import session as aws

from orchestrator.config import Config, RetryConfig, SandboxSection, WatchConfig
from orchestrator.deploy import loop, outcome
from orchestrator.errors import BadInput
from orchestrator.options import RunOptions
from orchestrator.aws.journal import Journal
from orchestrator.logs import get_logger
from orchestrator.model import StackEvent, StackStatus
from orchestrator.catalog.playbooks import load_playbooks
from orchestrator.template import loads_template

BAD_ARN = "arn:aws:iam::aws:policy/AWSCodeDeployRole"
NOT_ATTACHABLE = f"Policy {BAD_ARN} does not exist or is not attachable."
STACK = "cfn-autofix-paths-0123456789"
TEMPLATE = loads_template(json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "DeployRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [BAD_ARN]}},
    },
}, indent=2) + "\n", fmt="json", name="paths.json")
BOOKS = load_playbooks()
# Tiny backoff: the transient path waits through tenacity's policy, for milliseconds.
CFG = Config(retry=RetryConfig(max_attempts=6, max_wait_s=120.0, base_s=0.001, cap_s=0.002),
             watch=WatchConfig(poll_min_s=0.0, poll_max_s=0.0))


@dataclass
class Outcome:
    """What one deployment does: the status it settles in and the resource events (logical id, status, reason)."""

    final: StackStatus
    resources: list[tuple[str, str, str]] = field(default_factory=list)
    stack_reason: str = ""


GREEN = Outcome(StackStatus.CREATE_COMPLETE, [("Topic", "CREATE_COMPLETE", ""), ("DeployRole", "CREATE_COMPLETE", "")])
ROLE_FAILS = Outcome(StackStatus.CREATE_FAILED, [("Topic", "CREATE_COMPLETE", ""),
                                                 ("DeployRole", "CREATE_FAILED", NOT_ATTACHABLE)])
VPC_TRANSIENT = Outcome(StackStatus.CREATE_FAILED, [("DeployRole", "CREATE_FAILED", "Internal Failure")])


class FakeSession:
    """The AwsSession calls the runner makes, answered from a script of deployment outcomes; every call recorded."""

    def __init__(self, *outcomes: Outcome, update_errors: tuple[Exception | None, ...] = (),
                 delete_error: BaseException | None = None, on_deploy=None):
        self.outcomes = list(outcomes)
        self.update_errors = list(update_errors)
        self.delete_error = delete_error
        self.on_deploy = on_deploy
        self.calls: list[tuple[str, ...]] = []
        self.templates: list[dict] = []
        self.events: list[StackEvent] = []
        self.status: StackStatus | None = None
        self.ids = itertools.count(1)
        self.clock = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def _event(self, logical_id: str, resource_type: str, status: str, reason: str = "") -> None:
        number = next(self.ids)
        self.events.append(StackEvent(event_id=f"e{number}", stack_name=STACK, logical_id=logical_id,
                                      resource_type=resource_type, status=status, reason=reason,
                                      physical_id="" if logical_id == STACK else f"{logical_id}-phys",
                                      timestamp=self.clock + timedelta(seconds=number)))

    def _deploy(self, operation: str, template: str) -> None:
        self.templates.append(json.loads(template))
        outcome = self.outcomes.pop(0)
        verb = "CREATE" if operation == "create" else "UPDATE"
        self._event(STACK, "AWS::CloudFormation::Stack", f"{verb}_IN_PROGRESS", "User Initiated")
        types = {"Topic": "AWS::SNS::Topic", "DeployRole": "AWS::IAM::Role"}
        for logical_id, status, reason in outcome.resources:
            self._event(logical_id, types[logical_id], status, reason)
        self._event(STACK, "AWS::CloudFormation::Stack", outcome.final.value, outcome.stack_reason)
        self.status = outcome.final
        if self.on_deploy is not None:
            self.on_deploy()

    def create_stack(self, name, **args):
        self.calls.append(("create", name))
        self._deploy("create", args["template"])

    def update_stack(self, name, **args):
        self.calls.append(("update", name))
        error = self.update_errors.pop(0) if self.update_errors else None
        if error is not None:
            raise error
        self._deploy("update", args["template"])

    def stack_status(self, name):
        if self.status is None:
            raise aws.StackNotFound(f"stack {name} does not exist")
        return self.status

    def latest_event_id(self, name):
        return self.events[-1].event_id if self.events else None

    def iter_new_events(self, name, after_event_id=None):
        ids = [e.event_id for e in self.events]
        start = ids.index(after_event_id) + 1 if after_event_id in ids else 0
        return list(self.events[start:])

    def describe_stack(self, name):
        return None if self.status is None else {"StackId": f"arn:aws:cloudformation:us-east-1:1:stack/{STACK}/x"}

    def delete_stack(self, stack_id, *, run_id=None):
        self.calls.append(("delete", stack_id))
        if self.delete_error is not None:
            raise self.delete_error
        self.status = None

    def wait_deleted(self, stack_id, timeout=0.0):
        self.calls.append(("wait_deleted", stack_id))


def runner_for(session: FakeSession, tmp_path: Path, *, strategy: str = "keep", max_attempts: int = 5,
               cancel_event: threading.Event | None = None) -> loop._Runner:
    run = outcome.RunState(run_id="0123456789", target="embedded", region="us-east-1", stack_name=STACK,
                           strategy=strategy, source=TEMPLATE, template=TEMPLATE)
    options = RunOptions.build(CFG, strategy=strategy, max_attempts=max_attempts, cancel_event=cancel_event,
                               managed_policy_strategy="inline", allow_widening=False, progress=False)
    return loop._Runner(run, options, session=session, target=SimpleNamespace(endpoint_url="http://127.0.0.1:1"),
                        journal=Journal(tmp_path / "journal.jsonl"), playbooks=BOOKS)


def finish(runner: loop._Runner, tmp_path: Path) -> dict:
    """The run's JSON report, as --report-json writes it."""
    result = outcome.finish(runner.run, out=None, report_json=tmp_path / "report.json", write_template=False,
                          log=get_logger())
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(json.dumps(result.report, default=str))
    return report


def execute(runner: loop._Runner) -> list[dict]:
    with capture_logs() as logs:
        runner.execute()
    return logs


def events_named(logs: list[dict], name: str) -> list[dict]:
    return [entry for entry in logs if entry["event"] == name]


def role_arns(document: dict) -> list:
    return document["Resources"]["DeployRole"]["Properties"].get("ManagedPolicyArns", [])


# ------------------------------------------------------------------------------------------ green and repair


def test_green_at_once(tmp_path):
    runner = runner_for(FakeSession(GREEN), tmp_path)
    execute(runner)
    report = finish(runner, tmp_path)
    assert (report["status"], report["stop_reason"], report["deployments"]) == ("succeeded", "green", 1)
    assert [(a["number"], a["operation"], a["stack_status"]) for a in report["attempts"]] == [(1, "create", "CREATE_COMPLETE")]
    assert runner.session.calls == [("create", STACK)]


def test_a_repair_is_sent_as_an_update_from_the_last_event(tmp_path):
    session = FakeSession(ROLE_FAILS, GREEN)
    runner = runner_for(session, tmp_path)
    execute(runner)
    report = finish(runner, tmp_path)
    assert (report["status"], report["stop_reason"], report["deployments"]) == ("succeeded", "green", 2)
    assert [a["operation"] for a in report["attempts"]] == ["create", "update"]
    assert [r["repair"] for r in report["attempts"][0]["repairs"]] == ["managed-policy-inline"]
    assert session.calls == [("create", STACK), ("update", STACK)]
    assert role_arns(session.templates[0]) == [BAD_ARN] and role_arns(session.templates[1]) == []
    # The watch of attempt 2 starts after attempt 1's events: its only failure-free events are attempt 2's.
    assert report["attempts"][1]["failures"] == []


# ------------------------------------------------------------------------------------------ the paths


def test_update_refused_is_deployed_again_by_delete_and_create(tmp_path):
    refused = aws.StackNotUpdatable("stack is in CREATE_FAILED state and can not be updated", code="ValidationError")
    session = FakeSession(ROLE_FAILS, GREEN, update_errors=(refused,))
    runner = runner_for(session, tmp_path)
    logs = execute(runner)
    report = finish(runner, tmp_path)

    assert (report["status"], report["stop_reason"], report["deployments"]) == ("succeeded", "green", 2)
    assert [a["operation"] for a in report["attempts"]] == ["create", "recreate"]
    stack_id = f"arn:aws:cloudformation:us-east-1:1:stack/{STACK}/x"
    assert session.calls == [("create", STACK), ("update", STACK), ("delete", stack_id), ("wait_deleted", stack_id),
                             ("create", STACK)]
    (refusal,) = events_named(logs, "update_refused_recreating")
    assert "can not be updated" in refusal["error"]
    assert role_arns(session.templates[1]) == [], "the recreated stack carries the repair"
    # Both creations were journalled before CreateStack.
    assert [e.stack_name for e in Journal(tmp_path / "journal.jsonl").pending()] == [STACK]


def test_a_stack_that_cannot_be_updated_is_recreated_without_asking(tmp_path):
    rolled_back = Outcome(StackStatus.ROLLBACK_COMPLETE, ROLE_FAILS.resources)
    session = FakeSession(rolled_back, GREEN)
    runner = runner_for(session, tmp_path)
    execute(runner)
    report = finish(runner, tmp_path)
    assert report["status"] == "succeeded" and [a["operation"] for a in report["attempts"]] == ["create", "recreate"]
    assert report["attempts"][0]["rolled_back"] is True
    assert [call[0] for call in session.calls] == ["create", "delete", "wait_deleted", "create"]


def test_strategy_recreate_never_updates(tmp_path):
    session = FakeSession(ROLE_FAILS, GREEN)
    runner = runner_for(session, tmp_path, strategy="recreate")
    execute(runner)
    report = finish(runner, tmp_path)
    assert report["status"] == "succeeded" and report["strategy"] == "recreate"
    assert [call[0] for call in session.calls] == ["create", "delete", "wait_deleted", "create"]


def test_no_updates_to_perform_stops_the_run(tmp_path):
    identical = aws.NoUpdatesToPerform("No updates are to be performed.", code="ValidationError")
    session = FakeSession(ROLE_FAILS, update_errors=(identical,))
    runner = runner_for(session, tmp_path)
    logs = execute(runner)
    report = finish(runner, tmp_path)

    assert report["status"] == "failed"
    assert report["stop_reason"] == "the repaired template is identical to the deployed one"
    assert report["deployments"] == 1 and len(report["attempts"]) == 1
    assert [r["repair"] for r in report["attempts"][0]["repairs"]] == ["managed-policy-inline"]
    assert len(events_named(logs, "no_updates_to_perform")) == 1
    assert session.calls == [("create", STACK), ("update", STACK)]


def test_stack_level_failure_without_a_resource_failure_is_unknown_with_its_evidence(tmp_path):
    # The stack rolls back with no failed resource and no reason: nothing to diagnose but the stack itself.
    session = FakeSession(Outcome(StackStatus.ROLLBACK_COMPLETE, [("Topic", "CREATE_COMPLETE", "")]))
    runner = runner_for(session, tmp_path)
    logs = execute(runner)
    report = finish(runner, tmp_path)

    assert report["status"] == "failed"
    assert report["stop_reason"] == "unknown failure: no playbook matches; evidence kept in the report"
    (attempt,) = report["attempts"]
    assert attempt["stack_status"] == "ROLLBACK_COMPLETE" and attempt["repairs"] == []
    assert [(f["logical_id"], f["resource_type"], f["playbook"], f["status_reason"]) for f in attempt["failures"]] == [
        (STACK, "AWS::CloudFormation::Stack", "unknown", "stack ended ROLLBACK_COMPLETE with no resource failure")]
    (unknown,) = report["unknown"]
    assert unknown["logical_id"] == STACK
    assert [e["status"] for e in unknown["events"]] == ["CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert events_named(logs, "stopping_unknown_failure")[0]["resources"] == [STACK]


def test_the_same_failure_after_its_repair_stops_the_run(tmp_path):
    session = FakeSession(ROLE_FAILS, ROLE_FAILS)
    runner = runner_for(session, tmp_path)
    logs = execute(runner)
    report = finish(runner, tmp_path)

    assert report["status"] == "failed"
    assert report["stop_reason"] == "the same failure repeated after its repair"
    first, second = report["attempts"]
    assert [r["repair"] for r in first["repairs"]] == ["managed-policy-inline"]
    assert second["repairs"] == [], "no second repair is tried for a failure its repair did not cure"
    assert [f["status_reason"] for f in second["failures"]] == [NOT_ATTACHABLE]
    assert report["deployments"] == 2 and len(events_named(logs, "stopping_repeated_failure")) == 1


def test_cleanup_failure_leaves_the_stack_in_the_journal(tmp_path):
    session = FakeSession(GREEN, delete_error=aws.AwsError("DeleteStack: AccessDenied", code="AccessDenied"))
    runner = runner_for(session, tmp_path)
    execute(runner)
    with capture_logs() as logs:
        outcome.cleanup(runner.run, session, runner.journal, False, get_logger(), runner.created)
    report = finish(runner, tmp_path)

    assert report["status"] == "succeeded", "a failed cleanup does not hide the run's outcome"
    assert report["stack_left"] is True and report["stack_deleted"] is False
    (entry,) = Journal(tmp_path / "journal.jsonl").pending()
    assert (entry.run_id, entry.stack_name, entry.endpoint_url) == ("0123456789", STACK, "http://127.0.0.1:1")
    (failed,) = events_named(logs, "stack_cleanup_failed")
    assert failed["error"] == "DeleteStack: AccessDenied" and "sweep" in failed["hint"]


def test_cleanup_interrupted_leaves_the_stack_in_the_journal(tmp_path):
    session = FakeSession(GREEN, delete_error=KeyboardInterrupt())
    runner = runner_for(session, tmp_path)
    execute(runner)
    with capture_logs() as logs:
        outcome.cleanup(runner.run, session, runner.journal, False, get_logger(), runner.created)
    assert runner.run.stack_left is True and runner.run.stack_deleted is False
    assert len(Journal(tmp_path / "journal.jsonl").pending()) == 1
    assert len(events_named(logs, "stack_cleanup_interrupted")) == 1


def test_cleanup_deletes_and_closes_the_journal_entry(tmp_path):
    session = FakeSession(GREEN)
    runner = runner_for(session, tmp_path)
    execute(runner)
    outcome.cleanup(runner.run, session, runner.journal, False, get_logger(), runner.created)
    assert runner.run.stack_deleted is True and runner.run.stack_left is False
    assert Journal(tmp_path / "journal.jsonl").pending() == []
    assert [call[0] for call in session.calls] == ["create", "delete", "wait_deleted"]


@pytest.mark.parametrize("keep, created", [(True, True), (False, False)])
def test_cleanup_keeps_or_skips(tmp_path, keep, created):
    session = FakeSession(GREEN)
    runner = runner_for(session, tmp_path)
    outcome.cleanup(runner.run, session, runner.journal, keep, get_logger(), created)
    assert runner.run.stack_left is keep and runner.run.stack_deleted is False and session.calls == []


# ------------------------------------------------------------------------------------------ other stops


def test_attempt_budget_spent(tmp_path):
    runner = runner_for(FakeSession(ROLE_FAILS), tmp_path, max_attempts=1)
    execute(runner)
    report = finish(runner, tmp_path)
    assert report["status"] == "failed" and report["stop_reason"] == "attempt budget of 1 spent"
    assert report["attempts"][0]["repairs"] == [] and report["deployments"] == 1


def test_repairs_that_change_nothing_stop_the_run(tmp_path):
    # The failure names an ARN the template does not use: the matching repair has nothing to change.
    other = "arn:aws:iam::aws:policy/AWSConfigRole"
    outcome = Outcome(StackStatus.CREATE_FAILED, [("DeployRole", "CREATE_FAILED",
                                                   f"Policy {other} does not exist or is not attachable.")])
    runner = runner_for(FakeSession(outcome), tmp_path)
    logs = execute(runner)
    report = finish(runner, tmp_path)
    assert report["status"] == "failed" and report["stop_reason"] == "the matching repairs changed nothing"
    assert [r["operations"] for r in report["attempts"][0]["repairs"]] == [[]]
    assert len(events_named(logs, "stopping_repair_changed_nothing")) == 1


def test_transient_failure_is_retried_unchanged_after_a_tenacity_backoff(tmp_path):
    session = FakeSession(VPC_TRANSIENT, GREEN)
    runner = runner_for(session, tmp_path, cancel_event=threading.Event())
    logs = execute(runner)
    report = finish(runner, tmp_path)
    assert (report["status"], report["deployments"]) == ("succeeded", 2)
    assert [r["repair"] for r in report["attempts"][0]["repairs"]] == ["retry"]
    assert session.templates[0] == session.templates[1], "a retry deploys the same template"
    (backoff,) = events_named(logs, "transient_backoff")
    assert 0 <= backoff["seconds"] <= 0.002


def test_transient_backoff_follows_the_aws_retry_policy():
    policy = aws.RetryPolicy(base_s=0.5, cap_s=4.0)
    for attempt in range(1, 8):
        ceiling = min(4.0, 0.5 * 2 ** attempt)
        waits = [loop._transient_wait(attempt, policy) for _ in range(50)]
        assert all(0 <= wait <= ceiling for wait in waits), (attempt, max(waits))


def test_the_runner_reads_its_backoff_policy_from_the_retry_section(tmp_path):
    runner = runner_for(FakeSession(), tmp_path)
    assert runner.retry == aws.RetryPolicy.from_config(CFG) == aws.RetryPolicy(base_s=0.001, cap_s=0.002)


def test_cancel_during_the_transient_backoff_interrupts(tmp_path):
    cancel = threading.Event()
    session = FakeSession(VPC_TRANSIENT, GREEN, on_deploy=cancel.set)
    # A long backoff: only the cancel can end the wait.
    runner = runner_for(session, tmp_path, cancel_event=cancel)
    runner.retry = aws.RetryPolicy(base_s=3600, cap_s=3600)
    with pytest.raises(KeyboardInterrupt):
        runner.execute()
    assert session.calls == [("create", STACK)] and len(runner.run.attempts) == 1


def test_cancel_before_an_attempt_interrupts(tmp_path):
    cancel = threading.Event()
    cancel.set()
    session = FakeSession(GREEN)
    runner = runner_for(session, tmp_path, cancel_event=cancel)
    with pytest.raises(KeyboardInterrupt):
        runner.execute()
    assert session.calls == [] and runner.run.attempts == []


# ------------------------------------------------------------------------------------------ deploy_with_autofix around it


class FakeSandbox:
    def __init__(self, fail: bool):
        self.fail = fail

    def emulated_resources(self, stack_name):
        if self.fail:
            raise RuntimeError("sandbox gone")
        return [{"logical_id": "Topic", "resource_type": "AWS::SNS::Topic"}]


@pytest.fixture
def fake_target(monkeypatch, tmp_path):
    """deploy_with_autofix on a FakeSession: open_target yields a stand-in target, AwsSession is the fake."""
    import contextlib

    from orchestrator.aws import targets

    state = SimpleNamespace(session=None, sandbox=FakeSandbox(fail=False), enter_error=None, opened=[])

    @contextlib.contextmanager
    def open_target(kind, region, **kwargs):
        state.opened.append((kind, region))
        if state.enter_error is not None:
            raise state.enter_error
        yield SimpleNamespace(kind="endpoint", endpoint_url="http://127.0.0.1:1", sandbox=state.sandbox)

    monkeypatch.setattr(targets, "open_target", open_target)
    monkeypatch.setattr(aws, "AwsSession", lambda target, retry=None: state.session)
    return state


def deploy(tmp_path, **kwargs):
    from orchestrator.config import load_config

    config = load_config({"run.journal": str(tmp_path / "journal.jsonl"), "retry.base_s": 0.001,
                          "retry.cap_s": 0.002, "watch.poll_min_s": 0.0}, project_dir=tmp_path)
    return loop.deploy_with_autofix(TEMPLATE, config=config, forecast=False, stack_name=STACK, run_id="0123456789",
                                    report_json=tmp_path / "report.json", **kwargs)


def test_an_aws_error_fails_the_run_with_a_report_and_still_cleans_up(fake_target, tmp_path):
    class Refusing(FakeSession):
        def latest_event_id(self, name):
            raise aws.AwsError("DescribeStackEvents: AccessDenied: not allowed", code="AccessDenied")

    fake_target.session = Refusing(ROLE_FAILS)
    result = deploy(tmp_path)
    assert result.status == "failed" and result.exit_code == 1
    assert result.report["stop_reason"] == "AWS error: DescribeStackEvents: AccessDenied: not allowed"
    assert result.report["stack_deleted"] is True and result.report["emulated_resources"] == [
        {"logical_id": "Topic", "resource_type": "AWS::SNS::Topic"}]
    assert [call[0] for call in fake_target.session.calls] == ["create", "delete", "wait_deleted"]
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "failed"


def test_a_template_the_service_rejects_is_bad_input(fake_target, tmp_path):
    class Rejecting(FakeSession):
        def create_stack(self, name, **args):
            self.calls.append(("create", name))
            raise aws.TemplateRejected("Template format error: unsupported structure", code="ValidationError")

    fake_target.session = Rejecting()
    with pytest.raises(aws.TemplateRejected):
        deploy(tmp_path)


def test_ctrl_c_during_the_run_is_interrupted_with_cleanup(fake_target, tmp_path):
    class Interrupted(FakeSession):
        def iter_new_events(self, name, after_event_id=None):
            raise KeyboardInterrupt

    fake_target.session = Interrupted(GREEN)
    fake_target.sandbox = FakeSandbox(fail=True)
    with capture_logs() as logs:
        result = deploy(tmp_path)
    assert result.status == "interrupted" and result.exit_code == 130
    assert result.report["stop_reason"] == "interrupted" and result.report["stack_deleted"] is True
    assert result.report["emulated_resources"] == [], "the report is written without the sandbox's list"
    assert events_named(logs, "emulated_list_failed")[0]["error"] == "sandbox gone"


def test_ctrl_c_while_opening_the_target_is_interrupted(fake_target, tmp_path):
    fake_target.enter_error = KeyboardInterrupt()
    result = deploy(tmp_path)
    assert (result.status, result.deployments, result.attempts) == ("interrupted", 0, [])
    assert result.report["stack_deleted"] is False and result.report["stack_left"] is False


def test_a_loaded_template_object_is_accepted_and_the_fix_written_beside_out(fake_target, tmp_path):
    fake_target.session = FakeSession(ROLE_FAILS, GREEN)
    result = deploy(tmp_path, out=tmp_path / "fixed.json")
    assert result.status == "succeeded" and result.repaired_template == tmp_path / "fixed.json"
    assert role_arns(json.loads((tmp_path / "fixed.json").read_text())) == []
    assert fake_target.opened == [("embedded", "us-east-1")]


def test_the_output_path_may_not_be_the_input(fake_target, tmp_path):
    source = tmp_path / "in.json"
    source.write_text(TEMPLATE.dumps())
    fake_target.session = FakeSession(ROLE_FAILS, GREEN)
    from orchestrator.errors import BadInput

    with pytest.raises(BadInput, match="would overwrite the input"):
        loop.deploy_with_autofix(source, out=source, forecast=False, config=_cfg(tmp_path))
    assert source.read_text() == TEMPLATE.dumps(), "the input is never modified"


def _cfg(tmp_path):
    from orchestrator.config import load_config

    return load_config({"run.journal": str(tmp_path / "journal.jsonl")}, project_dir=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    ({"strategy": "sideways"}, "unknown strategy 'sideways': use keep or recreate"),
    ({"managed_policy_strategy": "delete"}, "unknown managed-policy strategy 'delete': use inline or fix-arn"),
    ({"max_attempts": 0}, "max attempts must be a positive integer, not 0"),
    ({"max_attempts": True}, "max attempts must be a positive integer, not True"),
])
def test_bad_options_are_bad_input_before_any_target_opens(fake_target, tmp_path, kwargs, message):
    from orchestrator.errors import BadInput

    with pytest.raises(BadInput) as caught:
        deploy(tmp_path, **kwargs)
    assert str(caught.value) == message
    assert fake_target.opened == []


def test_sandbox_settings_come_from_the_config_section():
    from orchestrator.sandbox import SandboxConfig

    given = SandboxConfig(race_probability=0.5, seed=1)
    assert loop._sandbox_config(RunOptions.build(CFG, sandbox_config=given)) is given
    made = loop._sandbox_config(RunOptions.build(Config(sandbox=SandboxSection(race_probability=0.25, seed=7))))
    assert isinstance(made, SandboxConfig) and (made.race_probability, made.seed) == (0.25, 7)


def test_cancel_while_watching_interrupts(tmp_path):
    cancel = threading.Event()
    session = FakeSession(Outcome(StackStatus.CREATE_IN_PROGRESS), on_deploy=cancel.set)
    runner = runner_for(session, tmp_path, cancel_event=cancel)
    with pytest.raises(KeyboardInterrupt):
        runner.execute()
    assert runner.run.attempts == [] and session.calls == [("create", STACK)]


def test_a_stack_already_gone_is_simply_created_again(tmp_path):
    class Vanishing(FakeSession):
        def describe_stack(self, name):
            return None

    session = Vanishing(ROLE_FAILS, GREEN)
    runner = runner_for(session, tmp_path, strategy="recreate")
    execute(runner)
    assert runner.run.status == "succeeded"
    assert session.calls == [("create", STACK), ("create", STACK)], "nothing to delete before the second create"


def test_forecast_repairs_before_deploying_and_the_fix_is_written_beside_the_input(fake_target, tmp_path):
    source = tmp_path / "app.json"
    source.write_text(TEMPLATE.dumps())
    fake_target.session = FakeSession(GREEN)
    result = loop.deploy_with_autofix(source, config=_cfg(tmp_path), stack_name=STACK)

    assert result.status == "succeeded" and result.deployments == 1
    # result.repairs includes the forecast's (issue 15): all of them here, none after a failure.
    assert [r["stage"] for r in result.repairs] == ["forecast"] * len(result.report["forecast_repairs"])
    assert result.repairs and all(not a["repairs"] for a in result.attempts)
    assert [f["playbook"] for f in result.report["forecast"]] == ["managed-policy-not-attachable"]
    assert [r["repair"] for r in result.report["forecast_repairs"]] == ["managed-policy-inline"]
    assert result.repaired_template == tmp_path / "app.fixed.json"
    assert role_arns(fake_target.session.templates[0]) == [], "the forecast's repair is what was deployed"
    assert role_arns(json.loads(source.read_text())) == [BAD_ARN], "the input is never modified"


def test_parameters_are_checked_before_any_target_opens(fake_target, tmp_path):
    from orchestrator.errors import BadInput

    with_param = loads_template(json.dumps({"Parameters": {"Env": {"Type": "String"}},
                                            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}, indent=1),
                               fmt="json", name="p.json")
    with pytest.raises(BadInput, match="parameter Env has no Default and no value: pass --param Env=VALUE"):
        loop.deploy_with_autofix(with_param, config=_cfg(tmp_path), forecast=False)
    with pytest.raises(BadInput, match="parameter 'Other' is not declared by the template"):
        loop.deploy_with_autofix(with_param, config=_cfg(tmp_path), forecast=False, parameters={"Env": "a", "Other": 1})
    assert fake_target.opened == []
    # A Parameters section that is not a mapping leaves nothing to check here (the template check reports it).
    assert loop._check_parameters(SimpleNamespace(document={"Parameters": ["Env"]}, path=None), {}) is None


# ------------------------------------------------------------------------------------------ the last paths


def test_a_transient_failure_without_a_cancel_event_sleeps_its_backoff(tmp_path):
    session = FakeSession(VPC_TRANSIENT, GREEN)
    runner = runner_for(session, tmp_path)
    assert runner.cancel_event is None
    logs = execute(runner)
    assert (finish(runner, tmp_path)["status"], len(events_named(logs, "transient_backoff"))) == ("succeeded", 1)


def test_a_sandbox_limitation_stops_the_run_unrepaired_and_unretried(tmp_path):
    from orchestrator.model import SANDBOX_LIMITATION_MARKER

    limited = Outcome(StackStatus.CREATE_FAILED, [
        ("Topic", "CREATE_FAILED", f"{SANDBOX_LIMITATION_MARKER} the embedded sandbox's model of AWS::SNS::Topic "
                                   "failed while creating it (KeyError: 'TopicName')")])
    session = FakeSession(limited, GREEN)
    runner = runner_for(session, tmp_path)
    logs = execute(runner)
    report = finish(runner, tmp_path)
    assert report["status"] == "failed" and report["deployments"] == 1
    assert report["stop_reason"].startswith("sandbox limitation: the embedded sandbox cannot build Topic (AWS::SNS::Topic)")
    assert report["attempts"][0]["repairs"] == []
    assert [f["logical_id"] for f in report["sandbox_limitations"]] == ["Topic"]
    assert events_named(logs, "stopping_sandbox_limitation")[0]["resources"] == ["Topic"]


def test_a_lost_create_answer_whose_stack_cannot_be_looked_up_keeps_the_first_error(tmp_path):
    class Unreachable(FakeSession):
        def create_stack(self, name, **args):
            self.calls.append(("create", name))
            raise aws.AwsError("CreateStack: Read timeout on endpoint URL", code="ReadTimeout")

        def describe_stack(self, name):
            raise aws.AwsError("DescribeStacks: Could not connect to the endpoint URL", code="EndpointConnectionError")

    runner = runner_for(Unreachable(), tmp_path)
    with capture_logs() as logs, pytest.raises(aws.AwsError, match="Read timeout"):
        runner.execute()
    assert events_named(logs, "create_reconcile_failed")[0]["error"].startswith("DescribeStacks: Could not connect")
    assert runner.run.deployments == 0 and not runner.created


def test_options_given_whole_take_keyword_overrides_on_top(fake_target, tmp_path):
    from orchestrator.config import load_config

    fake_target.session = FakeSession(ROLE_FAILS, ROLE_FAILS, GREEN)
    config = load_config({"run.journal": str(tmp_path / "journal.jsonl"), "retry.base_s": 0.001,
                          "retry.cap_s": 0.002, "watch.poll_min_s": 0.0}, project_dir=tmp_path)
    options = RunOptions.build(config, max_attempts=5, forecast=False, stack_name=STACK, run_id="0123456789",
                               report_json=tmp_path / "report.json", write_template=False)
    result = loop.deploy_with_autofix(TEMPLATE, options=options, max_attempts=1, progress=None)
    assert result.report["stop_reason"] == "attempt budget of 1 spent"
    assert options.max_attempts == 5, "the caller's options object is not changed"
    with pytest.raises(BadInput, match="max attempts must be a positive integer"):
        loop.deploy_with_autofix(TEMPLATE, options=options, max_attempts=0)

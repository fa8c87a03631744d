"""The watcher on recorded event pages (botocore Stubber), on a plain moto server, and the progress view."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer
from rich.console import Console

from orchestrator.aws.session import RUN_ID_TAG, AwsSession, RetryPolicy
from orchestrator.model import StackEvent, StackStatus
from orchestrator.deploy.progress import RunView
from orchestrator.aws.targets import DUMMY_CREDENTIALS, Target
from orchestrator.deploy.watcher import EventCollector, is_root_failure, watch

STACK = "web"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/web/1"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def ev(n: int, logical_id: str, status: str, reason: str = "", rtype: str = "AWS::S3::Bucket") -> dict:
    if logical_id == STACK:
        rtype = "AWS::CloudFormation::Stack"
    return {
        "StackId": STACK_ID,
        "EventId": f"e{n}",
        "StackName": STACK,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": "",
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(seconds=n),
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
    }


def stack_page(status: str) -> dict:
    return {"Stacks": [{"StackName": STACK, "StackId": STACK_ID, "StackStatus": status, "CreationTime": T0}]}


@pytest.fixture
def session():
    target = Target(kind="endpoint", endpoint_url="http://127.0.0.1:9", credentials=dict(DUMMY_CREDENTIALS))
    return AwsSession(target, retry=RetryPolicy(max_attempts=3, base_s=0, cap_s=0))


def events_call(stubber: Stubber, events: list[dict], *, token_in: str | None = None, token_out: str | None = None):
    expected = {"StackName": STACK}
    if token_in:
        expected["NextToken"] = token_in
    answer: dict = {"StackEvents": events}
    if token_out:
        answer["NextToken"] = token_out
    stubber.add_response("describe_stack_events", answer, expected)


def test_each_event_is_read_once_across_polls_and_pages(session):
    e1 = ev(1, STACK, "CREATE_IN_PROGRESS", "User Initiated")
    e2 = ev(2, "Bucket", "CREATE_IN_PROGRESS")
    e3 = ev(3, "Queue", "CREATE_IN_PROGRESS", rtype="AWS::SQS::Queue")
    e4 = ev(4, "Bucket", "CREATE_FAILED", "Bucket name already taken")
    e5 = ev(5, "Topic", "CREATE_IN_PROGRESS", rtype="AWS::SNS::Topic")
    e6 = ev(6, "Queue", "CREATE_COMPLETE", rtype="AWS::SQS::Queue")
    e7 = ev(7, "Topic", "CREATE_FAILED", "Resource creation cancelled", rtype="AWS::SNS::Topic")
    e8 = ev(8, STACK, "CREATE_FAILED", "The following resource(s) failed to create: [Bucket]")
    client = session.client("cloudformation")
    seen: list[str] = []
    failures: list[StackEvent] = []
    with Stubber(client) as stubber:
        # Poll 1: no cursor, two pages, newest first.
        stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
        events_call(stubber, [e3, e2], token_out="t1")
        events_call(stubber, [e1], token_in="t1")
        # Poll 2: the cursor (e3) is on the second page; the third page is never asked for.
        stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
        events_call(stubber, [e5, e4], token_out="t2")
        events_call(stubber, [e3, e2], token_in="t2", token_out="t3")
        # Poll 3: nothing new.
        stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
        events_call(stubber, [e5, e4])
        # Poll 4: terminal.
        stubber.add_response("describe_stacks", stack_page("CREATE_FAILED"))
        events_call(stubber, [e8, e7, e6, e5])
        result = watch(
            session,
            STACK,
            on_event=lambda e: seen.append(e.event_id),
            on_failure=failures.append,
            poll_min=0,
            poll_max=0,
        )
        stubber.assert_no_pending_responses()
    assert seen == ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"]
    assert [e.event_id for e in result.events] == seen
    assert result.final_status is StackStatus.CREATE_FAILED and result.terminal
    assert [e.event_id for e in failures] == ["e4"]
    assert result.first_failure.logical_id == "Bucket" and result.first_failure_at is not None
    assert [e.logical_id for e in result.failures] == ["Bucket"]  # the cancelled Topic is a cascade
    assert result.last_event_id == "e8"
    assert result.polls == 4


def test_watch_resumes_from_a_cursor(session):
    with Stubber(session.client("cloudformation")) as stubber:
        stubber.add_response("describe_stacks", stack_page("UPDATE_COMPLETE"))
        events_call(stubber, [ev(11, STACK, "UPDATE_COMPLETE"), ev(10, STACK, "UPDATE_IN_PROGRESS"), ev(9, STACK, "CREATE_COMPLETE")])
        result = watch(session, STACK, after_event_id="e9", poll_min=0, poll_max=0)
    assert [e.event_id for e in result.events] == ["e10", "e11"]
    assert result.final_status is StackStatus.UPDATE_COMPLETE and result.first_failure is None


@pytest.mark.parametrize(
    ("case", "stop_on_first_failure", "expected_status", "expected_polls"),
    [
        ("stops-at-rollback", True, StackStatus.ROLLBACK_IN_PROGRESS, 1),
        ("follows-rollback-to-the-end", False, StackStatus.ROLLBACK_COMPLETE, 2),
    ],
)
def test_rollback_handling(session, case, stop_on_first_failure, expected_status, expected_polls):
    failed = ev(2, "Role", "CREATE_FAILED", "Policy arn:aws:iam::aws:policy/X does not exist", rtype="AWS::IAM::Role")
    with Stubber(session.client("cloudformation")) as stubber:
        stubber.add_response("describe_stacks", stack_page("ROLLBACK_IN_PROGRESS"))
        events_call(stubber, [ev(3, STACK, "ROLLBACK_IN_PROGRESS"), failed, ev(1, STACK, "CREATE_IN_PROGRESS")])
        if not stop_on_first_failure:
            stubber.add_response("describe_stacks", stack_page("ROLLBACK_COMPLETE"))
            events_call(stubber, [ev(5, STACK, "ROLLBACK_COMPLETE"), ev(4, "Role", "DELETE_COMPLETE"), ev(3, STACK, "ROLLBACK_IN_PROGRESS")])
        result = watch(session, STACK, stop_on_first_failure=stop_on_first_failure, poll_min=0, poll_max=0)
        stubber.assert_no_pending_responses()
    assert result.final_status is expected_status
    assert result.polls == expected_polls
    assert result.stopped_at_rollback is stop_on_first_failure
    assert result.first_failure.event_id == "e2"


def test_poll_interval_adapts(session):
    slept: list[float] = []
    with Stubber(session.client("cloudformation")) as stubber:
        stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
        events_call(stubber, [ev(1, STACK, "CREATE_IN_PROGRESS")])
        for _ in range(4):
            stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
            events_call(stubber, [ev(1, STACK, "CREATE_IN_PROGRESS")])
        stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
        events_call(stubber, [ev(2, "Bucket", "CREATE_IN_PROGRESS"), ev(1, STACK, "CREATE_IN_PROGRESS")])
        stubber.add_response("describe_stacks", stack_page("CREATE_COMPLETE"))
        events_call(stubber, [ev(3, STACK, "CREATE_COMPLETE"), ev(2, "Bucket", "CREATE_IN_PROGRESS")])
        watch(session, STACK, poll_min=1.0, poll_max=5.0, sleep=slept.append)
    # Fast while events arrive, doubling up to poll_max while none do, fast again on the next event.
    assert slept == [1.0, 2.0, 4.0, 5.0, 5.0, 1.0]


def test_cancel_event_stops_the_watch(session):
    cancel = threading.Event()
    cancel.set()
    with Stubber(session.client("cloudformation")) as stubber:
        stubber.add_response("describe_stacks", stack_page("CREATE_IN_PROGRESS"))
        events_call(stubber, [ev(1, STACK, "CREATE_IN_PROGRESS")])
        result = watch(session, STACK, cancel_event=cancel, poll_min=30, poll_max=30)
    assert result.cancelled and result.final_status is StackStatus.CREATE_IN_PROGRESS and not result.terminal


def test_a_vanished_stack_counts_as_deleted(session):
    with Stubber(session.client("cloudformation")) as stubber:
        stubber.add_client_error(
            "describe_stacks", service_error_code="ValidationError", service_message="Stack with id web does not exist"
        )
        result = watch(session, STACK, poll_min=0, poll_max=0)
    assert result.final_status is StackStatus.DELETE_COMPLETE and result.events == []


def test_stack_event_log_lines_carry_bound_fields(session):
    from structlog.testing import capture_logs

    with Stubber(session.client("cloudformation")) as stubber, capture_logs() as logs:
        stubber.add_response("describe_stacks", stack_page("CREATE_FAILED"))
        events_call(stubber, [ev(2, "Bucket", "CREATE_FAILED", "Access Denied"), ev(1, STACK, "CREATE_IN_PROGRESS")])
        watch(session, STACK, poll_min=0, poll_max=0)
    lines = [entry for entry in logs if entry["event"] == "stack_event"]
    assert lines[-1]["logical_id"] == "Bucket" and lines[-1]["status"] == "CREATE_FAILED"
    assert lines[-1]["reason"] == "Access Denied" and lines[-1]["stack"] == STACK
    assert any(entry["event"] == "stack_failure_detected" for entry in logs)


@pytest.mark.parametrize(
    ("case", "logical_id", "status", "reason", "expected"),
    [
        ("resource-failure", "Bucket", "CREATE_FAILED", "Access Denied", True),
        ("cascade", "Bucket", "CREATE_FAILED", "Resource creation cancelled", False),
        ("stack-level", STACK, "CREATE_FAILED", "The following resource(s) failed to create: [Bucket]", False),
        ("success", "Bucket", "CREATE_COMPLETE", "", False),
    ],
)
def test_is_root_failure(case, logical_id, status, reason, expected):
    event = StackEvent("e", STACK, logical_id, "AWS::CloudFormation::Stack" if logical_id == STACK else "AWS::S3::Bucket", status, reason)
    assert is_root_failure(event) is expected


def test_watch_against_a_moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        target = Target(kind="endpoint", endpoint_url=f"http://{host}:{port}", credentials=dict(DUMMY_CREDENTIALS))
        session = AwsSession(target)
        template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
        stack_id = session.create_stack("watched", template, tags={RUN_ID_TAG: "r"})
        collected: list[StackEvent] = []
        result = watch(session, stack_id, on_event=EventCollector([collected.append]), poll_min=0.05, poll_max=0.2)
        assert result.final_status is StackStatus.CREATE_COMPLETE
        assert collected == result.events and collected[-1].status == "CREATE_COMPLETE"
        again = watch(session, stack_id, after_event_id=result.last_event_id, poll_min=0.05, poll_max=0.2)
        assert again.events == []
    finally:
        server.stop()


def test_progress_view_renders_resources_when_enabled():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    with RunView(enabled=True, console=console) as view, view.stack(f"attempt 1: create {STACK}") as table:
        for raw in (
            ev(1, STACK, "CREATE_IN_PROGRESS"),
            ev(2, "Bucket", "CREATE_IN_PROGRESS"),
            ev(3, "Bucket", "CREATE_FAILED", "Access Denied"),
            ev(4, STACK, "CREATE_FAILED"),
        ):
            table.on_event(_to_event(raw))
    text = out.getvalue()
    assert "Bucket" in text and "CREATE_FAILED" in text and "Access Denied" in text and "1 failed" in text


def test_progress_view_is_silent_when_disabled():
    out = io.StringIO()
    with RunView(enabled=False, console=Console(file=out)) as view, view.stack("attempt 1: create web") as table:
        table.on_event(_to_event(ev(2, "Bucket", "CREATE_IN_PROGRESS")))
    assert out.getvalue() == ""


def _to_event(raw: dict) -> StackEvent:
    return StackEvent(
        raw["EventId"], raw["StackName"], raw["LogicalResourceId"], raw["ResourceType"], raw["ResourceStatus"], raw["ResourceStatusReason"]
    )

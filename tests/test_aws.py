"""AwsSession against a plain moto server on 127.0.0.1, plus retry/translation behaviour with botocore Stubber."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import timedelta

import pytest
from botocore.stub import Stubber
from structlog.testing import capture_logs

from orchestrator.aws.session import (
    RUN_ID_TAG,
    TEMPLATE_BODY_LIMIT,
    AwsCredentialsMissing,
    AwsError,
    AwsSession,
    NoUpdatesToPerform,
    RetryPolicy,
    StackAlreadyExists,
    StackNotFound,
    StackNotUpdatable,
    TemplateRejected,
    is_retryable,
    redact_parameters,
)
from orchestrator.errors import BadInput, Refusal
from orchestrator.model import StackStatus
from orchestrator.aws.targets import DUMMY_CREDENTIALS, Target

FAST = RetryPolicy(max_attempts=4, max_wait_s=30.0, base_s=0.0, cap_s=0.0)
QUEUE_TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


@pytest.fixture
def session(moto_url):
    target = Target(kind="endpoint", endpoint_url=moto_url, credentials=dict(DUMMY_CREDENTIALS))
    return AwsSession(target, retry=FAST)


@pytest.fixture
def stub_session():
    # Port 9 (discard) on loopback: nothing is ever sent there, every answer comes from a Stubber.
    target = Target(kind="endpoint", endpoint_url="http://127.0.0.1:9", credentials=dict(DUMMY_CREDENTIALS))
    return AwsSession(target, retry=FAST)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_create_describe_delete_roundtrip(session):
    name = unique("roundtrip")
    stack_id = session.create_stack(name, QUEUE_TEMPLATE, tags={RUN_ID_TAG: "run-1"})
    assert stack_id.startswith("arn:aws:cloudformation:us-east-1:")
    stack = session.describe_stack(name)
    assert stack is not None and stack["StackName"] == name
    assert session.stack_status(name) is StackStatus.CREATE_COMPLETE
    events = session.iter_new_events(name)
    assert [e.status for e in events if e.logical_id == name] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert session.latest_event_id(name) == events[-1].event_id

    assert session.delete_stack(name, run_id="run-1") == stack_id
    assert session.wait_deleted(stack_id, timeout=30, poll_s=0.05) is StackStatus.DELETE_COMPLETE
    assert session.describe_stack(name) is None
    with pytest.raises(StackNotFound):
        session.stack_status(name)


def test_delete_of_missing_stack_returns_none(session):
    assert session.delete_stack(unique("never-created")) is None


@pytest.mark.parametrize(
    ("case", "tags", "run_id", "message"),
    [
        ("untagged", None, None, "does not carry the tag cfn-autofix:run-id"),
        ("other-run", {RUN_ID_TAG: "someone-else"}, "run-2", "its cfn-autofix:run-id is someone-else, not run-2"),
    ],
)
def test_delete_refuses_stacks_the_tool_did_not_create(session, case, tags, run_id, message):
    name = unique(case)
    session.create_stack(name, QUEUE_TEMPLATE, tags=tags)
    with pytest.raises(Refusal, match=message):
        session.delete_stack(name, run_id=run_id)
    assert session.stack_status(name) is StackStatus.CREATE_COMPLETE


def test_large_template_goes_through_s3(session):
    name = unique("large")
    big = json.dumps(
        {"Metadata": {"Padding": ["x" * 1000] * 60}, "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    )
    assert len(big.encode()) > TEMPLATE_BODY_LIMIT
    with capture_logs() as logs:
        session.create_stack(name, big, tags={RUN_ID_TAG: "run-big"})
    request = next(entry for entry in logs if entry["event"] == "stack_create_requested")
    assert request["via_s3"] is True
    assert session.stack_status(name) is StackStatus.CREATE_COMPLETE
    bucket = session.template_bucket()
    listed = session.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{name}/")
    assert [obj["Size"] for obj in listed["Contents"]] == [len(big.encode())]
    assert bucket in session.list_template_buckets()


def test_small_template_is_sent_inline(session):
    with capture_logs() as logs:
        session.create_stack(unique("small"), QUEUE_TEMPLATE)
    request = next(entry for entry in logs if entry["event"] == "stack_create_requested")
    assert request["via_s3"] is False


def test_upload_template_returns_a_url_create_stack_accepts(session):
    name = unique("byurl")
    url = session.upload_template(unique("bucket"), f"{name}/t.json", QUEUE_TEMPLATE)
    assert url.startswith("https://") and url.endswith(f"{name}/t.json")
    session.create_stack(name, url)
    assert session.stack_status(name) is StackStatus.CREATE_COMPLETE


def test_validate_template(session):
    assert "Parameters" in session.validate_template(QUEUE_TEMPLATE)
    with pytest.raises(TemplateRejected) as caught:
        session.validate_template("{not json")
    assert isinstance(caught.value, BadInput) and caught.value.exit_code == 2


def test_create_twice_is_already_exists(session):
    name = unique("twice")
    session.create_stack(name, QUEUE_TEMPLATE)
    with pytest.raises(StackAlreadyExists):
        session.create_stack(name, QUEUE_TEMPLATE)


def test_list_tagged_stacks_filters_by_tag_value_and_age(session):
    run = unique("run")
    tagged = [unique("tagged"), unique("tagged")]
    for name in tagged:
        session.create_stack(name, QUEUE_TEMPLATE, tags={RUN_ID_TAG: run})
    session.create_stack(unique("untagged"), QUEUE_TEMPLATE, tags={"team": "x"})
    found = session.list_tagged_stacks(RUN_ID_TAG, tag_value=run)
    assert sorted(item["stack_name"] for item in found) == sorted(tagged)
    assert all(item["tags"][RUN_ID_TAG] == run and item["status"] is StackStatus.CREATE_COMPLETE for item in found)
    assert session.list_tagged_stacks(RUN_ID_TAG, older_than=timedelta(hours=1), tag_value=run) == []


def test_delete_bucket_contents_removes_every_version(session):
    bucket = unique("versioned")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=bucket, Key="t.json", Body=body)
    s3.delete_object(Bucket=bucket, Key="t.json")  # adds a delete marker
    s3.put_object(Bucket=bucket, Key="other.json", Body=b"x")
    assert session.delete_bucket_contents(bucket) == 5
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    session.delete_bucket(bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# -- retries and error translation (Stubber stubs AWS itself, never our code) ----------------


def throttle(stubber: Stubber, operation: str, code: str = "Throttling", status: int = 400) -> None:
    stubber.add_client_error(operation, service_error_code=code, service_message="Rate exceeded", http_status_code=status)


def test_throttling_is_retried_then_succeeds(stub_session):
    client = stub_session.client("cloudformation")
    with Stubber(client) as stubber, capture_logs() as logs:
        throttle(stubber, "describe_stacks")
        throttle(stubber, "describe_stacks", code="ThrottlingException")
        stubber.add_response("describe_stacks", {"Stacks": [_stack("s", "CREATE_COMPLETE")]})
        assert stub_session.stack_status("s") is StackStatus.CREATE_COMPLETE
        stubber.assert_no_pending_responses()
    retries = [entry for entry in logs if entry["event"] == "aws_retry"]
    assert [(r["operation"], r["attempt"]) for r in retries] == [("DescribeStacks", 1), ("DescribeStacks", 2)]
    assert "Throttling" in retries[0]["error"]


def test_retries_are_bounded_in_count(stub_session):
    client = stub_session.client("cloudformation")
    with Stubber(client) as stubber, capture_logs() as logs:
        for _ in range(FAST.max_attempts):
            throttle(stubber, "describe_stacks", code="RequestLimitExceeded")
        with pytest.raises(AwsError) as caught:
            stub_session.describe_stack("s")
        stubber.assert_no_pending_responses()
    assert caught.value.retryable and caught.value.code == "RequestLimitExceeded"
    assert len([entry for entry in logs if entry["event"] == "aws_retry"]) == FAST.max_attempts - 1


def test_retries_are_bounded_in_total_time():
    target = Target(kind="endpoint", endpoint_url="http://127.0.0.1:9", credentials=dict(DUMMY_CREDENTIALS))
    slept: list[float] = []
    # Any jittered wait up to 100 s would overrun a 1 ms budget, so the first failure is the last attempt.
    session = AwsSession(target, retry=RetryPolicy(max_attempts=50, max_wait_s=0.001, base_s=100, cap_s=100), sleep=slept.append)
    with Stubber(session.client("cloudformation")) as stubber:
        throttle(stubber, "describe_stacks")
        with pytest.raises(AwsError):
            session.describe_stack("s")
        stubber.assert_no_pending_responses()
    assert slept == []


def test_server_errors_are_retried_and_validation_errors_are_not(stub_session):
    client = stub_session.client("cloudformation")
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_stacks", service_error_code="InternalFailure", http_status_code=500)
        stubber.add_response("describe_stacks", {"Stacks": [_stack("s", "UPDATE_COMPLETE")]})
        assert stub_session.stack_status("s") is StackStatus.UPDATE_COMPLETE
        stubber.add_client_error(
            "update_stack", service_error_code="ValidationError", service_message="No updates are to be performed."
        )
        with pytest.raises(NoUpdatesToPerform):
            stub_session.update_stack("s", QUEUE_TEMPLATE)
        stubber.add_client_error(
            "update_stack",
            service_error_code="ValidationError",
            service_message="Stack:arn:x is in ROLLBACK_COMPLETE state and can not be updated.",
        )
        with pytest.raises(StackNotUpdatable):
            stub_session.update_stack("s", QUEUE_TEMPLATE)
        stubber.assert_no_pending_responses()


def test_connection_errors_are_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    target = Target(kind="endpoint", endpoint_url=f"http://127.0.0.1:{closed_port}", credentials=dict(DUMMY_CREDENTIALS))
    session = AwsSession(target, retry=RetryPolicy(max_attempts=2, max_wait_s=10, base_s=0, cap_s=0))
    with capture_logs() as logs, pytest.raises(AwsError, match="cannot reach the endpoint") as caught:
        session.describe_stack("s")
    assert caught.value.retryable
    assert [entry["attempt"] for entry in logs if entry["event"] == "aws_retry"] == [1]


@pytest.mark.parametrize(
    ("case", "code", "message", "status", "expected"),
    [
        ("throttling", "Throttling", "x", 400, True),
        ("rate-exceeded-text", "SomethingElse", "Rate exceeded", 400, True),
        ("too-many-requests", "TooManyRequestsException", "x", 429, True),
        ("server-error", "InternalFailure", "x", 500, True),
        ("validation", "ValidationError", "bad", 400, False),
        ("access-denied", "AccessDenied", "no", 403, False),
    ],
)
def test_is_retryable(case, code, message, status, expected):
    from botocore.exceptions import ClientError

    exc = ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")
    assert is_retryable(exc) is expected


def test_rejected_credentials_are_a_refusal(stub_session):
    with Stubber(stub_session.client("sts")) as stubber:
        stubber.add_client_error("get_caller_identity", service_error_code="InvalidClientTokenId", http_status_code=403)
        with pytest.raises(AwsCredentialsMissing) as caught:
            stub_session.caller_identity()
    assert isinstance(caught.value, Refusal) and caught.value.exit_code == 3


def test_noecho_values_never_reach_logs_or_errors(stub_session):
    secret = "hunter2-very-secret"
    params = {"DbPassword": secret, "Env": "dev"}
    with Stubber(stub_session.client("cloudformation")) as stubber, capture_logs() as logs:
        throttle(stubber, "create_stack")
        stubber.add_client_error(
            "create_stack", service_error_code="ValidationError", service_message=f"Parameter value {secret} is invalid"
        )
        with pytest.raises(AwsError) as caught:
            stub_session.create_stack("s", QUEUE_TEMPLATE, parameters=params, noecho={"DbPassword"})
    assert secret not in str(caught.value)
    assert secret not in repr(logs)
    request = next(entry for entry in logs if entry["event"] == "stack_create_requested")
    assert request["parameters"] == {"DbPassword": "****", "Env": "dev"}


def test_redact_parameters():
    assert redact_parameters({"A": "1", "B": "2"}, {"B"}) == {"A": "1", "B": "****"}


def test_target_repr_hides_credentials():
    target = Target(kind="endpoint", endpoint_url="http://x", credentials={"aws_secret_access_key": "s3cr3t"})
    assert "s3cr3t" not in repr(target) and "s3cr3t" not in json.dumps(target.to_json())


def _stack(name: str, status: str, tags: dict | None = None) -> dict:
    from datetime import datetime, timezone

    return {
        "StackName": name,
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1",
        "StackStatus": status,
        "CreationTime": datetime(2024, 1, 1, tzinfo=timezone.utc),
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }

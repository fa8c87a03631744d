"""Deleting a stack as AWS does: DeletionPolicy keeps resources, S3 refuses a bucket that holds objects
(DELETE_FAILED, and what the bucket needs stays), and both a run's clean-up and `sweep` empty their own stack's
bucket and delete again; a stack this tool did not tag is never emptied."""

from __future__ import annotations

import json

import pytest
import structlog

from orchestrator.aws.journal import Journal
from orchestrator.aws.session import AwsSession
from orchestrator.aws.sweep import RUN_ID_TAG, SweepItem, delete_emptying_buckets, delete_item
from orchestrator.aws.targets import Target, sandbox_client
from orchestrator.deploy import outcome
from orchestrator.errors import Refusal
from orchestrator.template import loads_template

RUN = "run-delete-1"
KEY = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
    "Action": "kms:*", "Resource": "*"}]}}}


def _session(sandbox) -> AwsSession:
    return AwsSession(Target(kind="endpoint", region="us-east-1", endpoint_url=sandbox.endpoint_url,
                             credentials={k: v for k, v in sandbox.credentials.items() if k != "region_name"}))


def _create(session: AwsSession, name: str, resources: dict, *, tagged: bool = True) -> str:
    """The new stack's id (a deleted stack's events are read by id)."""
    session.create_stack(name, json.dumps({"Resources": resources}), tags={RUN_ID_TAG: RUN} if tagged else {})
    stack = session.describe_stack(name)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return stack["StackId"]


def _physical(session: AwsSession, name: str, logical_id: str) -> str:
    return next(r["physical_id"] for r in session.stack_resources(name) if r["logical_id"] == logical_id)


def _events(cf, name: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for event in reversed(cf.describe_stack_events(StackName=name)["StackEvents"]):
        found.setdefault(event["LogicalResourceId"], []).append(
            (event["ResourceStatus"], event.get("ResourceStatusReason", "")))
    return found


def _encrypted_bucket_and_queue() -> dict:
    return {
        "Key": KEY,
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]}}}]}}},
        "Queue": {"Type": "AWS::SQS::Queue"},
    }


def test_a_bucket_holding_an_object_fails_to_delete_and_what_it_needs_stays(sandbox) -> None:
    session, cf, s3 = _session(sandbox), sandbox_client(sandbox, "cloudformation"), sandbox_client(sandbox, "s3")
    _create(session, "holds-data", _encrypted_bucket_and_queue())
    bucket, key = _physical(session, "holds-data", "Bucket"), _physical(session, "holds-data", "Key")
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")

    cf.delete_stack(StackName="holds-data")
    stack = cf.describe_stacks(StackName="holds-data")["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    events = _events(cf, "holds-data")
    status, reason = events["Bucket"][-1]
    assert status == "DELETE_FAILED"
    assert reason.startswith("The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; "
                             "Error Code: BucketNotEmpty;")
    assert events["Queue"][-1][0] == "DELETE_COMPLETE"
    # The bucket still needs its key: CloudFormation never starts deleting it.
    assert [s for s, _ in events["Key"]] == ["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert sandbox_client(sandbox, "kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"

    # Emptied, the next DeleteStack tries the failed bucket again, then the key.
    s3.delete_object(Bucket=bucket, Key="report.csv")
    cf.delete_stack(StackName="holds-data")
    assert session.describe_stack("holds-data") is None
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert sandbox_client(sandbox, "kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_deletion_policy_retain_keeps_the_resource(sandbox) -> None:
    session, cf, s3 = _session(sandbox), sandbox_client(sandbox, "cloudformation"), sandbox_client(sandbox, "s3")
    stack_id = _create(session, "keeps-data", {"Bucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
                                    "Queue": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete"}})
    bucket = _physical(session, "keeps-data", "Bucket")
    s3.put_object(Bucket=bucket, Key="kept", Body=b"1")

    cf.delete_stack(StackName="keeps-data")
    assert session.describe_stack("keeps-data") is None
    events = _events(cf, stack_id)
    assert events["Bucket"][-1][0] == "DELETE_SKIPPED"
    assert "DELETE_IN_PROGRESS" not in [s for s, _ in events["Bucket"]]
    assert events["Queue"][-1][0] == "DELETE_COMPLETE"
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"1"


@pytest.mark.parametrize(("policy", "after_rollback"), [("RetainExceptOnCreate", "DELETE_COMPLETE"),
                                                        ("Retain", "DELETE_SKIPPED")])
def test_a_failed_creation_rolls_back_what_only_it_created(sandbox, policy: str, after_rollback: str) -> None:
    cf, s3 = sandbox_client(sandbox, "cloudformation"), sandbox_client(sandbox, "s3")
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": policy, "Properties": {"BucketName": f"rb-{policy.lower()}"}},
        # Created after the bucket, and refused: IAM has no such managed policy.
        "Role": {"Type": "AWS::IAM::Role", "DependsOn": "Bucket", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                         "Principal": {"Service": "codedeploy.amazonaws.com"}}]},
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AWSCodeDeployRole"]}},
    }
    cf.create_stack(StackName=f"rollback-{policy.lower()}", TemplateBody=json.dumps({"Resources": resources}))
    assert cf.describe_stacks(StackName=f"rollback-{policy.lower()}")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert _events(cf, f"rollback-{policy.lower()}")["Bucket"][-1][0] == after_rollback
    assert (f"rb-{policy.lower()}" in {b["Name"] for b in s3.list_buckets()["Buckets"]}) == (after_rollback == "DELETE_SKIPPED")


def test_a_runs_clean_up_empties_its_own_stacks_bucket_and_deletes_it(sandbox, tmp_path) -> None:
    session, s3 = _session(sandbox), sandbox_client(sandbox, "s3")
    _create(session, "run-stack", _encrypted_bucket_and_queue())
    bucket = _physical(session, "run-stack", "Bucket")
    s3.put_object(Bucket=bucket, Key="written-during-the-run", Body=b"x")
    template = loads_template(json.dumps({"Resources": _encrypted_bucket_and_queue()}), fmt="json", name="t.json")
    run = outcome.RunState(run_id=RUN, target="embedded", region="us-east-1", stack_name="run-stack",
                           strategy="keep", source=template, template=template)
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record_stack(RUN, "run-stack", "embedded", "us-east-1")

    outcome.cleanup(run, session, journal, keep_stack=False, log=structlog.get_logger(), created=True)
    assert (run.stack_deleted, run.stack_left) == (True, False)
    assert session.describe_stack("run-stack") is None
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert journal.pending() == []


def test_sweep_empties_every_version_of_its_stacks_bucket_once(sandbox) -> None:
    session, s3 = _session(sandbox), sandbox_client(sandbox, "s3")
    _create(session, "old-run", {"Data": {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": "sweep-versioned-data", "VersioningConfiguration": {"Status": "Enabled"}}}})
    s3.put_bucket_versioning(Bucket="sweep-versioned-data", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="sweep-versioned-data", Key="a", Body=b"1")
    s3.put_object(Bucket="sweep-versioned-data", Key="a", Body=b"2")
    s3.delete_object(Bucket="sweep-versioned-data", Key="a")  # only versions and a delete marker are left
    calls: list[str] = []
    real_delete = session.delete_stack
    session.delete_stack = lambda name, **kw: calls.append(name) or real_delete(name, **kw)  # type: ignore[method-assign]

    item = SweepItem(region="us-east-1", stack_name="old-run", run_id=RUN, status="CREATE_COMPLETE", created=None,
                     action="would delete")
    delete_item(session, item, wait_timeout=60)
    assert (item.action, item.buckets_emptied, len(calls)) == ("deleted", ["sweep-versioned-data"], 2), item.detail
    assert "sweep-versioned-data" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_stack_without_the_run_tag_is_refused_before_anything_is_emptied(sandbox) -> None:
    session, s3 = _session(sandbox), sandbox_client(sandbox, "s3")
    _create(session, "not-ours", {"Bucket": {"Type": "AWS::S3::Bucket"}}, tagged=False)
    bucket = _physical(session, "not-ours", "Bucket")
    s3.put_object(Bucket=bucket, Key="theirs", Body=b"keep me")
    with pytest.raises(Refusal):
        delete_emptying_buckets(session, "not-ours", run_id=RUN, timeout=60)
    assert s3.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"keep me"
    assert session.describe_stack("not-ours")["StackStatus"] == "CREATE_COMPLETE"


def test_a_child_stack_that_fails_to_delete_fails_its_parent(sandbox) -> None:
    cf, s3 = sandbox_client(sandbox, "cloudformation"), sandbox_client(sandbox, "s3")
    s3.create_bucket(Bucket="children")
    child = {"Resources": {"Data": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "child-data"}}}}
    s3.put_object(Bucket="children", Key="child.json", Body=json.dumps(child).encode())
    parent = {"Resources": {"Child": {"Type": "AWS::CloudFormation::Stack",
                                      "Properties": {"TemplateURL": "https://children.s3.amazonaws.com/child.json"}}}}
    cf.create_stack(StackName="parent", TemplateBody=json.dumps(parent))
    s3.put_object(Bucket="child-data", Key="x", Body=b"1")

    cf.delete_stack(StackName="parent")
    stack = cf.describe_stacks(StackName="parent")["Stacks"][0]
    assert (stack["StackStatus"], stack["StackStatusReason"]) == (
        "DELETE_FAILED", "The following resource(s) failed to delete: [Child]. ")
    status, reason = _events(cf, "parent")["Child"][-1]
    assert status == "DELETE_FAILED"
    assert reason.startswith("Embedded stack arn:aws:cloudformation:us-east-1:") and reason.endswith(
        "was not successfully deleted: The following resource(s) failed to delete: [Data]. ")

    s3.delete_object(Bucket="child-data", Key="x")
    cf.delete_stack(StackName="parent")
    assert not [s for s in cf.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]


def test_a_runs_clean_up_names_what_the_template_keeps(sandbox, tmp_path) -> None:
    session = _session(sandbox)
    resources = {"Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain"}, "Queue": {"Type": "AWS::SQS::Queue"}}
    _create(session, "kept-run", resources)
    template = loads_template(json.dumps({"Resources": resources}), fmt="json", name="t.json")
    run = outcome.RunState(run_id=RUN, target="aws", region="us-east-1", stack_name="kept-run", strategy="keep",
                           source=template, template=template)
    logs = _physical(session, "kept-run", "Logs")
    outcome.cleanup(run, session, Journal(tmp_path / "journal.jsonl"), keep_stack=False, log=structlog.get_logger(),
                    created=True)
    assert run.stack_deleted
    assert run.retained == [{"logical_id": "Logs", "resource_type": "AWS::Logs::LogGroup", "physical_id": logs}]
    groups = sandbox_client(sandbox, "logs").describe_log_groups()["logGroups"]
    assert logs in {g["logGroupName"] for g in groups}

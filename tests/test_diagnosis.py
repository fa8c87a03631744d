"""Diagnosis of recorded stack events: root causes only, matched to playbooks, evidence kept."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from orchestrator.deploy.diagnosis import diagnose, diagnose_events
from orchestrator.template.graph import build_graph
from orchestrator.model import StackEvent
from orchestrator.catalog.playbooks import load_playbooks
from orchestrator.template import loads_template

EVENTS = Path(__file__).parent / "fixtures" / "events"


def recorded(name: str) -> list[StackEvent]:
    """Events as DescribeStackEvents returns them (newest first unless the fixture says otherwise)."""
    raw = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return [
        StackEvent(
            event_id=item["EventId"],
            stack_name=item["StackName"],
            logical_id=item["LogicalResourceId"],
            resource_type=item["ResourceType"],
            status=item["ResourceStatus"],
            reason=item.get("ResourceStatusReason", ""),
            physical_id=item.get("PhysicalResourceId", ""),
            timestamp=datetime.fromisoformat(item["Timestamp"].replace("Z", "+00:00")) if "Timestamp" in item else None,
        )
        for item in raw
    ]


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks()


def by_id(failures):
    return {f.logical_id: f for f in failures}


def test_seed_scenario_three_root_causes(playbooks):
    failures = by_id(diagnose(recorded("seed_three_defects.json"), playbooks=playbooks))
    assert set(failures) == {"CodeDeployServiceRole", "ApplicationLogGroup", "PublicRoute"}
    assert failures["CodeDeployServiceRole"].playbook == "managed-policy-not-attachable"
    assert failures["CodeDeployServiceRole"].details["policy_arn"] == "arn:aws:iam::aws:policy/AWSCodeDeployRole"
    assert failures["ApplicationLogGroup"].playbook == "logs-kms-key-policy"
    assert failures["ApplicationLogGroup"].details["log_group_arn"].endswith(":log-group:/aws/application/httpd-access-dev")
    route = failures["PublicRoute"]
    assert route.playbook == "missing-depends-on"
    assert route.details["gateway"] == "igw-0f1e2d3c4b5a69788"
    # physical ids seen on other events map back to logical ids for the repairs
    assert route.details["physical_ids"]["igw-0f1e2d3c4b5a69788"] == "InternetGateway"
    assert route.details["physical_ids"]["rtb-0c4d5e6f7a8b9c0d1"] == "PublicRouteTable"


def test_cascades_and_stack_events_are_dropped(playbooks):
    result = diagnose_events(recorded("seed_three_defects.json"), playbooks=playbooks)
    dropped = dict(result.dropped)
    assert dropped["GatewayAttachment"].startswith("cascade: Resource creation cancelled")
    assert "ErrorLogGroup" in dropped
    assert all(f.resource_type != "AWS::CloudFormation::Stack" for f in result.failures)
    assert result.delete_failures == []


def test_any_order_gives_the_same_diagnosis(playbooks):
    events = recorded("seed_three_defects.json")
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    expected = sorted((f.logical_id, f.playbook) for f in diagnose(events, playbooks=playbooks))
    assert sorted((f.logical_id, f.playbook) for f in diagnose(shuffled, playbooks=playbooks)) == expected


DEPENDENT_TEMPLATE = """
Resources:
  AppRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AWSConfigRole]
  AppFunction:
    Type: AWS::Lambda::Function
    Properties:
      Role: !GetAtt AppRole.Arn
      Runtime: python3.12
      Handler: index.handler
      Code: {ZipFile: "x"}
  AmiInstance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: ami-0123456789abcdef0
  ArtifactBucket:
    Type: AWS::S3::Bucket
"""


def test_failure_of_a_dependent_of_a_failed_resource_is_dropped_with_graph(playbooks):
    events = recorded("dependent_and_unknown.json")
    graph = build_graph(loads_template(DEPENDENT_TEMPLATE, fmt="yaml"))
    result = diagnose_events(events, graph, playbooks)
    failures = by_id(result.failures)
    assert set(failures) == {"AppRole", "AmiInstance"}
    assert dict(result.dropped)["AppFunction"] == "depends on failed AppRole"
    assert failures["AppRole"].playbook == "managed-policy-not-attachable"
    assert failures["AmiInstance"].playbook == "resource-not-found"
    assert failures["AmiInstance"].status_reason.startswith("Resource handler returned message")


def test_without_graph_the_dependent_is_kept(playbooks):
    failures = by_id(diagnose(recorded("dependent_and_unknown.json"), playbooks=playbooks))
    assert failures["AppFunction"].playbook == "iam-eventual-consistency"


def test_delete_failed_is_kept_apart(playbooks):
    result = diagnose_events(recorded("dependent_and_unknown.json"), playbooks=playbooks)
    assert [f.logical_id for f in result.delete_failures] == ["ArtifactBucket"]
    assert result.delete_failures[0].status == "DELETE_FAILED"
    assert result.delete_failures[0].playbook == "bucket-not-empty"
    assert "ArtifactBucket" not in by_id(result.failures)


def test_same_resource_across_attempts_is_one_failure_newest_reason(playbooks):
    result = diagnose_events(recorded("two_attempts_shuffled.json"), playbooks=playbooks)
    failures = by_id(result.failures)
    # WebSecurityGroup failed (throttled) in attempt 1 and was created in attempt 2: resolved.
    assert set(failures) == {"NatEip"}
    eip = failures["NatEip"]
    assert eip.status_reason.startswith("Resource handler returned message")
    assert eip.playbook == "missing-depends-on"
    assert eip.details["vpc"] == "vpc-0ee55ff66aa77bb88"
    assert eip.details["physical_ids"]["vpc-0ee55ff66aa77bb88"] == "Vpc"


def test_events_without_timestamps_are_read_newest_first(playbooks):
    # The rollback's UPDATE_COMPLETE of WebSecurityGroup restores it; it does not resolve the failure.
    result = diagnose_events(recorded("throttled_update_no_timestamps.json"), playbooks=playbooks)
    assert [(f.logical_id, f.status, f.playbook) for f in result.failures] == [
        ("WebSecurityGroup", "UPDATE_FAILED", "transient")
    ]
    assert dict(result.dropped)["WebLoadBalancer"] == "cascade: Resource update cancelled"


def test_stack_level_failure_alone_is_kept_and_classified(playbooks):
    failures = diagnose(recorded("stack_level_only.json"), playbooks=playbooks)
    assert len(failures) == 1
    assert failures[0].resource_type == "AWS::CloudFormation::Stack"
    assert failures[0].playbook == "template-invalid"
    assert failures[0].status_reason.startswith("Transform AWS::Serverless-2016-10-31 failed")


def test_no_events_no_failures(playbooks):
    assert diagnose([], playbooks=playbooks) == []


CORPUS_EVENTS = Path(__file__).parent / "corpora" / "failures" / "events"


def corpus_events(name: str) -> list[StackEvent]:
    raw = json.loads((CORPUS_EVENTS / name).read_text(encoding="utf-8"))["StackEvents"]
    return [
        StackEvent(
            event_id=item["EventId"], stack_name=item["StackName"], logical_id=item["LogicalResourceId"],
            resource_type=item["ResourceType"], status=item["ResourceStatus"],
            reason=item.get("ResourceStatusReason", ""), physical_id=item.get("PhysicalResourceId", ""),
            timestamp=datetime.fromisoformat(item["Timestamp"].replace("Z", "+00:00")),
        )
        for item in raw
    ]


def test_nested_stack_is_followed_to_the_childs_root_cause(playbooks):
    child = corpus_events("nested-child.json")
    child_id = next(e.physical_id for e in child if e.logical_id == e.stack_name)
    asked = []

    def nested(stack_id):
        asked.append(stack_id)
        return child if stack_id == child_id else None

    result = diagnose_events(corpus_events("nested-parent.json"), playbooks=playbooks, nested=nested)
    assert asked == [child_id]
    assert [(f.logical_id, f.playbook) for f in result.failures] == [("NatEip", "quota-exceeded")]
    assert result.failures[0].details["stack_id"] == child_id
    assert result.nested == [child_id]
    assert dict(result.dropped)["NetworkStack"] == f"nested stack: root cause in {child_id}"


def test_nested_stack_without_its_events_is_unknown_with_where_to_look(playbooks):
    result = diagnose_events(corpus_events("nested-parent.json"), playbooks=playbooks)
    assert [(f.logical_id, f.playbook) for f in result.failures] == [("NetworkStack", "unknown")]
    assert "nested stack arn:aws:cloudformation:" in result.failures[0].details["note"]


def _event(n, logical, status, reason="", rtype="AWS::SQS::Queue", stack="s"):
    from datetime import timedelta, timezone

    base = datetime(2024, 5, 1, tzinfo=timezone.utc)
    return StackEvent(event_id=f"e{n}", stack_name=stack, logical_id=logical, resource_type=rtype, status=status,
                      reason=reason, physical_id=f"{logical}-p", timestamp=base + timedelta(seconds=n))


def test_embedded_stack_summary_of_a_nested_stack_is_a_cascade_at_stack_level(playbooks):
    stack = "AWS::CloudFormation::Stack"
    events = [
        _event(0, "s", "CREATE_IN_PROGRESS", "User Initiated", stack),
        _event(1, "Queue", "CREATE_FAILED", "Policy document must be version 2012-10-17 or greater."),
        _event(2, "s", "CREATE_FAILED", "Embedded stack arn:aws:cloudformation:us-east-1:1:stack/x/y was not "
               "successfully created: The following resource(s) failed to create: [Queue].", stack),
    ]
    assert [(f.logical_id, f.playbook) for f in diagnose(events, playbooks=playbooks)] == [
        ("Queue", "policy-version-missing")
    ]


def test_root_causes_are_earliest_first_and_rollback_failures_are_consequences(playbooks):
    stack = "AWS::CloudFormation::Stack"
    events = [
        _event(0, "s", "CREATE_IN_PROGRESS", "User Initiated", stack),
        _event(1, "First", "CREATE_FAILED", "The maximum number of addresses has been reached."),
        _event(2, "Second", "CREATE_FAILED", "Policy document must be version 2012-10-17 or greater."),
        _event(3, "s", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [First, Second].", stack),
        _event(4, "Other", "UPDATE_FAILED", "Rate exceeded"),
    ]
    events[1], events[2] = events[2], events[1]  # out of order in the input; timestamps decide
    result = diagnose_events(events, playbooks=playbooks)
    assert [f.logical_id for f in result.failures] == ["First", "Second"]
    assert result.root_cause.logical_id == "First"
    assert dict(result.dropped)["Other"].startswith("failed during the rollback")


def test_only_the_newest_failed_operation_counts(playbooks):
    stack = "AWS::CloudFormation::Stack"
    events = [
        _event(0, "s", "CREATE_IN_PROGRESS", "User Initiated", stack),
        _event(1, "Old", "CREATE_FAILED", "The maximum number of VPCs has been reached."),
        _event(2, "s", "ROLLBACK_COMPLETE", "", stack),
        _event(3, "s", "DELETE_IN_PROGRESS", "User Initiated", stack),
        _event(4, "s", "DELETE_COMPLETE", "", stack),
        _event(5, "s", "CREATE_IN_PROGRESS", "User Initiated", stack),
        _event(6, "New", "CREATE_FAILED", "No export named shared-vpc found."),
        _event(7, "s", "ROLLBACK_COMPLETE", "", stack),
    ]
    assert [(f.logical_id, f.playbook) for f in diagnose(events, playbooks=playbooks)] == [("New", "export-not-found")]

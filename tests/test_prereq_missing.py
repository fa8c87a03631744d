"""`prerequisite-missing` end to end: what a deployment's events say exists nowhere is classified, never repaired or retried.

Recorded events: tests/corpora/failures/events/export-not-found.json (a real stack's "No export named ...
found", source in sources.json) and the Lambda NoSuchKey relay of messages.jsonl (resource-not-found-012).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3

from orchestrator import deploy_with_autofix
from orchestrator.deploy import loop, outcome
from orchestrator.deploy.artifacts import Lookup
from orchestrator.deploy.missing import classify
from orchestrator.deploy.prereqs import Prepared
from orchestrator.model import Failure, StackEvent, StackStatus
from orchestrator.options import RunOptions
from orchestrator.aws.journal import Journal
from orchestrator.template import loads_template

from test_loop_paths import BOOKS, CFG, STACK, FakeSession, execute, finish

CORPUS = Path(__file__).parent / "corpora" / "failures"

# The importing side of the recorded run, as aws-cloudformation-templates' Fargate service writes it.
SERVICE = {
    "Parameters": {"StackName": {"Type": "String", "Default": "production"}},
    "Resources": {
        "LogGroup": {"Type": "AWS::Logs::LogGroup"},
        "TaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": "service",
            "ExecutionRoleArn": {"Fn::ImportValue": {"Fn::Join": [":", [{"Ref": "StackName"}, "ECSTaskExecutionRole"]]}},
            "ContainerDefinitions": [{"Name": "web", "Image": "nginx"}]}},
    },
}
FUNCTION = {
    "Parameters": {"CodeBucket": {"Type": "String", "Default": "corpus-artifacts"}},
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
        "Handler": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "app.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Fn::Sub": "${AWS::Region}/handler.zip"}}}},
    },
}


def recorded_export_events() -> list[dict]:
    return json.loads((CORPUS / "events" / "export-not-found.json").read_text())["StackEvents"]


def recorded_message(message_id: str) -> str:
    for line in (CORPUS / "messages.jsonl").read_text().splitlines():
        item = json.loads(line)
        if item["id"] == message_id:
            return item["message"]
    raise KeyError(message_id)


class Replay(FakeSession):
    """A session whose deployment answers with recorded events (oldest first), renamed to this run's stack."""

    def __init__(self, recorded: list[dict]):
        super().__init__()
        self.recorded = recorded

    def _deploy(self, operation: str, template: str) -> None:
        self.templates.append(json.loads(template))
        for item in sorted(self.recorded, key=lambda e: e["Timestamp"]):
            own = item["LogicalResourceId"] == item["StackName"]
            number = next(self.ids)
            self.events.append(StackEvent(
                event_id=f"e{number}", stack_name=STACK, logical_id=STACK if own else item["LogicalResourceId"],
                resource_type=item["ResourceType"], status=item["ResourceStatus"],
                reason=item.get("ResourceStatusReason", ""), physical_id=item.get("PhysicalResourceId", ""),
                timestamp=self.clock + timedelta(seconds=number)))
        self.status = StackStatus(self.events[-1].status)


def replay_runner(document: dict, session: Replay, tmp_path: Path, known: dict) -> loop._Runner:
    template = loads_template(json.dumps(document, indent=2) + "\n", fmt="json", name="t.json")
    run = outcome.RunState(run_id="0123456789", target="embedded", region="us-east-1", stack_name=STACK,
                           strategy="keep", source=template, template=template)
    options = RunOptions.build(CFG, max_attempts=5, progress=False)
    prepared = Prepared(parameters={}, lookup=Lookup(known=known))
    run.prerequisites = prepared.to_json()
    return loop._Runner(run, options, session=session, target=None, journal=Journal(tmp_path / "journal.jsonl"),
                        playbooks=BOOKS, prepared=prepared)


def test_recorded_no_export_events_stop_the_run_as_prerequisite_missing_with_the_importing_resource(tmp_path):
    session = Replay(recorded_export_events())
    runner = replay_runner(SERVICE, session, tmp_path, {"StackName": "production", "AWS::Region": "us-east-1"})
    logs = execute(runner)
    report = finish(runner, tmp_path)
    assert report["status"] == "failed"
    where = "Resources.TaskDefinition.Properties.ExecutionRoleArn"
    assert report["stop_reason"] == f"prerequisite-missing: export production:ECSTaskExecutionRole ({where})"
    [missing] = report["prerequisites_missing"]
    assert missing == {**missing, "class": "prerequisite-missing", "logical_id": "TaskDefinition",
                       "resource_type": "AWS::ECS::TaskDefinition", "property": where,
                       "what": "export production:ECSTaskExecutionRole", "source": "deployment"}
    # One deployment, no repair, no retry; the diagnosis is kept as evidence.
    assert session.calls == [("create", STACK)] and report["deployments"] == 1
    [attempt] = report["attempts"]
    assert attempt["repairs"] == [] and [f["playbook"] for f in attempt["failures"]] == ["export-not-found"]
    assert [e["event"] for e in logs if e["event"].startswith("stopping_")] == ["stopping_prerequisite_missing"]
    assert report["needs_human"] == [] and report["unknown"] == []


def test_an_import_only_the_deployment_names_points_at_the_import_the_known_values_could_not_decide(tmp_path):
    session = Replay(recorded_export_events())
    runner = replay_runner(SERVICE, session, tmp_path, {})  # StackName unknown to the preflight
    execute(runner)
    [missing] = finish(runner, tmp_path)["prerequisites_missing"]
    assert (missing["logical_id"], missing["what"]) == ("TaskDefinition", "export production:ECSTaskExecutionRole")


def test_recorded_lambda_no_such_key_names_the_s3_location_and_the_property(tmp_path):
    message = recorded_message("resource-not-found-012")
    assert "NoSuchKey" in message
    stack = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/x"
    events = [
        {"StackName": STACK, "LogicalResourceId": STACK, "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "CREATE_IN_PROGRESS", "ResourceStatusReason": "User Initiated", "Timestamp": "1", "PhysicalResourceId": stack},
        {"StackName": STACK, "LogicalResourceId": "Role", "ResourceType": "AWS::IAM::Role",
         "ResourceStatus": "CREATE_COMPLETE", "Timestamp": "2"},
        {"StackName": STACK, "LogicalResourceId": "Handler", "ResourceType": "AWS::Lambda::Function",
         "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": message, "Timestamp": "3"},
        {"StackName": STACK, "LogicalResourceId": STACK, "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "ROLLBACK_COMPLETE", "Timestamp": "4", "PhysicalResourceId": stack},
    ]
    session = Replay(events)
    runner = replay_runner(FUNCTION, session, tmp_path, {"CodeBucket": "corpus-artifacts", "AWS::Region": "eu-west-1"})
    execute(runner)
    report = finish(runner, tmp_path)
    assert report["stop_reason"] == ("prerequisite-missing: s3://corpus-artifacts/eu-west-1/handler.zip "
                                     "(Resources.Handler.Properties.Code)")
    [missing] = report["prerequisites_missing"]
    assert (missing["logical_id"], missing["resource_type"]) == ("Handler", "AWS::Lambda::Function")
    assert session.calls == [("create", STACK)] and report["attempts"][0]["repairs"] == []


def test_failures_that_name_no_missing_prerequisite_are_left_to_the_playbooks():
    document = {"Resources": {"Bucket": {"Type": "AWS::S3::BucketPolicy", "Properties": {}}}}
    failures = [Failure(logical_id="Bucket", resource_type="AWS::S3::BucketPolicy", status="CREATE_FAILED",
                        status_reason="The specified bucket does not exist", playbook="resource-not-found"),
                Failure(logical_id="Role", resource_type="AWS::IAM::Role", status="CREATE_FAILED",
                        status_reason="Policy arn:aws:iam::aws:policy/X does not exist or is not attachable.",
                        playbook="managed-policy-not-attachable")]
    assert classify(failures, lambda template: (document, {})) == []


def test_a_childs_template_url_that_exists_nowhere_is_prerequisite_missing_in_the_child(tmp_path: Path, sandbox) -> None:
    # The parent is local, the child local; the grandchild's URL comes from a parameter the child is passed,
    # so only the deployment finds that the object is not there (the project has no such file either).
    (tmp_path / "children").mkdir()
    (tmp_path / "parent.yaml").write_text(
        "Resources:\n"
        "  Child:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n"
        "      TemplateURL: children/child.yaml\n"
        "      Parameters:\n"
        "        Bucket: !Sub 'published-${AWS::AccountId}'\n")
    (tmp_path / "children" / "child.yaml").write_text(
        "Parameters:\n"
        "  Bucket: {Type: String}\n"
        "Resources:\n"
        "  Queue: {Type: AWS::SQS::Queue}\n"
        "  Grandchild:\n"
        "    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n"
        "      TemplateURL: !Sub 'https://${Bucket}.s3.amazonaws.com/releases/grandchild.yaml'\n")
    originals = {p: p.read_text() for p in tmp_path.rglob("*.yaml")}
    result = deploy_with_autofix(tmp_path / "parent.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 report_json=tmp_path / "report.json")
    report = result.report
    assert result.status == "failed" and report["deployments"] == 1
    [missing] = report["prerequisites_missing"]
    account = boto3.client("sts", endpoint_url=sandbox.endpoint_url, **sandbox.credentials).get_caller_identity()["Account"]
    assert missing == {**missing, "class": "prerequisite-missing", "logical_id": "Grandchild",
                       "property": "Resources.Grandchild.Properties.TemplateURL",
                       "what": f"s3://published-{account}/releases/grandchild.yaml",
                       "template": str((tmp_path / "children" / "child.yaml").resolve())}
    assert report["stop_reason"].startswith(f"prerequisite-missing: s3://published-{account}/releases/grandchild.yaml")
    assert report["attempts"][0]["repairs"] == [] and report["repaired_children"] == []
    assert {p: p.read_text() for p in tmp_path.rglob("*.yaml")} == originals


def test_a_verify_cell_names_its_missing_prerequisite_in_junit_and_markdown(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from typer.testing import CliRunner

    from orchestrator.cli import app

    importer = Path(__file__).parent / "fixtures" / "prereqs" / "importer.yaml"
    (tmp_path / "importer.yaml").write_text(importer.read_text())
    (tmp_path / ".taskcat.yml").write_text("tests:\n  shared:\n    template: importer.yaml\n"
                                           "    parameters: {ExporterStack: shared}\n")
    result = CliRunner().invoke(app, ["--log-json", "verify", "--from-taskcat", str(tmp_path / ".taskcat.yml"),
                                      "--workers", "1", "--out-dir", str(tmp_path / "out"),
                                      "--junit", str(tmp_path / "junit.xml"), "--report-md", str(tmp_path / "r.md")],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    expected = "prerequisite-missing: export shared-QueueArn (Resources.Subscription.Properties.Endpoint)"
    [failure] = ET.parse(tmp_path / "junit.xml").getroot().iter("failure")
    assert (failure.get("type"), failure.get("message")) == ("PrerequisiteMissing", expected)
    assert expected in (tmp_path / "r.md").read_text()

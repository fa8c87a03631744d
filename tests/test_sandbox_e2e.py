"""End-to-end tests of the embedded sandbox through boto3, exactly as an AWS client talks to CloudFormation."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from orchestrator.sandbox import FaultConfig, Sandbox, SandboxConfig
from orchestrator.aws.targets import sandbox_client

FIXTURES = Path(__file__).parent / "fixtures" / "sandbox"
HANDLER = re.compile(r'^Resource handler returned message: ".*" \(RequestToken: [0-9a-f-]{36}, HandlerErrorCode: \w+\)$')


def body(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text()


def create(sandbox: Sandbox, name: str, template: str, **kwargs: Any) -> dict:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"], **kwargs)
    return cf.describe_stacks(StackName=name)["Stacks"][0]


def events(sandbox: Sandbox, name: str) -> list[dict]:
    """Oldest first (DescribeStackEvents answers newest first)."""
    pages = sandbox_client(sandbox, "cloudformation").get_paginator("describe_stack_events").paginate(StackName=name)
    return list(reversed([e for page in pages for e in page["StackEvents"]]))


def failed(evts: list[dict]) -> dict[str, str]:
    return {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in evts if e["ResourceStatus"] == "CREATE_FAILED"}


def leftovers(sandbox: Sandbox) -> dict[str, list]:
    """Everything a stack could have left in the account (defaults of a fresh account excluded)."""
    ec2, iam = sandbox_client(sandbox, "ec2"), sandbox_client(sandbox, "iam")
    keys = sandbox_client(sandbox, "kms")
    return {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "igws": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]],
        "eips": [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]],
        "nats": [n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"],
        "instances": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                      if i["State"]["Name"] != "terminated"],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "log_groups": [g["logGroupName"] for g in sandbox_client(sandbox, "logs").describe_log_groups()["logGroups"]],
        "buckets": [b["Name"] for b in sandbox_client(sandbox, "s3").list_buckets()["Buckets"]],
        "load_balancers": [lb["LoadBalancerArn"] for lb in sandbox_client(sandbox, "elbv2").describe_load_balancers()["LoadBalancers"]],
        "asgs": [g["AutoScalingGroupName"] for g in sandbox_client(sandbox, "autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]],
        "keys": [k["KeyId"] for k in keys.list_keys()["Keys"]
                 if keys.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"],
    }


def assert_empty(sandbox: Sandbox) -> None:
    left = {kind: items for kind, items in leftovers(sandbox).items() if items}
    assert left == {}


# ------------------------------------------------------------------------------------------ green path


def test_fixed_web_tier_reaches_create_complete(sandbox: Sandbox) -> None:
    stack = create(sandbox, "web", body("web_tier"))
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["LoadBalancerDNS"].endswith(".elb.amazonaws.com")
    assert outputs["VpcId"].startswith("vpc-")
    resources = sandbox_client(sandbox, "cloudformation").list_stack_resources(StackName="web")["StackResourceSummaries"]
    assert len(resources) == 40
    assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
    # CodeDeploy and the scaling policy are real models too (issue 11): nothing is a stand-in.
    assert sandbox.emulated_resources("web") == []
    fidelity = sandbox.fidelity("web")
    assert len(fidelity["modeled"]) == 40 and fidelity["stand_in"] == [] and not fidelity["sandbox_limitations"]
    assert sandbox_client(sandbox, "codedeploy").list_deployment_groups(
        applicationName=sandbox_client(sandbox, "codedeploy").list_applications()["applications"][0])["deploymentGroups"]
    assert sandbox_client(sandbox, "cloudwatch").describe_alarms()["MetricAlarms"][0]["Dimensions"]
    # What moto alone gets wrong: the key policy is usable, KmsKeyId kept, managed policies attached.
    kms = sandbox_client(sandbox, "kms")
    key_id = kms.list_keys()["Keys"][0]["KeyId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"]
    assert "AllowCloudWatchLogs" in kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    groups = sandbox_client(sandbox, "logs").describe_log_groups()["logGroups"]
    assert len(groups) == 3 and all(g["kmsKeyId"].endswith(key_id) for g in groups)
    iam = sandbox_client(sandbox, "iam")
    role = next(r["RoleName"] for r in iam.list_roles()["Roles"] if "CodeDeployServiceRole" in r["RoleName"])
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"]


def test_events_show_waves_newest_first(sandbox: Sandbox) -> None:
    create(sandbox, "web", body("web_tier"))
    pages = sandbox_client(sandbox, "cloudformation").get_paginator("describe_stack_events").paginate(StackName="web")
    newest_first = [e for page in pages for e in page["StackEvents"]]
    stamps = [e["Timestamp"] for e in newest_first]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps)
    assert newest_first[0]["ResourceStatus"] == "CREATE_COMPLETE" and newest_first[0]["LogicalResourceId"] == "web"
    order = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(newest_first)]
    # A resource starts only after what it references completed.
    assert order.index(("VPC", "CREATE_COMPLETE")) < order.index(("PublicSubnet1", "CREATE_IN_PROGRESS"))
    assert order.index(("AttachGateway", "CREATE_COMPLETE")) < order.index(("PublicRoute", "CREATE_IN_PROGRESS"))
    assert order.index(("WebServerGroup", "CREATE_COMPLETE")) < order.index(("CodeDeployDeploymentGroup", "CREATE_IN_PROGRESS"))
    initiated = [e for e in newest_first if e.get("ResourceStatusReason") == "Resource creation Initiated"]
    assert len(initiated) == 40 and all(e["PhysicalResourceId"] for e in initiated)


# ------------------------------------------------------------------------------------------ failure classes


FAILURE_CLASSES = [
    pytest.param("web_tier_bad_managed_policy", "CodeDeployServiceRole",
                 r"Policy arn:aws:iam::aws:policy/AWSCodeDeployRole does not exist or is not attachable\. \(Service: Iam, "
                 r"Status Code: 404, .*HandlerErrorCode: NotFound\)", id="wrong managed-policy arn"),
    pytest.param("web_tier_bad_key_policy", "AccessLogGroup",
                 r"The specified KMS key does not exist or is not allowed to be used with Arn "
                 r"'arn:aws:logs:us-east-1:\d{12}:log-group:/webtier/dev/access'", id="key policy without regional logs principal"),
    pytest.param("web_tier_route_race", "PublicRoute",
                 r"Route table rtb-[0-9a-f]+ and network gateway igw-[0-9a-f]+ belong to different networks",
                 id="route to igw without path to its attachment"),
]


@pytest.mark.parametrize(("fixture", "root", "reason"), FAILURE_CLASSES)
def test_failure_class_rolls_back(sandbox: Sandbox, fixture: str, root: str, reason: str) -> None:
    stack = create(sandbox, "web", body(fixture))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    evts = events(sandbox, "web")
    reasons = failed(evts)
    assert re.search(reason, reasons[root])
    assert HANDLER.match(reasons[root])
    cascades = {lid for lid, text in reasons.items() if text == "Resource creation cancelled"}
    assert cascades and root not in cascades
    roots = set(reasons) - cascades
    assert all(not r.startswith("Resource creation cancelled") for lid, r in reasons.items() if lid in roots)
    rollback = next(e for e in evts if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rollback["ResourceStatusReason"] == (
        f"The following resource(s) failed to create: [{', '.join(sorted(reasons))}]. Rollback requested by user.")
    statuses = [e["ResourceStatus"] for e in evts if e["LogicalResourceId"] == "web"]
    assert statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    # Everything started is deleted during the rollback, in reverse order, and nothing is left.
    started = {e["LogicalResourceId"] for e in evts if e["ResourceStatus"] == "CREATE_IN_PROGRESS"} - {"web"}
    deleted = {e["LogicalResourceId"] for e in evts if e["ResourceStatus"] == "DELETE_COMPLETE"}
    assert started == deleted
    assert_empty(sandbox)


def test_key_policy_failure_reports_every_log_group(sandbox: Sandbox) -> None:
    create(sandbox, "web", body("web_tier_bad_key_policy"))
    reasons = failed(events(sandbox, "web"))
    groups = {lid for lid, text in reasons.items() if "is not allowed to be used with Arn" in text}
    assert groups == {"AccessLogGroup", "ErrorLogGroup", "ApplicationLogGroup"}


def test_update_of_rolled_back_stack_is_refused_with_aws_text(sandbox: Sandbox) -> None:
    stack = create(sandbox, "web", body("web_tier_bad_managed_policy"))
    with pytest.raises(ClientError) as caught:
        sandbox_client(sandbox, "cloudformation").update_stack(StackName="web", TemplateBody=body("web_tier"))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == f"Stack:{stack['StackId']} is in ROLLBACK_COMPLETE state and can not be updated."


@pytest.mark.parametrize(("case", "option"), [("DisableRollback", {"DisableRollback": True}), ("OnFailure DO_NOTHING", {"OnFailure": "DO_NOTHING"})])
def test_disable_rollback_keeps_resources_then_update_creates_what_is_missing(sandbox: Sandbox, case: str, option: dict) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    stack = create(sandbox, "web", body("web_tier_route_race"), **option)
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["DisableRollback"] is True
    assert stack["StackStatusReason"].startswith("The following resource(s) failed to create: [")
    reasons = failed(events(sandbox, "web"))
    assert "belong to different networks" in reasons["PublicRoute"]
    before = {r["LogicalResourceId"]: r for r in cf.list_stack_resources(StackName="web")["StackResourceSummaries"]}
    kept = {lid for lid, r in before.items() if r["ResourceStatus"] == "CREATE_COMPLETE"}
    assert {"VPC", "InternetGateway", "PublicRouteTable"} <= kept
    assert leftovers(sandbox)["vpcs"]  # nothing was rolled back

    cf.update_stack(StackName="web", TemplateBody=body("web_tier"), Capabilities=["CAPABILITY_IAM"])
    stack = cf.describe_stacks(StackName="web")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    after = {r["LogicalResourceId"]: r for r in cf.list_stack_resources(StackName="web")["StackResourceSummaries"]}
    assert len(after) == 40
    assert {r["ResourceStatus"] for r in after.values()} <= {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    # What succeeded the first time is kept, not built again.
    assert all(after[lid]["PhysicalResourceId"] == before[lid]["PhysicalResourceId"] for lid in kept)
    update_events = [e for e in events(sandbox, "web") if e["LogicalResourceId"] in kept
                     and e["ResourceStatus"] == "CREATE_IN_PROGRESS"]
    assert len(update_events) == 2 * len(kept)  # the two events of the first creation only


def test_update_failing_again_with_rollback_disabled_stays_update_failed(sandbox: Sandbox) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    create(sandbox, "web", body("web_tier_route_race"), DisableRollback=True)
    cf.update_stack(StackName="web", TemplateBody=body("web_tier_three_defects"), Capabilities=["CAPABILITY_IAM"])
    stack = cf.describe_stacks(StackName="web")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_FAILED"
    cf.update_stack(StackName="web", TemplateBody=body("web_tier"), Capabilities=["CAPABILITY_IAM"])
    assert cf.describe_stacks(StackName="web")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_delete_from_create_failed_removes_everything(sandbox: Sandbox) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    stack = create(sandbox, "web", body("web_tier_bad_key_policy"), DisableRollback=True)
    assert leftovers(sandbox)["vpcs"]
    cf.delete_stack(StackName="web")
    assert cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert_empty(sandbox)
    with pytest.raises(ClientError):
        cf.describe_stacks(StackName="web")


def test_read_calls_never_create_resources(sandbox: Sandbox) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    create(sandbox, "web", body("web_tier_bad_managed_policy"))
    for _ in range(2):
        cf.list_stack_resources(StackName="web")
        cf.describe_stack_resources(StackName="web")
        cf.describe_stack_resource(StackName="web", LogicalResourceId="VPC")
    assert_empty(sandbox)
    detail = cf.describe_stack_resource(StackName="web", LogicalResourceId="CodeDeployServiceRole")["StackResourceDetail"]
    assert detail["ResourceStatus"] == "DELETE_COMPLETE"


def test_stack_name_taken(sandbox: Sandbox) -> None:
    create(sandbox, "web", body("web_tier_bad_managed_policy"))
    with pytest.raises(ClientError) as caught:
        create(sandbox, "web", body("web_tier"))
    assert caught.value.response["Error"]["Code"] == "AlreadyExistsException"


def test_change_sets_follow_the_same_model(sandbox: Sandbox) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_change_set(StackName="cs", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body("web_tier_bad_managed_policy"))
    cf.execute_change_set(StackName="cs", ChangeSetName="first")
    assert cf.describe_stacks(StackName="cs")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "does not exist or is not attachable" in failed(events(sandbox, "cs"))["CodeDeployServiceRole"]
    cf.delete_stack(StackName="cs")
    cf.create_change_set(StackName="cs2", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=body("web_tier"))
    cf.execute_change_set(StackName="cs2", ChangeSetName="first")
    assert cf.describe_stacks(StackName="cs2")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


# ------------------------------------------------------------------------------------------ isolation


def test_parallel_sandboxes_do_not_see_each_other(sandbox_factory: Any) -> None:
    boxes = [sandbox_factory(), sandbox_factory()]
    assert boxes[0].account_id != boxes[1].account_id
    results: dict[int, str] = {}

    def run(index: int) -> None:
        template = body("web_tier") if index == 0 else body("web_tier_bad_key_policy")
        results[index] = create(boxes[index], "same-name", template)["StackStatus"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: "CREATE_COMPLETE", 1: "ROLLBACK_COMPLETE"}
    for index, box in enumerate(boxes):
        summaries = sandbox_client(box, "cloudformation").list_stacks()["StackSummaries"]
        assert [s["StackId"].split(":")[4] for s in summaries] == [box.account_id]
        assert sandbox_client(box, "sts").get_caller_identity()["Account"] == box.account_id
    assert leftovers(boxes[0])["vpcs"] and not leftovers(boxes[1])["vpcs"]


# ------------------------------------------------------------------------------------------ emulation, parameters, races


SMALL = {
    "Parameters": {
        "Ami": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"},
        "Ubuntu": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                   "Default": "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"},
        "Zone": {"Type": "AWS::EC2::AvailabilityZone::Name"},
    },
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}},
        "Build": {"Type": "AWS::CodeBuild::Project", "Properties": {"Name": "builder", "ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]},
                                                                    "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2"},
                                                                    "Artifacts": {"Type": "NO_ARTIFACTS"},
                                                                    "Environment": {"Type": "LINUX_CONTAINER",
                                                                                    "ComputeType": "BUILD_GENERAL1_SMALL",
                                                                                    "Image": "aws/codebuild/standard:7.0"}}},
    },
    "Outputs": {
        "Ami": {"Value": {"Ref": "Ami"}}, "Ubuntu": {"Value": {"Ref": "Ubuntu"}}, "Zone": {"Value": {"Ref": "Zone"}},
        "Zones": {"Value": {"Fn::Join": [",", {"Fn::GetAZs": ""}]}},
        "BuildArn": {"Value": {"Fn::GetAtt": ["Build", "Arn"]}}, "Build": {"Value": {"Ref": "Build"}},
    },
}


def test_public_parameters_zones_and_emulated_types_resolve(sandbox_factory: Any) -> None:
    box = sandbox_factory(region="ap-southeast-1")
    stack = create(box, "small", json.dumps(SMALL), Parameters=[{"ParameterKey": "Zone", "ParameterValue": "ap-southeast-1b"}])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert re.fullmatch(r"ami-[0-9a-f]+", out["Ami"]) and re.fullmatch(r"ami-[0-9a-f]{17}", out["Ubuntu"])
    assert out["Zones"] == "ap-southeast-1a,ap-southeast-1b,ap-southeast-1c"
    assert out["Build"] == "builder"
    assert out["BuildArn"] == f"arn:aws:codebuild:ap-southeast-1:{box.account_id}:project/builder"
    assert box.emulated_resources("small") == []
    assert sandbox_client(box, "codebuild").batch_get_projects(names=["builder"])["projects"][0]["arn"] == out["BuildArn"]


def test_unknown_availability_zone_is_a_validation_error(sandbox: Sandbox) -> None:
    with pytest.raises(ClientError) as caught:
        create(sandbox, "small", json.dumps(SMALL), Parameters=[{"ParameterKey": "Zone", "ParameterValue": "us-east-1z"}])
    assert "parameter value us-east-1z for parameter name Zone does not exist" in caught.value.response["Error"]["Message"]


def test_role_policy_race_fails_the_consumer(sandbox: Sandbox) -> None:
    template = json.loads(json.dumps(SMALL))
    del template["Parameters"]["Zone"], template["Outputs"]["Zone"]
    template["Resources"]["BuildPolicy"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "build", "Roles": [{"Ref": "Role"}],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}}}
    assert create(sandbox, "race", json.dumps(template))["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "CodeBuild is not authorized to perform: sts:AssumeRole" in failed(events(sandbox, "race"))["Build"]
    template["Resources"]["Build"]["DependsOn"] = "BuildPolicy"
    assert create(sandbox, "fixed", json.dumps(template))["StackStatus"] == "CREATE_COMPLETE"


def test_intermittent_race_is_reproducible_with_a_seed(sandbox_factory: Any) -> None:
    def outcomes(seed: int) -> list[str]:
        box = sandbox_factory(config=SandboxConfig(race_probability=0.5, seed=seed))
        return [create(box, f"s{i}", body("web_tier_route_race"))["StackStatus"] for i in range(4)]

    first = outcomes(11)
    assert first == outcomes(11)
    assert set(first) <= {"CREATE_COMPLETE", "ROLLBACK_COMPLETE"}


# ------------------------------------------------------------------------------------------ faults


def test_throttling_answers_rate_exceeded(sandbox_factory: Any) -> None:
    box = sandbox_factory(config=SandboxConfig(faults=FaultConfig(throttle_rate=1.0, operations=("ListStacks",))))
    no_retry = sandbox_client(box, "cloudformation", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError) as caught:
        no_retry.list_stacks()
    assert caught.value.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert no_retry.describe_stacks()["Stacks"] == []  # other operations pass


def test_faults_are_absorbed_by_client_retries(sandbox_factory: Any) -> None:
    faults = FaultConfig(throttle_rate=0.3, error_5xx_rate=0.2, connection_resets=1, seed=5)
    box = sandbox_factory(config=SandboxConfig(faults=faults))
    cf = sandbox_client(box, "cloudformation", config=Config(retries={"max_attempts": 10, "mode": "standard"}))
    for _ in range(8):
        assert cf.list_stacks()["StackSummaries"] == []
    kinds = {fault for _, fault in box.faults.injected}
    assert "reset" in kinds and kinds & {"throttle", "5xx"}


def test_transient_resource_failure_fails_once(sandbox_factory: Any) -> None:
    box = sandbox_factory(config=SandboxConfig(faults=FaultConfig(failing_resources=("AlarmTopic",))))
    first = create(box, "one", body("web_tier"))
    assert first["StackStatus"] == "ROLLBACK_COMPLETE"
    assert failed(events(box, "one"))["AlarmTopic"] == "Internal Failure"
    assert create(box, "two", body("web_tier"))["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.parametrize(("case", "template"), [("not json", "{not json"), ("no resources", "{}"), ("yaml error", "Resources: [")])
def test_unparseable_template_is_a_validation_error(sandbox: Sandbox, case: str, template: str) -> None:
    with pytest.raises(ClientError) as caught:
        sandbox_client(sandbox, "cloudformation").create_stack(StackName="bad", TemplateBody=template)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["Error"]["Message"].startswith("Template format error:")
    assert sandbox_client(sandbox, "cloudformation").list_stacks()["StackSummaries"] == []

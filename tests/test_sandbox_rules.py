"""Unit tests of the sandbox's fidelity rules, one by one, on hand-built checks (no server)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from orchestrator.sandbox import rules
from orchestrator.sandbox.config import FaultConfig, SandboxConfig
from orchestrator.sandbox.context import SandboxContext
from orchestrator.sandbox.emulated import EmulatedResource, fallback_attribute
from orchestrator.sandbox.faults import FaultInjector
from orchestrator.sandbox.patches_template import availability_zones, public_parameter_value

ACCOUNT, REGION = "000000000777", "eu-west-1"


def ref(name: str) -> dict:
    return {"Ref": name}


NETWORK = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "Igw": {"Type": "AWS::EC2::InternetGateway"},
    "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"VpcId": ref("Vpc"), "InternetGatewayId": ref("Igw")}},
    "PublicSubnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": ref("Vpc"), "MapPublicIpOnLaunch": True}},
    "PrivateSubnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": ref("Vpc")}},
    "Rt": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": ref("Vpc")}},
}


class _Model:
    def __init__(self, physical: str, **attrs: Any):
        self.physical_resource_id = physical
        self.__dict__.update(attrs)


def make_check(resources: dict, logical_id: str, properties: dict | None = None, *, config: SandboxConfig | None = None,
               physical_name: str = "name", models: dict | None = None, statuses: dict | None = None) -> rules.Check:
    definition = resources[logical_id]
    models = models or {"Vpc": _Model("vpc-1"), "Rt": _Model("rtb-1"), "Igw": _Model("igw-1")}
    return rules.Check(
        ctx=SandboxContext(account_id=ACCOUNT, region=REGION, config=config or SandboxConfig()),
        logical_id=logical_id, resource_type=definition["Type"], definition=definition,
        properties=properties if properties is not None else dict(definition.get("Properties") or {}),
        physical_name=physical_name, graph=rules.TemplateGraph.build(resources), lookup=models.get,
        account_id=ACCOUNT, region=REGION, status_of=(statuses or {}).get,
    )


# ------------------------------------------------------------------------------------------ template graph


def test_template_graph_reads_ref_getatt_sub_and_depends_on() -> None:
    graph = rules.TemplateGraph.build({
        "A": {"Type": "T", "Properties": {"X": ref("B"), "Y": {"Fn::GetAtt": ["C", "Arn"]}, "Z": {"Fn::Sub": "${D.Arn}/${AWS::Region}/${!Literal}"},
                                          "W": {"Fn::Sub": ["${Local}-${E}", {"Local": ref("F")}]}}, "DependsOn": ["G"]},
        "B": {"Type": "T"}, "C": {"Type": "T"}, "D": {"Type": "T"}, "E": {"Type": "T"}, "F": {"Type": "T"},
        "G": {"Type": "T", "DependsOn": "B"},
    })
    assert graph.deps["A"] == {"B", "C", "D", "E", "F", "G"}
    assert graph.has_path("A", "B") and graph.has_path("G", "B")
    assert not graph.has_path("B", "A")


# ------------------------------------------------------------------------------------------ reason texts


def test_handler_reason_has_aws_shape() -> None:
    failure = rules.RuleFailure("Policy x does not exist or is not attachable.", "NotFound", "Iam", 404)
    reason = failure.reason(lambda: "00000000-0000-4000-8000-000000000000")
    assert re.fullmatch(
        r'Resource handler returned message: "Policy x does not exist or is not attachable\. \(Service: Iam, '
        r'Status Code: 404, Request ID: [0-9a-f-]{36}\)" \(RequestToken: [0-9a-f-]{36}, HandlerErrorCode: NotFound\)',
        reason,
    )


def test_legacy_and_plain_reasons() -> None:
    legacy = rules.RuleFailure("VPC vpc-1 has no internet gateway", service="ElasticLoadBalancingV2",
                               error_code="InvalidSubnet", form="legacy").reason(lambda: "id")
    assert legacy == ("VPC vpc-1 has no internet gateway (Service: ElasticLoadBalancingV2; Status Code: 400; "
                      "Error Code: InvalidSubnet; Request ID: id; Proxy: null)")
    assert rules.RuleFailure("Internal Failure", form="plain").reason(lambda: "id") == "Internal Failure"


# ------------------------------------------------------------------------------------------ managed policies


ROLE = {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}


@pytest.mark.parametrize(
    ("case", "arns", "fails"),
    [
        ("correct service-role path", ["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"], False),
        ("policy at the wrong path", ["arn:aws:iam::aws:policy/AWSCodeDeployRole"], True),
        ("second of two is wrong", ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AWSConfigRole"], True),
        ("missing customer policy", [f"arn:aws:iam::{ACCOUNT}:policy/NotThere"], True),
        ("no managed policies", [], False),
    ],
)
def test_managed_policy_arns(case: str, arns: list[str], fails: bool) -> None:
    failure = rules.managed_policy_arns(make_check(ROLE, "Role", {"ManagedPolicyArns": arns}))
    assert (failure is not None) is fails
    if fails:
        bad = next(a for a in arns if "ReadOnlyAccess" not in a)
        assert failure.message == f"Policy {bad} does not exist or is not attachable."
        assert (failure.handler_code, failure.status_code) == ("NotFound", 404)


def test_managed_policy_rule_ignores_other_types() -> None:
    resources = {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/Nope"]}}}
    assert rules.managed_policy_arns(make_check(resources, "Fn")) is None


# ------------------------------------------------------------------------------------------ logs + KMS


def _key_with_policy(policy: dict) -> str:
    from moto.kms.models import kms_backends

    key = kms_backends[ACCOUNT][REGION].create_key(json.dumps(policy), "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "", [])
    return key.arn


LOGS_STATEMENT = {
    "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "Resource": "*",
}


@pytest.mark.parametrize(
    ("case", "statements", "fails"),
    [
        ("regional logs principal", [LOGS_STATEMENT], False),
        ("global logs principal", [{**LOGS_STATEMENT, "Principal": {"Service": "logs.amazonaws.com"}}], True),
        ("condition for other groups", [{**LOGS_STATEMENT, "Condition": {"ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other/*"}}}], True),
    ],
)
def test_logs_kms_key(case: str, statements: list[dict], fails: bool) -> None:
    key_arn = _key_with_policy({"Version": "2012-10-17", "Statement": statements})
    resources = {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": key_arn}}}
    failure = rules.logs_kms_key(make_check(resources, "Group", physical_name="/app/web"))
    assert (failure is not None) is fails
    if fails:
        assert failure.message == ("The specified KMS key does not exist or is not allowed to be used with Arn "
                                   f"'arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/web'")


def test_logs_kms_key_that_does_not_exist() -> None:
    resources = {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {
        "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"}}}
    failure = rules.logs_kms_key(make_check(resources, "Group", physical_name="g"))
    assert failure is not None and "does not exist or is not allowed" in failure.message


def test_key_policy_is_stored_as_json_and_kept_on_log_group() -> None:
    key_check = make_check({"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}}}}, "Key")
    key = _Model("k", policy={"Statement": []})
    rules.store_key_policy_as_json(key_check, key)
    assert json.loads(key.policy) == {"Statement": []}
    group_check = make_check({"G": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": "arn:k"}}}, "G")
    group = _Model("g", kms_key_id=None)
    rules.keep_log_group_kms_key(group_check, group)
    assert group.kms_key_id == "arn:k"


# ------------------------------------------------------------------------------------------ gateway race


def _with(**extra: dict) -> dict:
    return {**NETWORK, **extra}


ROUTE = {"Type": "AWS::EC2::Route", "Properties": {"RouteTableId": ref("Rt"), "GatewayId": ref("Igw"), "DestinationCidrBlock": "0.0.0.0/0"}}


@pytest.mark.parametrize(
    ("case", "resources", "logical_id", "message"),
    [
        ("route without path", _with(Route=ROUTE), "Route", "Route table rtb-1 and network gateway igw-1 belong to different networks"),
        ("route starting after the attachment completed", _with(Route=ROUTE), "Route", None),
        ("route starting while the attachment is in progress", _with(Route=ROUTE), "Route",
         "Route table rtb-1 and network gateway igw-1 belong to different networks"),
        ("eip in vpc, unassociated", _with(Eip={"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}}), "Eip", None),
        ("eip associated with an instance", _with(I={"Type": "AWS::EC2::Instance", "Properties": {"SubnetId": ref("PrivateSubnet")}},
                                                  Eip={"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc", "InstanceId": ref("I")}}),
         "Eip", "Network vpc-1 has no Internet gateway attached"),
        ("eip standard", _with(Eip={"Type": "AWS::EC2::EIP", "Properties": {}}), "Eip", None),
        ("nat gateway", _with(Nat={"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": ref("PublicSubnet")}}), "Nat",
         "Network vpc-1 has no Internet gateway attached"),
        ("private nat gateway", _with(Nat={"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": ref("PublicSubnet"), "ConnectivityType": "private"}}), "Nat", None),
        ("instance in public subnet", _with(I={"Type": "AWS::EC2::Instance", "Properties": {"SubnetId": ref("PublicSubnet")}}), "I",
         "Network vpc-1 has no Internet gateway attached"),
        ("instance in private subnet", _with(I={"Type": "AWS::EC2::Instance", "Properties": {"SubnetId": ref("PrivateSubnet")}}), "I", None),
        ("asg in public subnets", _with(G={"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"VPCZoneIdentifier": [ref("PublicSubnet")]}}), "G",
         "Network vpc-1 has no Internet gateway attached"),
        ("internet-facing alb", _with(Lb={"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Subnets": [ref("PublicSubnet")]}}), "Lb",
         "VPC vpc-1 has no internet gateway"),
        ("internal alb", _with(Lb={"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Scheme": "internal", "Subnets": [ref("PrivateSubnet")]}}), "Lb", None),
    ],
)
def test_gateway_attachment_race(case: str, resources: dict, logical_id: str, message: str | None) -> None:
    statuses = {"Attach": {"route starting after the attachment completed": "CREATE_COMPLETE",
                           "route starting while the attachment is in progress": "CREATE_IN_PROGRESS"}.get(case, "")}
    check = make_check(resources, logical_id, {"RouteTableId": "rtb-1", "GatewayId": "igw-1"} if logical_id == "Route" else None,
                       statuses=statuses)
    failure = rules.gateway_attachment_race(check)
    assert (failure.message if failure else None) == message


def test_gateway_race_needs_an_attachment_in_the_template() -> None:
    resources = {k: v for k, v in NETWORK.items() if k != "Attach"}
    resources["Route"] = ROUTE
    assert rules.gateway_attachment_race(make_check(resources, "Route")) is None


def test_race_probability_is_seeded_and_reproducible() -> None:
    def outcomes(seed: int) -> list[bool]:
        config = SandboxConfig(race_probability=0.5, seed=seed)
        check = make_check(_with(Route=ROUTE), "Route", config=config)
        return [rules.gateway_attachment_race(check) is not None for _ in range(40)]

    first = outcomes(7)
    assert first == outcomes(7)
    assert 5 < sum(first) < 35
    never = make_check(_with(Route=ROUTE), "Route", config=SandboxConfig(race_probability=0.0))
    assert rules.gateway_attachment_race(never) is None


# ------------------------------------------------------------------------------------------ role policy race


VPC_CONFIG = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}


def _role_policy_template(consumer: dict, action: str = "states:StartExecution") -> dict:
    policy = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "p", "Roles": [ref("Role")], "PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}}}
    return {"Role": {"Type": "AWS::IAM::Role", "Properties": {}}, "Policy": policy, "Consumer": consumer}


@pytest.mark.parametrize(
    ("case", "role_properties", "policy_status", "fails"),
    [
        ("eni permissions from a separate policy not yet attached", {}, "CREATE_IN_PROGRESS", True),
        ("eni permissions from a separate policy already attached", {}, "CREATE_COMPLETE", False),
        ("eni permissions inline in the role", {"Policies": [{"PolicyName": "i", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": ["ec2:*NetworkInterface*"], "Resource": "*"}]}}]}, "CREATE_IN_PROGRESS", False),
        ("eni permissions from the AWS managed policy", {"ManagedPolicyArns": [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]}, "CREATE_IN_PROGRESS", False),
    ],
)
def test_vpc_lambda_needs_eni_permissions_when_it_is_created(case, role_properties, policy_status, fails) -> None:
    template = _role_policy_template({"Type": "AWS::Lambda::Function", "Properties": {
        "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "VpcConfig": VPC_CONFIG}}, action="ec2:CreateNetworkInterface")
    template["Role"]["Properties"] = role_properties
    failure = rules.role_policy_race(make_check(template, "Consumer", statuses={"Policy": policy_status}))
    assert (failure is not None) is fails


@pytest.mark.parametrize(
    ("case", "consumer", "depends", "expected"),
    [
        ("codebuild without path", {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]}}},
         False, "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::000000000777:role/Role"),
        ("codebuild after the policy completed", {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]}}}, True, None),
        ("lambda in a vpc", {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}, "VpcConfig": VPC_CONFIG}},
         False, "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"),
        ("lambda outside a vpc: CreateFunction evaluates no policy",
         {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}}, False, None),
        ("state machine", {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}},
         False, "is not authorized to perform: states:StartExecution"),
    ],
)
def test_role_policy_race(case: str, consumer: dict, depends: bool, expected: str | None) -> None:
    statuses = {"Policy": "CREATE_COMPLETE" if depends else "CREATE_IN_PROGRESS"}
    failure = rules.role_policy_race(make_check(_role_policy_template(consumer), "Consumer", statuses=statuses))
    if expected is None:
        assert failure is None
    else:
        assert failure is not None and expected in failure.message


# ------------------------------------------------------------------------------------------ transient


def test_transient_failure_fails_once_then_succeeds() -> None:
    config = SandboxConfig(faults=FaultConfig(failing_resources=("Topic",)))
    resources = {"Topic": {"Type": "AWS::SNS::Topic"}, "Other": {"Type": "AWS::SNS::Topic"}}
    check = make_check(resources, "Topic", config=config)
    first = rules.transient_failure(check)
    assert first is not None and first.reason(lambda: "x") == "Internal Failure"
    assert rules.transient_failure(check) is None
    assert rules.transient_failure(make_check(resources, "Other", config=config)) is None


# ------------------------------------------------------------------------------------------ generic emulation


def test_emulated_resource_ids_and_attributes() -> None:
    alarm = EmulatedResource(logical_id="HighCpu", resource_type="AWS::CloudWatch::Alarm", properties={}, stack_name="web",
                             stack_id="arn:stack/web/1", account_id=ACCOUNT, region=REGION)
    assert re.fullmatch(r"web-HighCpu-[A-Z0-9]{12}", alarm.physical_resource_id)
    assert alarm.get_cfn_attribute("Arn") == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm.physical_resource_id}"
    app = EmulatedResource(logical_id="App", resource_type="AWS::CodeDeploy::Application", properties={"ApplicationName": "shop"},
                           stack_name="web", stack_id="s", account_id=ACCOUNT, region=REGION)
    assert app.physical_resource_id == "shop"
    policy = EmulatedResource(logical_id="P", resource_type="AWS::S3::BucketPolicy", properties={"Bucket": "b1"},
                              stack_name="web", stack_id="s", account_id=ACCOUNT, region=REGION)
    assert policy.physical_resource_id == "b1"


def test_fallback_attribute_for_elbv2_full_names() -> None:
    lb = _Model("x", arn=f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/web/50dc6c495c0c9188", name="web")
    tg = _Model("y", arn=f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg/73e2d6bc24d8a067", name="tg")
    assert fallback_attribute(lb, "LoadBalancerFullName") == "app/web/50dc6c495c0c9188"
    assert fallback_attribute(tg, "TargetGroupFullName") == "targetgroup/tg/73e2d6bc24d8a067"
    assert fallback_attribute(tg, "TargetGroupName") == "tg"


# ------------------------------------------------------------------------------------------ regions, parameters, faults


@pytest.mark.parametrize(("case", "region", "count"), [("virginia", "us-east-1", 6), ("california", "us-west-1", 2), ("singapore", "ap-southeast-1", 3)])
def test_availability_zones_per_region(case: str, region: str, count: int) -> None:
    zones = availability_zones(region)
    assert len(zones) == count and all(z.startswith(region) for z in zones)


def test_public_parameter_values() -> None:
    value = public_parameter_value("/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id", "me-central-1")
    assert re.fullmatch(r"ami-[0-9a-f]{17}", value)
    assert public_parameter_value("/my/own/parameter", "us-east-1") is None


def test_fault_injector_is_seeded_and_scoped_to_operations() -> None:
    config = FaultConfig(throttle_rate=0.3, error_5xx_rate=0.2, operations=("DescribeStacks",), seed=3)
    first, second = FaultInjector(config), FaultInjector(config)
    draws = [first.decide("DescribeStacks") for _ in range(50)]
    assert draws == [second.decide("DescribeStacks") for _ in range(50)]
    assert {"throttle", "5xx", None} == set(draws)
    assert first.decide("CreateStack") is None
    resets = FaultInjector(FaultConfig(connection_resets=2))
    assert [resets.decide("Any") for _ in range(3)] == ["reset", "reset", None]

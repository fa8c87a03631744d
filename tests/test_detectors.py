"""Static detectors: the resolver, each detector's positives and the negatives that must stay silent."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from orchestrator import detectors
from orchestrator.detectors import DetectorContext
from orchestrator.template.intrinsics import Unresolvable, partition_for_region
from orchestrator.template.intrinsics import static_resolver as StaticResolver
from orchestrator.template.graph import build_graph
from orchestrator.template import load_template, loads_template

FIXTURES = Path(__file__).parent / "fixtures" / "forecast"


def run(detector: str, text: str, *, region: str = "us-east-1", partition: str | None = None,
        parameters: dict | None = None):
    tpl = loads_template(textwrap.dedent(text), fmt="yaml")
    ctx = DetectorContext(
        template=tpl,
        graph=build_graph(tpl),
        region=region,
        partition=partition or partition_for_region(region),
        parameters=parameters or {},
    )
    return detectors.get(detector)(ctx)


# ------------------------------------------------------------------------------------------ resolver

RESOLVER_DOC = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev"},
        "NoDefault": {"Type": "String"},
        "Subnets": {"Type": "CommaDelimitedList", "Default": "a, b"},
    },
    "Mappings": {"Sizes": {"us-east-1": {"Small": "t3.micro"}}},
    "Resources": {
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Sub": "/app/${Env}"}}},
        "Unnamed": {"Type": "AWS::Logs::LogGroup"},
        "Key": {"Type": "AWS::KMS::Key"},
    },
}


@pytest.mark.parametrize(
    "case,node,expected",
    [
        ("region", {"Ref": "AWS::Region"}, "eu-west-1"),
        ("partition", {"Fn::Sub": "arn:${AWS::Partition}:s3:::b"}, "arn:aws:s3:::b"),
        ("url-suffix", {"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ("parameter-default", {"Fn::Sub": "x-${Env}"}, "x-dev"),
        ("parameter-stand-in", {"Ref": "NoDefault"}, "NoDefault-value"),
        ("list-parameter", {"Ref": "Subnets"}, ["a", "b"]),
        ("sub-variables", {"Fn::Sub": ["${A}-${!Literal}", {"A": {"Ref": "AWS::AccountId"}}]}, "111122223333-${Literal}"),
        ("join", {"Fn::Join": [":", ["a", {"Ref": "AWS::Region"}]]}, "a:eu-west-1"),
        ("select-split", {"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ("find-in-map", {"Fn::FindInMap": ["Sizes", "us-east-1", "Small"]}, "t3.micro"),
        ("log-group-ref", {"Ref": "Group"}, "/app/dev"),
        ("log-group-arn", {"Fn::GetAtt": ["Group", "Arn"]}, "arn:aws:logs:eu-west-1:111122223333:log-group:/app/dev:*"),
        ("generated-name", {"Ref": "Unnamed"}, "stack-Unnamed-GENERATED"),
        ("novalue-dropped", [{"Ref": "AWS::NoValue"}, "kept"], ["kept"]),
        ("getatt-string-form", {"Fn::GetAtt": "Group.Arn"}, "arn:aws:logs:eu-west-1:111122223333:log-group:/app/dev:*"),
    ],
)
def test_resolver_values(case, node, expected):
    resolver = StaticResolver(
        RESOLVER_DOC, region="eu-west-1", partition="aws", account_id="111122223333", stack_name="stack"
    )
    assert resolver.resolve(node) == expected


@pytest.mark.parametrize(
    "case,node",
    [
        ("condition", {"Fn::If": ["C", "a", "b"]}),
        ("import", {"Fn::ImportValue": "shared"}),
        ("unknown-ref", {"Ref": "Missing"}),
        ("novalue-alone", {"Ref": "AWS::NoValue"}),
        ("select-out-of-range", {"Fn::Select": [5, ["a"]]}),
    ],
)
def test_resolver_refuses_deploy_time_values(case, node):
    resolver = StaticResolver(RESOLVER_DOC, region="us-east-1", partition="aws")
    with pytest.raises(Unresolvable):
        resolver.resolve(node)


@pytest.mark.parametrize(
    "case,region,partition",
    [("commercial", "ap-southeast-1", "aws"), ("china", "cn-north-1", "aws-cn"), ("govcloud", "us-gov-west-1", "aws-us-gov")],
)
def test_partition_for_region(case, region, partition):
    assert partition_for_region(region) == partition


def test_registry_names_every_detector_a_playbook_uses():
    from orchestrator.catalog.playbooks import load_playbooks

    named = {b.forecast for b in load_playbooks() if b.forecast}
    assert named <= set(detectors.DETECTORS)
    with pytest.raises(KeyError, match="unknown forecast detector"):
        detectors.get("no_such_detector")


# ------------------------------------------------------------------------------- managed_policy_catalog

ROLE = """
Resources:
  Role:
    Type: {rtype}
    Properties:
      ManagedPolicyArns:
        - {arn}
"""


@pytest.mark.parametrize(
    "case,arn,reason,fixable,mentions",
    [
        ("wrong-path", "arn:aws:iam::aws:policy/AWSCodeDeployRole", "path", True, "service-role/AWSCodeDeployRole"),
        ("renamed", "arn:aws:iam::aws:policy/service-role/AWSConfigRole", "renamed", True, "AWS_ConfigRole"),
        ("unknown", "arn:aws:iam::aws:policy/NoSuchPolicyAtAll", "unknown", False, "unknown name"),
        ("sub-partition", "!Sub arn:${AWS::Partition}:iam::aws:policy/AWSCodeDeployRole", "path", True, "service-role"),
    ],
)
def test_managed_policy_flags(case, arn, reason, fixable, mentions):
    findings = run("managed_policy_catalog", ROLE.format(rtype="AWS::IAM::Role", arn=arn))
    assert [(f.logical_id, f.details["reason"], f.fixable) for f in findings] == [("Role", reason, fixable)]
    assert mentions in findings[0].message
    assert findings[0].line == 7  # the text starts with a blank line
    assert findings[0].details["pointer"] == "/Resources/Role/Properties/ManagedPolicyArns/0"


@pytest.mark.parametrize(
    "case,rtype,arn",
    [
        ("existing", "AWS::IAM::Role", "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"),
        ("existing-user", "AWS::IAM::User", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ("existing-group", "AWS::IAM::Group", "!Sub arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"),
        ("customer-literal", "AWS::IAM::Role", "arn:aws:iam::123456789012:policy/mine"),
        ("customer-sub", "AWS::IAM::Role", "!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/mine"),
        ("template-policy", "AWS::IAM::Role", "!Ref Mine"),
        ("parameter", "AWS::IAM::Role", "!Ref PolicyParam"),
    ],
)
def test_managed_policy_silent(case, rtype, arn):
    text = ROLE.format(rtype=rtype, arn=arn) + textwrap.dedent(
        """\
          Mine:
            Type: AWS::IAM::ManagedPolicy
            Properties:
              PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: s3:ListBucket, Resource: "*"}]}
        Parameters:
          PolicyParam:
            Type: String
        """
    )
    assert run("managed_policy_catalog", text) == []


def test_managed_policy_partition_mismatch_and_sub_in_china():
    literal = run("managed_policy_catalog", ROLE.format(rtype="AWS::IAM::Role", arn="arn:aws:iam::aws:policy/ReadOnlyAccess"), region="cn-north-1")
    assert [f.details["reason"] for f in literal] == ["partition"]
    assert "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess" in literal[0].message
    sub = ROLE.format(rtype="AWS::IAM::Role", arn="!Sub arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess")
    assert run("managed_policy_catalog", sub, region="cn-north-1") == []


def test_managed_policy_sam_names_resolve_at_any_path():
    text = """
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: a.b
          InlineCode: "x"
          Policies:
            - AWSLambdaBasicExecutionRole
            - AWSLambdaFullAccess
            - S3ReadPolicy: {BucketName: b}
            - arn:aws:iam::aws:policy/AWSCodeDeployRole
    """
    findings = run("managed_policy_catalog", text)
    assert [(f.logical_id, f.details.get("reason"), f.fixable) for f in findings] == [
        ("Fn", "renamed", False),
        ("Fn", "path", False),
    ]


# ---------------------------------------------------------------------------------- logs_kms_key_policy

KEY_TEMPLATE = """
Parameters:
  Env:
    Type: String
    Default: dev
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{AWS: !Sub "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:root"}}
            Action: kms:*
            Resource: "*"
          - Effect: Allow
            Principal:
              Service: {principal}
            Action: [kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*]
            Resource: "*"
            Condition:
              ArnLike:
                kms:EncryptionContext:aws:logs:arn: {condition}
  Alias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/logs
      TargetKeyId: !Ref Key
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /app/${{Env}}
      KmsKeyId: {key_ref}
"""

GOOD_PRINCIPAL = "!Sub logs.${AWS::Region}.amazonaws.com"
GOOD_CONDITION = "!Sub arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"


@pytest.mark.parametrize(
    "case,key_ref",
    [
        ("getatt", "!GetAtt Key.Arn"),
        ("ref", "!Ref Key"),
        ("sub", "!Sub arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${Key}"),
        ("alias-ref", "!Ref Alias"),
        ("alias-literal", "!Sub arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/logs"),
    ],
)
def test_logs_kms_follows_every_way_to_name_the_key(case, key_ref):
    bad = KEY_TEMPLATE.format(principal="logs.amazonaws.com", condition=GOOD_CONDITION, key_ref=key_ref)
    findings = run("logs_kms_key_policy", bad)
    assert [(f.logical_id, f.details["key_logical_id"], f.severity) for f in findings] == [("Group", "Key", "error")]
    assert findings[0].details["log_group_arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/app/dev"
    good = KEY_TEMPLATE.format(principal=GOOD_PRINCIPAL, condition=GOOD_CONDITION, key_ref=key_ref)
    assert run("logs_kms_key_policy", good) == []


@pytest.mark.parametrize(
    "case,principal,condition,region,flagged",
    [
        ("good", GOOD_PRINCIPAL, GOOD_CONDITION, "ap-southeast-1", False),
        ("global-principal", "logs.amazonaws.com", GOOD_CONDITION, "us-east-1", True),
        ("literal-other-region", "logs.us-east-1.amazonaws.com", GOOD_CONDITION, "ap-southeast-1", True),
        ("literal-same-region", "logs.ap-southeast-1.amazonaws.com", GOOD_CONDITION, "ap-southeast-1", False),
        ("condition-other-prefix", GOOD_PRINCIPAL, "!Sub arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/other/*", "us-east-1", True),
        ("condition-matching-prefix", GOOD_PRINCIPAL, "!Sub arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/app/*", "us-east-1", False),
        ("literal-account", GOOD_PRINCIPAL, "arn:aws:logs:us-east-1:444455556666:log-group:*", "us-east-1", False),
        ("china", "!Sub logs.${AWS::Region}.${AWS::URLSuffix}", GOOD_CONDITION, "cn-north-1", False),
    ],
)
def test_logs_kms_key_policy_cases(case, principal, condition, region, flagged):
    text = KEY_TEMPLATE.format(principal=principal, condition=condition, key_ref="!GetAtt Key.Arn")
    findings = run("logs_kms_key_policy", text, region=region)
    assert bool(findings) is flagged, [f.message for f in findings]


def test_logs_kms_default_key_policy_is_flagged_and_external_keys_are_not():
    text = """
    Resources:
      Key:
        Type: AWS::KMS::Key
      Group:
        Type: AWS::Logs::LogGroup
        Properties:
          KmsKeyId: !GetAtt Key.Arn
      External:
        Type: AWS::Logs::LogGroup
        Properties:
          KmsKeyId: arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    """
    findings = run("logs_kms_key_policy", text)
    assert [(f.logical_id, f.fixable) for f in findings] == [("Group", True)]
    assert "cfn-autofix-forecast-Group-GENERATED" in findings[0].details["log_group_arn"]


def test_logs_kms_unresolvable_policy_is_a_warning():
    # Strict depends on a parameter with no value and no Default: unknown, so the key policy is too.
    text = """
    Parameters:
      PolicyJson:
        Type: String
      Mode:
        Type: String
    Conditions:
      Strict: !Equals [!Ref Mode, strict]
    Resources:
      IfKey:
        Type: AWS::KMS::Key
        Properties:
          KeyPolicy: !If [Strict, {Version: "2012-10-17", Statement: []}, {Version: "2012-10-17", Statement: []}]
      ParamKey:
        Type: AWS::KMS::Key
        Properties:
          KeyPolicy: !Ref PolicyJson
      A:
        Type: AWS::Logs::LogGroup
        Properties:
          KmsKeyId: !GetAtt IfKey.Arn
      B:
        Type: AWS::Logs::LogGroup
        Properties:
          KmsKeyId: !GetAtt ParamKey.Arn
    """
    findings = run("logs_kms_key_policy", text)
    assert [(f.logical_id, f.severity, f.fixable) for f in findings] == [("A", "warning", False), ("B", "warning", False)]


# -------------------------------------------------------------------------------------- dependson_cases

NETWORK = """
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Igw:
    Type: AWS::EC2::InternetGateway
  Attach:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}
  Public:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, MapPublicIpOnLaunch: true}
  Private:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24}
  Table:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
"""


@pytest.mark.parametrize(
    "case,resource,flagged",
    [
        ("route-igw", "Type: AWS::EC2::Route\n    Properties: {RouteTableId: !Ref Table, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}", True),
        ("route-igw-dependson", "Type: AWS::EC2::Route\n    DependsOn: Attach\n    Properties: {RouteTableId: !Ref Table, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}", False),
        ("route-igw-getatt-path", "Type: AWS::EC2::Route\n    Properties: {RouteTableId: !Ref Table, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw, VpcEndpointId: !Select [0, [!Ref Attach]]}", False),
        # Allocating an address checks no VPC; associating it with an instance needs the attachment.
        ("eip-vpc-unassociated", "Type: AWS::EC2::EIP\n    Properties: {Domain: vpc}", False),
        ("eip-vpc-associated", "Type: AWS::EC2::EIP\n    Properties: {Domain: vpc, InstanceId: i-0123456789abcdef0}", True),
        ("eip-standard", "Type: AWS::EC2::EIP\n    Properties: {Domain: standard}", False),
        # RunInstances checks no gateway: only an instance whose CreationPolicy waits for its signal fails.
        ("instance-public-subnet", "Type: AWS::EC2::Instance\n    Properties: {ImageId: ami-12345678, SubnetId: !Ref Public}", False),
        ("instance-public-subnet-signal", "Type: AWS::EC2::Instance\n    CreationPolicy: {ResourceSignal: {Timeout: PT5M}}\n    Properties: {ImageId: ami-12345678, SubnetId: !Ref Public}", True),
        ("instance-private-subnet", "Type: AWS::EC2::Instance\n    Properties: {ImageId: ami-12345678, SubnetId: !Ref Private}", False),
        ("alb-default-scheme", "Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties: {Subnets: [!Ref Private]}", True),
        ("alb-internal", "Type: AWS::ElasticLoadBalancingV2::LoadBalancer\n    Properties: {Scheme: internal, Subnets: [!Ref Public]}", False),
        ("classic-elb", "Type: AWS::ElasticLoadBalancing::LoadBalancer\n    Properties: {Subnets: [!Ref Public], Listeners: [{LoadBalancerPort: '80', InstancePort: '80', Protocol: HTTP}]}", True),
        ("asg-public-subnet", "Type: AWS::AutoScaling::AutoScalingGroup\n    CreationPolicy: {ResourceSignal: {Count: 1}}\n    Properties: {MinSize: '1', MaxSize: '1', VPCZoneIdentifier: [!Ref Public]}", True),
        ("asg-public-subnet-no-signal", "Type: AWS::AutoScaling::AutoScalingGroup\n    Properties: {MinSize: '1', MaxSize: '1', VPCZoneIdentifier: [!Ref Public]}", False),
        ("asg-private-subnet", "Type: AWS::AutoScaling::AutoScalingGroup\n    Properties: {MinSize: '1', MaxSize: '1', VPCZoneIdentifier: [!Ref Private]}", False),
        ("nat-private-connectivity", "Type: AWS::EC2::NatGateway\n    Properties: {SubnetId: !Ref Private, ConnectivityType: private}", False),
        ("nat-public", "Type: AWS::EC2::NatGateway\n    Properties: {SubnetId: !Ref Public, AllocationId: eipalloc-12345678}", True),
    ],
)
def test_network_cases(case, resource, flagged):
    findings = run("dependson_cases", NETWORK + "  Subject:\n    " + resource + "\n")
    assert [(f.logical_id, f.details["depends_on"]) for f in findings] == ([("Subject", "Attach")] if flagged else [])
    if flagged:
        assert findings[0].details["docs"] in findings[0].message
        assert findings[0].details["docs"].startswith("https://docs.aws.amazon.com/")
        assert "Attach" in findings[0].message and "Subject" in findings[0].message


def test_vpc_without_internet_gateway_needs_nothing():
    text = """
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.0.0.0/16}
      Sub:
        Type: AWS::EC2::Subnet
        Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, MapPublicIpOnLaunch: true}
      Box:
        Type: AWS::EC2::Instance
        Properties: {ImageId: ami-12345678, SubnetId: !Ref Sub}
      Lb:
        Type: AWS::ElasticLoadBalancingV2::LoadBalancer
        Properties: {Subnets: [!Ref Sub]}
    """
    assert run("dependson_cases", text) == []


ROLE_POLICY = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
  EniPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: eni
      Roles: [!Ref Role]
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"], Resource: "*"}]
  LogsPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: logs
      Roles: [!Ref Role]
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: ["logs:*", "s3:GetObject"], Resource: "*"}]
  QueuePolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: queue
      Roles: [!Ref Role]
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: "sqs:*", Resource: !GetAtt Queue.Arn}]
  Queue:
    Type: AWS::SQS::Queue
"""


def _role_case(extra: str, **kwargs):
    return {(f.logical_id, f.playbook, tuple(sorted(p.details["depends_on"] for p in f.parts())), f.severity)
            for f in run("dependson_cases", ROLE_POLICY + textwrap.indent(textwrap.dedent(extra), "  "), **kwargs)}


def test_role_policy_only_where_the_create_call_checks_it():
    # CreateFunction checks only that Lambda can assume the role, unless the function is in a VPC; Step
    # Functions and EventBridge check nothing of the role's permissions at creation.
    plain = """
      Plain:
        Type: AWS::Lambda::Function
        Properties: {Runtime: python3.12, Handler: a.b, Role: !GetAtt Role.Arn, Code: {ZipFile: x}}
      Machine:
        Type: AWS::StepFunctions::StateMachine
        Properties: {RoleArn: !GetAtt Role.Arn, DefinitionString: "{}"}
    """
    assert _role_case(plain) == set()
    vpc = """
      InVpc:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: python3.12
          Handler: a.b
          Role: !GetAtt Role.Arn
          Code: {ZipFile: x}
          VpcConfig: {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1]}
    """
    # Only the policy that grants the ENI permission: logs and S3 reads are run-time needs.
    assert _role_case(vpc) == {("InVpc", "missing-depends-on-iam-policy", ("EniPolicy",), "error")}


def test_event_source_mapping_needs_the_policy_that_reads_its_queue():
    text = """
      Fn:
        Type: AWS::Lambda::Function
        Properties: {Runtime: python3.12, Handler: a.b, Role: !GetAtt Role.Arn, Code: {ZipFile: x}}
      Mapping:
        Type: AWS::Lambda::EventSourceMapping
        Properties: {FunctionName: !Ref Fn, EventSourceArn: !GetAtt Queue.Arn}
    """
    assert _role_case(text) == {("Mapping", "missing-depends-on-iam-policy", ("QueuePolicy",), "error")}


def test_role_that_already_has_the_permission_needs_no_policy_order():
    text = ROLE_POLICY.replace(
        "AssumeRolePolicyDocument: {Version: \"2012-10-17\", Statement: []}",
        "AssumeRolePolicyDocument: {Version: \"2012-10-17\", Statement: []}\n"
        "      ManagedPolicyArns: [arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
    ) + textwrap.indent(textwrap.dedent("""
      InVpc:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: python3.12
          Handler: a.b
          Role: !GetAtt Role.Arn
          Code: {ZipFile: x}
          VpcConfig: {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1]}
    """), "  ")
    assert run("dependson_cases", text) == []


def test_conditional_dependency_and_conditions():
    text = """
    Parameters:
      UseVpc: {Type: String, AllowedValues: ["true", "false"]}
      Zones: {Type: String, Default: "2"}
    Conditions:
      InVpc: !Equals [!Ref UseVpc, "true"]
      ThreeZones: !Equals [!Ref Zones, "3"]
    Resources:
      Role:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      EniPolicy:
        Type: AWS::IAM::Policy
        Condition: InVpc
        Properties:
          PolicyName: eni
          Roles: [!Ref Role]
          PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ec2:*", Resource: "*"}]}
      Fn:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: python3.12
          Handler: a.b
          Role: !GetAtt Role.Arn
          Code: {ZipFile: x}
          VpcConfig: !If [InVpc, {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1]}, !Ref AWS::NoValue]
      Vpc:
        Type: AWS::EC2::VPC
        Properties: {CidrBlock: 10.0.0.0/16}
      Igw:
        Type: AWS::EC2::InternetGateway
      Attach:
        Type: AWS::EC2::VPCGatewayAttachment
        Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}
      Table:
        Type: AWS::EC2::RouteTable
        Properties: {VpcId: !Ref Vpc}
      ThirdRoute:
        Type: AWS::EC2::Route
        Condition: ThreeZones
        Properties: {RouteTableId: !Ref Table, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
    """
    # UseVpc has no value: the function's VpcConfig is unknown, so nothing is claimed about it; the third
    # zone's route is false for the Default Zones=2: no finding.
    assert run("dependson_cases", text) == []
    # With UseVpc=true the function needs EniPolicy, whose condition differs from the function's (none):
    # a DependsOn would break the template when UseVpc=false, so it is a warning and not fixable.
    found = run("dependson_cases", text, parameters={"UseVpc": "true", "Zones": "3"})
    assert sorted((f.logical_id, f.severity, f.fixable) for f in found) == [
        ("Fn", "warning", False), ("ThirdRoute", "error", True)]
    assert "EniPolicy has condition InVpc" in next(f for f in found if f.logical_id == "Fn").message


def test_one_finding_per_resource_and_class_lists_every_edge():
    text = ROLE_POLICY + textwrap.indent(textwrap.dedent("""
      Other:
        Type: AWS::IAM::ManagedPolicy
        Properties:
          Roles: [!Ref Role]
          PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ec2:Create*", Resource: "*"}]}
      InVpc:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: python3.12
          Handler: a.b
          Role: !GetAtt Role.Arn
          Code: {ZipFile: x}
          VpcConfig: {SubnetIds: [subnet-1], SecurityGroupIds: [sg-1]}
    """), "  ")
    found = run("dependson_cases", text)
    assert len(found) == 1
    assert found[0].details["depends_on"] == ["EniPolicy", "Other"]
    assert [p.details["depends_on"] for p in found[0].parts()] == ["EniPolicy", "Other"]
    assert "EniPolicy" in found[0].message and "Other" in found[0].message


def test_apigateway_deployment_needs_every_method_and_v2_routes():
    text = """
    Resources:
      Api:
        Type: AWS::ApiGateway::RestApi
        Properties: {Name: a}
      Get:
        Type: AWS::ApiGateway::Method
        Properties: {RestApiId: !Ref Api, ResourceId: !GetAtt Api.RootResourceId, HttpMethod: GET, AuthorizationType: NONE, Integration: {Type: MOCK}}
      Post:
        Type: AWS::ApiGateway::Method
        Properties: {RestApiId: !Ref Api, ResourceId: !GetAtt Api.RootResourceId, HttpMethod: POST, AuthorizationType: NONE, Integration: {Type: MOCK}}
      Deployment:
        Type: AWS::ApiGateway::Deployment
        DependsOn: Get
        Properties: {RestApiId: !Ref Api}
      Http:
        Type: AWS::ApiGatewayV2::Api
        Properties: {Name: h, ProtocolType: HTTP}
      Route:
        Type: AWS::ApiGatewayV2::Route
        Properties: {ApiId: !Ref Http, RouteKey: GET /}
      HttpDeployment:
        Type: AWS::ApiGatewayV2::Deployment
        Properties: {ApiId: !Ref Http}
    """
    findings = run("dependson_cases", text)
    assert sorted((f.logical_id, f.details["depends_on"], f.playbook) for f in findings) == [
        ("Deployment", "Post", "missing-depends-on-apigateway"),
        ("HttpDeployment", "Route", "missing-depends-on-apigateway"),
    ]


@pytest.mark.parametrize(
    "case,service_extra,flagged",
    [
        ("no-order", "", True),
        ("dependson-rule", "DependsOn: Rule", False),
        ("dependson-other-listener-only", "DependsOn: Listener", True),
    ],
)
def test_ecs_service_needs_the_forwarding_rule(case, service_extra, flagged):
    text = f"""
Resources:
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {{Scheme: internal, Subnets: [subnet-1, subnet-2]}}
  Tg:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {{Port: 80, Protocol: HTTP, VpcId: vpc-1}}
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Lb
      Port: 80
      Protocol: HTTP
      DefaultActions: [{{Type: fixed-response, FixedResponseConfig: {{StatusCode: "404"}}}}]
  Rule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Listener
      Priority: 1
      Conditions: [{{Field: path-pattern, Values: ["/*"]}}]
      Actions: [{{Type: forward, TargetGroupArn: !Ref Tg}}]
  Service:
    Type: AWS::ECS::Service
    {service_extra}
    Properties:
      TaskDefinition: arn:aws:ecs:us-east-1:123456789012:task-definition/t:1
      LoadBalancers: [{{ContainerName: c, ContainerPort: 80, TargetGroupArn: !Ref Tg}}]
"""
    findings = run("dependson_cases", text)
    assert [(f.logical_id, f.details["depends_on"]) for f in findings] == ([("Service", "Rule")] if flagged else [])


GOOD_FIXTURES = sorted(FIXTURES.glob("good-*"))


def _dependson_edges(doc: dict):
    for lid, resource in doc["Resources"].items():
        value = resource.get("DependsOn")
        for target in [value] if isinstance(value, str) else value or []:
            yield lid, target


# DependsOn in the good fixtures that no create call needs (belt and braces): removing one must NOT be
# reported, because AWS checks nothing of it at creation.
NOT_CHECKED_AT_CREATION = {
    ("good-apigw", "Handler", "HandlerTablePolicy"): "a function outside a VPC: CreateFunction checks only the trust policy",
    ("good-ecs", "TaskDefinition", "TaskRolePolicy"): "RegisterTaskDefinition does not use the task role's permissions",
    ("good-vpc", "NatEip", "GatewayAttachment"): "allocating an unassociated Elastic IP checks no VPC",
    ("good-vpc", "BastionHost", "GatewayAttachment"): "RunInstances checks no gateway and nothing waits for a signal",
    ("good-vpc", "WebGroup", "GatewayAttachment"): "CreateAutoScalingGroup checks no gateway and nothing waits for a signal",
}


@pytest.mark.parametrize(
    "case,path,lid,target",
    [
        (f"{path.stem}-{lid}-{target}", path, lid, target)
        for path in GOOD_FIXTURES
        for lid, target in _dependson_edges(load_template(path).document)
    ],
)
def test_removing_a_documented_dependson_from_a_correct_template_is_found(case, path, lid, target):
    tpl = load_template(path)
    doc = json.loads(json.dumps(tpl.document))
    deps = doc["Resources"][lid]["DependsOn"]
    deps = [d for d in ([deps] if isinstance(deps, str) else deps) if d != target]
    if deps:
        doc["Resources"][lid]["DependsOn"] = deps
    else:
        del doc["Resources"][lid]["DependsOn"]
    mutated = loads_template(json.dumps(doc), fmt="json")
    ctx = DetectorContext(template=mutated, graph=build_graph(mutated))
    found = {(p.logical_id, p.details["depends_on"]) for f in detectors.dependson_cases(ctx) for p in f.parts()}
    if (path.stem, lid, target) in NOT_CHECKED_AT_CREATION:
        assert (lid, target) not in found
        return
    # Whatever was ordered only through this DependsOn (a NAT gateway through its EIP) is found too.
    assert (lid, target) in found
    assert {needed for _, needed in found} == {target}

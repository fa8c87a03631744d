"""add-depends-on: only where nothing orders the two resources, never a cycle, whole class, form kept."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.template.graph import build_graph
from orchestrator.model import Failure
from orchestrator.template import apply_patch, load_template, loads_template

FIXTURES = Path(__file__).parent / "fixtures" / "repairs"

ROUTE_FAILURE = Failure(
    logical_id="PublicRoute",
    resource_type="AWS::EC2::Route",
    status_reason="Route table rtb-0c4d5e6f and network gateway igw-0f1e2d3c belong to different networks",
    playbook="missing-depends-on",
    details={
        "route_table": "rtb-0c4d5e6f",
        "gateway": "igw-0f1e2d3c",
        "physical_ids": {"igw-0f1e2d3c": "InternetGateway", "rtb-0c4d5e6f": "PublicRouteTable"},
    },
)
MAPPING_FAILURE = Failure(
    logical_id="QueueMapping",
    resource_type="AWS::Lambda::EventSourceMapping",
    status_reason="Invalid request provided: The provided execution role does not have permissions to call ReceiveMessage on SQS",
    playbook="missing-depends-on-iam-policy",
    details={"api": "ReceiveMessage", "service": "SQS"},
)


def run(template, failures):
    plan = repairs.REGISTRY.get("add-depends-on").plan(template, build_graph(template), failures, {})
    return plan, apply_patch(template, plan.operations)


@pytest.mark.parametrize(
    "case, source, expected, failure",
    [
        ("yaml gateway attachment class", "depends_on_igw.yaml", "depends_on_igw.expected.yaml", ROUTE_FAILURE),
        ("json role with separate policy", "depends_on_iam.json", "depends_on_iam.expected.json", MAPPING_FAILURE),
    ],
)
def test_repaired_template_matches_expected(case, source, expected, failure):
    template = load_template(FIXTURES / source)
    before = copy.deepcopy(template.document)
    plan, repaired = run(template, [failure])
    assert template.document == before
    assert repaired.document == load_template(FIXTURES / expected).document
    build_graph(repaired)  # still a valid, acyclic template
    again, _ = run(repaired, [failure])
    assert again.operations == []


def test_whole_class_and_existing_form_kept():
    template = load_template(FIXTURES / "depends_on_igw.yaml")
    plan, repaired = run(template, [ROUTE_FAILURE])
    res = repaired.resources
    assert res["PublicRoute"]["DependsOn"] == "GatewayAttachment"  # absent -> string
    assert res["EdgeRoute"]["DependsOn"] == ["PublicSubnet", "GatewayAttachment"]  # string -> list of both
    # CreateNatGateway checks the internet gateway; allocating the unassociated EIP checks nothing.
    assert plan.resources == ["EdgeRoute", "NatGateway", "PublicRoute"]
    assert res["NatGateway"]["DependsOn"] == "GatewayAttachment"
    assert "DependsOn" not in res["NatEip"]


def test_list_form_is_appended():
    text = (FIXTURES / "depends_on_igw.yaml").read_text().replace(
        "  PublicRoute:\n    Type: AWS::EC2::Route\n", "  PublicRoute:\n    Type: AWS::EC2::Route\n    DependsOn: [PublicRouteTable]\n"
    )
    template = loads_template(text, fmt="yaml")
    _, repaired = run(template, [ROUTE_FAILURE])
    assert repaired.resources["PublicRoute"]["DependsOn"] == ["PublicRouteTable", "GatewayAttachment"]


ORDERED_BY_GETATT = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  Gateway: {Type: AWS::EC2::InternetGateway}
  Attachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Gateway}
  Subnet: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24}}
  Eip:
    Type: AWS::EC2::EIP
    DependsOn: Attachment
    Properties: {Domain: vpc}
  Nat:
    Type: AWS::EC2::NatGateway
    Properties:
      AllocationId: !GetAtt Eip.AllocationId
      SubnetId: !Ref Subnet
"""


def test_no_depends_on_where_a_getatt_path_already_orders():
    template = loads_template(ORDERED_BY_GETATT, fmt="yaml")
    failure = Failure(
        "Nat", "AWS::EC2::NatGateway", "Network vpc-1 has no Internet gateway attached",
        details={"vpc": "vpc-1", "physical_ids": {"vpc-1": "Vpc"}},
    )
    plan, repaired = run(template, [failure])
    assert plan.operations == []
    assert repaired.document == template.document
    assert any("Nat already waits for Attachment through the template's Ref/GetAtt/DependsOn" in n for n in plan.notes)


CYCLE = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}
  Gateway: {Type: AWS::EC2::InternetGateway}
  Table: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref Vpc}}
  Route:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref Table, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Gateway}
  Attachment:
    Type: AWS::EC2::VPCGatewayAttachment
    DependsOn: Route
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Gateway}
"""


def test_cycle_is_refused():
    template = loads_template(CYCLE, fmt="yaml")
    failure = Failure(
        "Route", "AWS::EC2::Route", "Route table rtb-1 and network gateway igw-1 belong to different networks",
        details={"gateway": "igw-1", "physical_ids": {"igw-1": "Gateway"}},
    )
    plan, _ = run(template, [failure])
    assert plan.operations == []
    assert any("refused" in n and "cycle" in n for n in plan.notes)


def test_forecast_finding_names_what_to_wait_for():
    template = load_template(FIXTURES / "depends_on_igw.yaml")
    finding = Failure("PublicRoute", "AWS::EC2::Route", "forecast", status="FORECAST", details={"depends_on": "GatewayAttachment"})
    _, repaired = run(template, [finding])
    assert repaired.document == load_template(FIXTURES / "depends_on_igw.expected.yaml").document


APIGW = """
Resources:
  Api: {Type: AWS::ApiGateway::RestApi, Properties: {Name: api}}
  GetMethod:
    Type: AWS::ApiGateway::Method
    Properties: {RestApiId: !Ref Api, ResourceId: !GetAtt Api.RootResourceId, HttpMethod: GET, AuthorizationType: NONE}
  PostMethod:
    Type: AWS::ApiGateway::Method
    Properties: {RestApiId: !Ref Api, ResourceId: !GetAtt Api.RootResourceId, HttpMethod: POST, AuthorizationType: NONE}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties: {RestApiId: !Ref Api}
"""


def test_apigateway_deployment_waits_for_every_method():
    template = loads_template(APIGW, fmt="yaml")
    failure = Failure("Deployment", "AWS::ApiGateway::Deployment", "The REST API doesn't contain any methods")
    plan, repaired = run(template, [failure])
    assert repaired.resources["Deployment"]["DependsOn"] == ["GetMethod", "PostMethod"]


def test_unrelated_failure_adds_nothing():
    template = load_template(FIXTURES / "depends_on_iam.json")
    plan, _ = run(template, [Failure("Queue", "AWS::SQS::Queue", "something")])
    assert plan.operations == []
    assert any(n.startswith("Queue: no documented DependsOn case") for n in plan.notes)

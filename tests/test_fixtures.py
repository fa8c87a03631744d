"""Prerequisite fixtures: AWS-typed parameters with no value (or `auto`) get real sandbox resources."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from orchestrator import deploy_with_autofix
from orchestrator.deploy.fixtures import needs, network_template
from orchestrator.deploy.prereqs import prepare
from orchestrator.errors import BadInput
from orchestrator.template import load_template

FIXTURES = Path(__file__).parent / "fixtures" / "prereqs"


def client(sandbox, service: str):
    return boto3.client(service, endpoint_url=sandbox.endpoint_url, **sandbox.credentials)


def test_which_parameters_get_a_fixture() -> None:
    document = {"Parameters": {
        "Vpc": {"Type": "AWS::EC2::VPC::Id"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": "subnet-1"},
        "Given": {"Type": "AWS::EC2::KeyPair::KeyName"},
        "Name": {"Type": "String"},
        "VpcId": {"Type": "String"},
    }}
    found = needs(document, {"Subnets": "auto", "Given": "my-key", "VpcId": "auto"})
    assert [(n.parameter, n.kind, n.listed) for n in found] == [
        ("Vpc", "vpc", False),  # no value, no Default
        ("Subnets", "subnet", True),  # explicit auto wins over the Default
        ("VpcId", "vpc", False),  # a String named like a VPC id, given `auto`
    ]


def test_a_plain_string_given_auto_is_read_from_its_name_description_or_pattern() -> None:
    from orchestrator.deploy.strings import string_kind

    creates = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${Dest}-x"}}}}}
    cases = {
        ("KmsKeyArn", "KMS Key ARN to encrypt data"): ("kms-key", False),
        ("LambdaCodeS3Bucket", "The bucket where your lambda handler is"): ("s3-bucket", False),
        ("Dest", ""): (None, None),  # no hint in name or description
        ("Targets", "Subnets to be used"): ("List<AWS::EC2::Subnet::Id>", False),
        ("Network", "The VPC to put the group in"): ("AWS::EC2::VPC::Id", False),
    }
    for (name, description), (kind, _) in cases.items():
        assert string_kind(name, {"Type": "String", "Description": description}, {}).type_name == kind, name
    assert string_kind("Net", {"Type": "String", "AllowedPattern": "^vpc-[0-9a-f]{8,17}$"}, {}).type_name == "AWS::EC2::VPC::Id"
    assert string_kind("DestBucketName", {"Type": "String"}, {}).creates is False
    named = string_kind("DestBucket", {"Type": "String"}, {"Resources": {"B": {
        "Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": "DestBucket"}}}}})
    assert named.type_name == "s3-bucket" and named.creates
    assert string_kind("Dest", {"Type": "String"}, creates).why_not


@pytest.mark.parametrize("name, description, why", [
    ("GitHubToken", "Token for the user specified above.", "a credential only you have"),
    ("LambdaCodeS3Key", "The object key for your lambda handler", "an existing S3 object"),
    ("AlarmTopicArn", "The SNS topic that receives the alarms", "no fixture provides what it names"),
    ("Where", "The subnet of the VPC", "more than one kind of resource"),  # ambiguous: never a guess
])
def test_a_plain_string_auto_nothing_can_provide_is_a_missing_prerequisite_naming_it(name, description, why) -> None:
    from orchestrator.deploy.fixtures import unprovided

    found = needs({"Parameters": {name: {"Type": "String", "Description": description}}}, {name: "auto"})
    [item] = unprovided(found)
    assert item["class"] == "prerequisite-missing" and item["what"] == f"parameter {name}"
    assert item["property"] == f"Parameters.{name}" and why in item["reason"]


def test_an_unprovidable_auto_stops_the_run_before_any_fixture_or_deployment(sandbox, tmp_path: Path) -> None:
    template = tmp_path / "code.yaml"
    template.write_text("Parameters:\n  CodeBucket: {Type: String, Description: The bucket where your code is}\n"
                        "  CodeKey: {Type: String, Description: The object key for your code}\n"
                        "Resources:\n  Topic: {Type: AWS::SNS::Topic}\n")
    result = deploy_with_autofix(template, target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1",
                                 parameters={"CodeBucket": "auto", "CodeKey": "auto"})
    assert result.status == "failed" and result.deployments == 0
    assert result.report["stop_reason"] == "prerequisite-missing: parameter CodeKey (Parameters.CodeKey)"
    assert not result.report["fixtures"]
    assert not client(sandbox, "cloudformation").list_stacks()["StackSummaries"]  # not even a fixtures stack
    assert not client(sandbox, "s3").list_buckets()["Buckets"]


def test_string_fixtures_are_real_consistent_and_swept_with_the_run(sandbox, tmp_path: Path) -> None:
    params = {"KmsKeyArn": "auto", "ArtifactBucket": "auto", "LogsBucketName": "auto", "Network": "auto",
              "DomainName": "auto", "CertificateArn": "auto", "CognitoUserPoolArn": "auto"}
    result = deploy_with_autofix(FIXTURES / "string-params.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", parameters=params, keep_stack=True)
    assert result.status == "succeeded", result.report["stop_reason"]
    rows = {f["parameter"]: f for f in result.report["fixtures"]}
    assert {p: f["kind"] for p, f in rows.items()} == {
        "KmsKeyArn": "kms-key", "ArtifactBucket": "s3-bucket", "LogsBucketName": "s3-bucket", "Network": "vpc",
        "DomainName": "domain", "CertificateArn": "certificate", "CognitoUserPoolArn": "user-pool"}
    idp = client(sandbox, "cognito-idp")
    [pool] = idp.list_user_pools(MaxResults=10)["UserPools"]
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Arn"] == rows["CognitoUserPoolArn"]["value"]
    # The domain is the fixture zone's name; the certificate is issued for it.
    domain = rows["DomainName"]["value"]
    zones = client(sandbox, "route53").list_hosted_zones()["HostedZones"]
    assert [z["Name"].rstrip(".") for z in zones] == [domain]
    cert = client(sandbox, "acm").describe_certificate(CertificateArn=rows["CertificateArn"]["value"])["Certificate"]
    assert cert["Status"] == "ISSUED" and cert["DomainName"] == domain and f"*.{domain}" in cert["SubjectAlternativeNames"]
    key = client(sandbox, "kms").describe_key(KeyId=rows["KmsKeyArn"]["value"])["KeyMetadata"]
    assert key["Arn"] == rows["KmsKeyArn"]["value"] and key["KeyState"] == "Enabled"
    s3 = client(sandbox, "s3")
    assert s3.list_objects_v2(Bucket=rows["ArtifactBucket"]["value"]).get("KeyCount") == 0  # exists, empty
    # A bucket the template creates under the parameter's name gets a fresh name, not an existing bucket.
    assert rows["LogsBucketName"]["resource"].startswith("a new bucket name")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert rows["LogsBucketName"]["value"] in names and rows["ArtifactBucket"]["value"] in names
    from orchestrator.aws.session import AwsSession
    from orchestrator.aws.sweep import SweepItem, delete_item
    from orchestrator.aws.targets import Target

    # The kept run's fixtures go with `sweep`: the stack, and the imported certificate.
    session = AwsSession(Target(kind="endpoint", region="us-east-1", endpoint_url=sandbox.endpoint_url,
                                credentials={k: v for k, v in sandbox.credentials.items() if k != "region_name"}))
    item = SweepItem(region="us-east-1", stack_name=f"{result.stack_name}-fixtures", run_id=result.run_id,
                     status="CREATE_COMPLETE", created=None)
    delete_item(session, item, wait_timeout=60)
    assert item.action == "deleted", item.detail
    assert rows["ArtifactBucket"]["value"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert client(sandbox, "kms").describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not client(sandbox, "acm").list_certificates()["CertificateSummaryList"]
    assert not idp.list_user_pools(MaxResults=10)["UserPools"]


def test_on_aws_nothing_is_created_and_a_missing_value_is_bad_input() -> None:
    template = load_template(FIXTURES / "network-params.yaml")
    session = SimpleNamespace(region="us-east-1")  # any AWS call would fail: none may happen
    with pytest.raises(BadInput) as err:
        prepare(template, {}, session=session, target=SimpleNamespace(kind="aws"), run_id="r", stack_name="s")
    assert "VpcId (AWS::EC2::VPC::Id) has no value; fixtures are created only on a sandbox" in err.value.message
    assert err.value.line == 4  # the parameter's line


def test_network_template_spans_the_zones_with_public_and_private_subnets() -> None:
    body = network_template(["a", "b", "c"], "run1")
    subnets = {k: v["Properties"] for k, v in body["Resources"].items() if v["Type"] == "AWS::EC2::Subnet"}
    assert sorted(subnets) == ["PrivateSubnet1", "PrivateSubnet2", "PrivateSubnet3", "PublicSubnet1", "PublicSubnet2", "PublicSubnet3"]
    assert {p["AvailabilityZone"] for p in subnets.values()} == {"a", "b", "c"}
    assert all(p["VpcId"] == {"Ref": "Vpc"} for p in subnets.values())
    assert body["Resources"]["PublicRoute"]["Properties"]["GatewayId"] == {"Ref": "InternetGateway"}


def test_fixtures_are_real_consistent_reported_and_kept_with_the_stack(sandbox, tmp_path: Path) -> None:
    result = deploy_with_autofix(FIXTURES / "network-params.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 report_json=tmp_path / "report.json")
    assert result.status == "succeeded", result.report["stop_reason"]
    values = {f["parameter"]: f["value"] for f in result.report["fixtures"]}
    kinds = {f["parameter"]: f["kind"] for f in result.report["fixtures"]}
    assert kinds == {"VpcId": "vpc", "Subnets": "subnet", "PrivateSubnet": "subnet", "KeyName": "keypair",
                     "ImageId": "image", "Zones": "availability-zone", "ClientGroup": "security-group", "Zone": "hosted-zone"}
    ec2 = client(sandbox, "ec2")
    subnets = ec2.describe_subnets(SubnetIds=values["Subnets"].split(",") + [values["PrivateSubnet"]])["Subnets"]
    assert {s["VpcId"] for s in subnets} == {values["VpcId"]}  # the subnets belong to the VPC given
    public = [s for s in subnets if s["SubnetId"] in values["Subnets"].split(",")]
    assert sorted(s["AvailabilityZone"] for s in public) == values["Zones"].split(",")
    # The VPC routes to an attached internet gateway (the route tables and associations are the fixture
    # stack's, checked in test_network_template_spans_the_zones_with_public_and_private_subnets).
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [values["VpcId"]]}])["RouteTables"]
    assert [r for t in tables for r in t["Routes"] if str(r.get("GatewayId")).startswith("igw-")]
    group = ec2.describe_security_groups(GroupIds=[values["ClientGroup"]])["SecurityGroups"][0]
    assert group["VpcId"] == values["VpcId"]
    assert ec2.describe_key_pairs(KeyNames=[values["KeyName"]])["KeyPairs"]
    assert client(sandbox, "route53").get_hosted_zone(Id=values["Zone"])["HostedZone"]["Id"].endswith(values["Zone"])
    gateways = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [values["VpcId"]]}])
    assert gateways["InternetGateways"]
    # The fixtures stack is tagged with the run id, so `sweep` removes it with the run's own stack.
    fixture_stack = client(sandbox, "cloudformation").describe_stacks(StackName=f"{result.stack_name}-fixtures")["Stacks"][0]
    assert {"Key": "cfn-autofix:run-id", "Value": result.run_id} in fixture_stack["Tags"]


def test_fixtures_die_with_the_stack(sandbox, tmp_path: Path) -> None:
    result = deploy_with_autofix(FIXTURES / "network-params.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=False)
    assert result.status == "succeeded" and result.report["stack_deleted"]
    values = {f["parameter"]: f["value"] for f in result.report["fixtures"]}
    ec2 = client(sandbox, "ec2")
    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [values["VpcId"]]}])["Vpcs"]
    assert not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [values["KeyName"]]}])["KeyPairs"]
    stacks = client(sandbox, "cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert not [s for s in stacks if s["StackName"].endswith("-fixtures")]


def test_sweep_removes_a_runs_key_pairs_with_its_fixtures_stack(sandbox) -> None:
    from orchestrator.aws import prereqs
    from orchestrator.aws.session import AwsSession
    from orchestrator.aws.sweep import SweepItem, delete_item
    from orchestrator.aws.targets import Target
    from orchestrator.deploy.fixtures import Fixtures, Need

    session = AwsSession(Target(kind="endpoint", region="us-east-1", endpoint_url=sandbox.endpoint_url,
                                credentials={k: v for k, v in sandbox.credentials.items() if k != "region_name"}))
    fixtures = Fixtures(session=session, run_id="run42", stack_name="cfn-autofix-app-run42", region="us-east-1")
    values = fixtures.provide([Need("KeyName", "AWS::EC2::KeyPair::KeyName", False, "AWS::EC2::KeyPair::KeyName")], {}, {})
    assert values == {"KeyName": "cfn-autofix-run42"} and fixtures.network_stack == "cfn-autofix-app-run42-fixtures"
    # An interrupted run leaves both; sweep finds the tagged fixtures stack and takes the key pair with it.
    item = SweepItem(region="us-east-1", stack_name=fixtures.network_stack, run_id="run42", status="CREATE_COMPLETE", created=None)
    delete_item(session, item, wait_timeout=60)
    assert item.action == "deleted"
    assert not client(sandbox, "ec2").describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["cfn-autofix-run42"]}])["KeyPairs"]
    assert prereqs.delete_run_key_pairs(session, "run42") == []


def test_api_made_fixtures_die_with_the_run(sandbox, tmp_path: Path) -> None:
    template = tmp_path / "site.yaml"
    template.write_text("Parameters:\n  CertificateArn: {Type: String}\n  UserPoolId: {Type: String}\n"
                        "Resources:\n  Cert:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref CertificateArn}\n"
                        "  Pool:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref UserPoolId}\n")
    result = deploy_with_autofix(template, target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1",
                                 parameters={"CertificateArn": "auto", "UserPoolId": "auto"})
    assert result.status == "succeeded" and result.report["stack_deleted"], result.report["stop_reason"]
    values = {f["parameter"]: f["value"] for f in result.report["fixtures"]}
    assert values["CertificateArn"].startswith("arn:aws:acm:") and not values["UserPoolId"].startswith("arn:")
    assert not client(sandbox, "acm").list_certificates()["CertificateSummaryList"]
    assert not client(sandbox, "cognito-idp").list_user_pools(MaxResults=10)["UserPools"]


def test_a_constrained_string_is_not_read_from_its_description() -> None:
    from orchestrator.deploy.strings import string_kind

    cidr = {"Type": "String", "Description": "CIDR block of the VPC",
            "AllowedPattern": r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})"}
    assert string_kind("Cidr", cidr, {}).type_name is None
    tier = {"Type": "String", "Description": "Which subnet tier", "AllowedValues": ["public", "private"]}
    assert string_kind("Tier", tier, {}).type_name is None


SITE = """Parameters:
  WebACL:
    Description: The web acl id of a CLOUDFRONT scoped web acl in us-east-1
    Type: String
  FirewallArn: {Type: String, Description: The WAF web ACL of the load balancer}
Resources:
  Content: {Type: AWS::S3::Bucket}
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        WebACLId: !Ref WebACL
        DefaultCacheBehavior: {TargetOriginId: content, ViewerProtocolPolicy: redirect-to-https, ForwardedValues: {QueryString: false}}
        Origins:
          - Id: content
            DomainName: !GetAtt Content.RegionalDomainName
            S3OriginConfig: {OriginAccessIdentity: ""}
  Regional:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !Ref FirewallArn}
"""


def test_a_web_acl_auto_gets_a_fixture_of_the_scope_its_user_needs(sandbox, tmp_path: Path) -> None:
    # aws-cloudformation-templates S3/compliant-static-website.yaml: a WebACL String the distribution uses.
    from orchestrator.deploy.strings import string_kind

    spec = {"Type": "String", "Description": "The web acl id of a CLOUDFRONT scoped web acl in us-east-1"}
    assert string_kind("WebACL", spec, {}).type_name == string_kind("Firewall", spec, {}).type_name == "web-acl"
    template = tmp_path / "site.yaml"
    template.write_text(SITE)
    result = deploy_with_autofix(template, target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1",
                                 parameters={"WebACL": "auto", "FirewallArn": "auto"}, keep_stack=True)
    assert result.status == "succeeded", result.report["stop_reason"]
    rows = {f["parameter"]: f for f in result.report["fixtures"]}
    waf = client(sandbox, "wafv2")
    for parameter, scope in (("WebACL", "CLOUDFRONT"), ("FirewallArn", "REGIONAL")):
        assert rows[parameter]["kind"] == "web-acl" and scope in rows[parameter]["resource"]
        [acl] = [a for a in waf.list_web_acls(Scope=scope)["WebACLs"] if a["ARN"] == rows[parameter]["value"]]
        assert waf.get_web_acl(Name=acl["Name"], Scope=scope, Id=acl["Id"])["WebACL"]["DefaultAction"] == {"Allow": {}}
    distribution = client(sandbox, "cloudfront").list_distributions()["DistributionList"]["Items"][0]
    assert distribution["WebACLId"] == rows["WebACL"]["value"]


def test_a_cloudfront_web_acl_is_a_missing_prerequisite_outside_us_east_1(sandbox_factory, tmp_path: Path) -> None:
    box = sandbox_factory(region="eu-west-1")
    template = tmp_path / "site.yaml"
    template.write_text(SITE)
    result = deploy_with_autofix(template, target="endpoint", endpoint_url=box.endpoint_url,
                                 credentials=box.credentials, region="eu-west-1",
                                 parameters={"WebACL": "auto", "FirewallArn": "auto"})
    assert result.status == "failed" and result.deployments == 0
    assert result.report["stop_reason"] == "prerequisite-missing: parameter WebACL (Parameters.WebACL)"
    [missing] = result.report["prerequisites_missing"]
    assert "WAF makes only in us-east-1 (this run deploys to eu-west-1)" in missing["reason"]

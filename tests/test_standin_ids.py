"""Stand-ins answer Ref and GetAtt in the shape AWS gives the type (read off its registry schema)."""

from __future__ import annotations

import json
import re

import pytest

from orchestrator.aws.targets import sandbox_client
from orchestrator.sandbox.emulated import EmulatedResource

WHERE = {"stack_name": "shop", "stack_id": "arn:aws:cloudformation:us-east-1:123456789012:stack/shop/1",
         "account_id": "123456789012", "region": "us-east-1"}


def stand_in(resource_type: str, **properties: object) -> EmulatedResource:
    return EmulatedResource(logical_id="Res", resource_type=resource_type, properties=properties, **WHERE)


@pytest.mark.parametrize(("resource_type", "properties", "shape"), [
    ("AWS::CloudFront::Distribution", {}, r"E[A-Z0-9]{13}"),
    ("AWS::CloudFront::OriginAccessControl", {}, r"E[A-Z0-9]{13}"),
    ("AWS::Cognito::UserPool", {}, r"us-east-1_[A-Za-z0-9]{9}"),
    ("AWS::Cognito::UserPoolClient", {"UserPoolId": "us-east-1_abcdefghi"}, r"[a-z0-9]{26}"),
    ("AWS::ApiGateway::Authorizer", {"RestApiId": "a1b2c3d4e5"}, r"[a-z0-9]{6}"),
    ("AWS::Backup::BackupPlan", {}, r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ("AWS::Backup::BackupVault", {"BackupVaultName": "vault"}, r"vault"),
    ("AWS::EC2::TransitGateway", {}, r"tgw-[0-9a-f]{17}"),
    ("AWS::EFS::FileSystem", {}, r"fs-[0-9a-f]{17}"),
    ("AWS::AmazonMQ::Broker", {}, r"b-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ("AWS::CloudTrail::Trail", {}, r"shop-Res-[A-Z0-9]{12}"),
    ("AWS::ApiGatewayV2::Stage", {"ApiId": "a1b2c3d4e5", "StageName": "prod"}, r"prod"),
    ("AWS::WAFv2::WebACL", {"Name": "acl", "Scope": "REGIONAL"}, r"acl\|[a-z0-9]{10}\|REGIONAL"),
    ("AWS::SecretsManager::SecretTargetAttachment", {"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"},
     r"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"),
    ("AWS::MSK::Cluster", {"ClusterName": "events"}, r"arn:aws:kafka:us-east-1:123456789012:cluster/[a-z0-9]{10}"),
])
def test_ref_has_the_shape_aws_gives_the_type(resource_type: str, properties: dict, shape: str) -> None:
    resource = stand_in(resource_type, **properties)
    assert re.fullmatch(shape, resource.physical_resource_id), resource.physical_resource_id
    assert resource.physical_resource_id == stand_in(resource_type, **properties).physical_resource_id  # reproducible


def test_getatt_answers_identifier_parts_and_documented_attributes() -> None:
    pool = stand_in("AWS::Cognito::UserPool")
    assert pool.get_cfn_attribute("UserPoolId") == pool.physical_resource_id
    assert pool.get_cfn_attribute("ProviderURL") == f"https://cognito-idp.us-east-1.amazonaws.com/{pool.physical_resource_id}"
    assert pool.get_cfn_attribute("Arn") == f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool.physical_resource_id}"
    acl = stand_in("AWS::WAFv2::WebACL", Name="acl", Scope="REGIONAL")
    assert acl.physical_resource_id.split("|")[1] == acl.get_cfn_attribute("Id")
    assert acl.get_cfn_attribute("Arn").startswith("arn:aws:wafv2:us-east-1:123456789012:web-acl/")
    distribution = stand_in("AWS::CloudFront::Distribution")
    assert re.fullmatch(r"d[a-z0-9]{13}\.cloudfront\.net", distribution.get_cfn_attribute("DomainName"))
    api = stand_in("AWS::ApiGatewayV2::Api")
    assert api.get_cfn_attribute("ApiEndpoint") == f"https://{api.physical_resource_id}.execute-api.us-east-1.amazonaws.com"


def test_a_stack_of_stand_ins_hands_their_ids_to_consumers(sandbox) -> None:
    body = {"Resources": {
        "Ipam": {"Type": "AWS::EC2::IPAM"},
        "Pool": {"Type": "AWS::EC2::IPAMPool", "Properties": {
            "AddressFamily": "ipv4", "IpamScopeId": {"Fn::GetAtt": ["Ipam", "PrivateDefaultScopeId"]}}},
        "Param": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Type": "String", "Value": {"Fn::Join": [",", [{"Ref": "Ipam"}, {"Ref": "Pool"},
                                                           {"Fn::GetAtt": ["Pool", "IpamPoolId"]}]]}}},
    }, "Outputs": {"Param": {"Value": {"Ref": "Param"}}}}
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName="ids", TemplateBody=json.dumps(body))
    stack = cf.describe_stacks(StackName="ids")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    value = sandbox_client(sandbox, "ssm").get_parameter(Name=stack["Outputs"][0]["OutputValue"])["Parameter"]["Value"]
    ipam, pool, pool_id = value.split(",")
    assert re.fullmatch(r"ipam-[0-9a-f]{17}", ipam) and re.fullmatch(r"ipam-pool-[0-9a-f]{17}", pool)
    assert pool_id == pool
    assert sandbox.fidelity("ids")["stand_in"] == ["Ipam", "Pool"]

"""Real models for the stand-in types left in the real-template corpus (MSK, MQ, Cognito, CloudFront, WAFv2,
API Gateway authorizers, Backup selections, RDS event subscriptions, secret attachments): deployed through
the embedded sandbox, their Ref/GetAtt checked against the service's own API."""

from __future__ import annotations

import json

import pytest
import test_sandbox_glue_models as glue_models
from test_sandbox_glue_models import delete, deploy, getatt, ref

from moto.backup.models import BackupBackend

from orchestrator.aws.targets import sandbox_client
from orchestrator.sandbox import patches

NETWORK = {**glue_models.NETWORK, "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {
    "VpcId": ref("Vpc"), "CidrBlock": "10.0.2.0/24"}}}


def test_msk_cluster_and_mq_broker_are_real(sandbox):
    """SAM's integration companion stack: an MSK cluster and an ActiveMQ broker in the stack's subnets."""
    resources = {**NETWORK,
        "Msk": {"Type": "AWS::MSK::Cluster", "Properties": {
            "ClusterName": "h11b-msk", "KafkaVersion": "3.8.x", "NumberOfBrokerNodes": 2,
            "BrokerNodeGroupInfo": {"ClientSubnets": [ref("Subnet"), ref("SubnetB")], "InstanceType": "kafka.t3.small",
                                    "StorageInfo": {"EBSStorageInfo": {"VolumeSize": 1}}},
            "Tags": {"team": "web"}}},
        "Broker": {"Type": "AWS::AmazonMQ::Broker", "Properties": {
            "BrokerName": "h11b-mq", "DeploymentMode": "SINGLE_INSTANCE", "EngineType": "ACTIVEMQ",
            "EngineVersion": "5.18", "HostInstanceType": "mq.t3.micro", "Logs": {"Audit": True, "General": True},
            "PubliclyAccessible": True, "AutoMinorVersionUpgrade": True, "SecurityGroups": [ref("Sg")],
            "SubnetIds": [ref("Subnet")], "Users": [{"ConsoleAccess": True, "Groups": ["admin"],
                                                       "Username": "user", "Password": "testBrokerPassword"}]}}}
    result = deploy(sandbox, resources, {
        "Msk": ref("Msk"), "MskArn": getatt("Msk", "Arn"), "Broker": ref("Broker"), "BrokerArn": getatt("Broker", "Arn"),
        "Amqp": {"Fn::Select": [0, getatt("Broker", "AmqpEndpoints")]},
        "Ip": {"Fn::Select": [0, getatt("Broker", "IpAddresses")]}, "Config": getatt("Broker", "ConfigurationId")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    kafka = sandbox_client(sandbox, "kafka")
    info = kafka.describe_cluster(ClusterArn=out["Msk"])["ClusterInfo"]
    assert out["MskArn"] == out["Msk"] == info["ClusterArn"] and info["ClusterName"] == "h11b-msk"
    assert info["NumberOfBrokerNodes"] == 2
    assert info["BrokerNodeGroupInfo"]["StorageInfo"]["EbsStorageInfo"]["VolumeSize"] == 1
    mq = sandbox_client(sandbox, "mq").describe_broker(BrokerId=out["Broker"])
    assert mq["BrokerArn"] == out["BrokerArn"] and mq["BrokerName"] == "h11b-mq"
    assert out["Amqp"] in mq["BrokerInstances"][0]["Endpoints"] and out["Amqp"].startswith("amqp+ssl://")
    assert out["Ip"] == mq["BrokerInstances"][0]["IpAddress"]
    assert out["Config"] == mq["Configurations"]["Current"]["Id"]
    assert [u["Username"] for u in mq["Users"]] == ["user"]
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert kafka.list_clusters()["ClusterInfoList"] == []
    assert sandbox_client(sandbox, "mq").list_brokers()["BrokerSummaries"] == []


BACKUP_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "backup.amazonaws.com"}}]}


def test_backup_selection_is_real_and_holds_its_plan(sandbox):
    """widdix/aws-cf-templates state/dynamodb and jenkins2-ha-agents: a selection of the stack's table in its plan."""
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": BACKUP_TRUST}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}},
        "Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "h11b"}},
        "Plan": {"Type": "AWS::Backup::BackupPlan", "Properties": {"BackupPlan": {
            "BackupPlanName": "daily", "BackupPlanRule": [{"RuleName": "daily", "TargetBackupVault": ref("Vault"),
                                                           "ScheduleExpression": "cron(0 5 ? * * *)"}]}}},
        "Selection": {"Type": "AWS::Backup::BackupSelection", "Properties": {
            "BackupPlanId": ref("Plan"), "BackupSelection": {
                "IamRoleArn": getatt("Role", "Arn"), "Resources": [getatt("Table", "Arn")], "SelectionName": "h11b"}}}}
    result = deploy(sandbox, resources, {"Selection": ref("Selection"), "Id": getatt("Selection", "SelectionId"),
                                         "Plan": getatt("Selection", "BackupPlanId"), "Table": getatt("Table", "Arn")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    backup = sandbox_client(sandbox, "backup")
    got = backup.get_backup_selection(BackupPlanId=out["Plan"], SelectionId=out["Selection"])
    assert out["Id"] == out["Selection"] and got["BackupSelection"]["Resources"] == [out["Table"]]
    assert [s["SelectionName"] for s in backup.list_backup_selections(BackupPlanId=out["Plan"])["BackupSelectionsList"]] \
        == ["h11b"]
    assert sandbox.fidelity("glue")["stand_in"] == []
    plan_in_use = backup.exceptions.InvalidRequestException
    try:
        backup.delete_backup_plan(BackupPlanId=out["Plan"])
        raise AssertionError("a plan with selections was deleted")
    except plan_in_use as exc:
        assert "selections must be deleted" in str(exc)
    delete(sandbox)
    assert backup.list_backup_plans()["BackupPlansList"] == []


def test_backup_selection_of_a_missing_plan_fails_as_backup_does(sandbox):
    result = deploy(sandbox, {"Selection": {"Type": "AWS::Backup::BackupSelection", "Properties": {
        "BackupPlanId": "0000-no-such-plan", "BackupSelection": {
            "IamRoleArn": "arn:aws:iam::123456789012:role/r", "SelectionName": "s", "Resources": ["*"]}}}})
    assert result["status"] != "CREATE_COMPLETE"
    assert "Failed reading Backup plan" in result["failed"]["Selection"]


def test_an_addition_moto_gains_is_reported_by_the_seam_check(monkeypatch):
    """The sandbox adds Backup selections to moto; once moto has its own, the seam check says so."""
    patches.install()
    patches.check_seams()
    monkeypatch.setattr(BackupBackend, "create_backup_selection", lambda *a: None)
    with pytest.raises(patches.SandboxSelfTestError, match="create_backup_selection now exists in moto"):
        patches.check_seams()


def test_cognito_pool_client_domain_identity_pool_and_authorizer_are_real(sandbox):
    """aws-cloudformation-templates solutions/WebApp: a user pool with its domain and client, a REST API
    authorized by the pool (COGNITO_USER_POOLS), and an identity pool trusting the client."""
    resources = {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {
            "UserPoolName": "h11b-app", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "AutoVerifiedAttributes": ["email"], "Schema": [{"Name": "email", "Required": True}]}},
        "Domain": {"Type": "AWS::Cognito::UserPoolDomain", "Properties": {"Domain": "h11b-app", "UserPoolId": ref("Pool")}},
        "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
            "ClientName": "h11b-app", "GenerateSecret": True, "UserPoolId": ref("Pool"),
            "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthScopes": ["openid"],
            "CallbackURLs": ["https://example.com/index.html"], "SupportedIdentityProviders": ["COGNITO"]}},
        "Identities": {"Type": "AWS::Cognito::IdentityPool", "Properties": {
            "IdentityPoolName": "h11b_identities", "AllowUnauthenticatedIdentities": False,
            "CognitoIdentityProviders": [{"ClientId": ref("Client"), "ProviderName": getatt("Pool", "ProviderName")}]}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "h11b"}},
        "Authorizer": {"Type": "AWS::ApiGateway::Authorizer", "Properties": {
            "IdentitySource": "method.request.header.authorization", "Name": "CognitoApiAuthorizer",
            "ProviderARNs": [getatt("Pool", "Arn")], "RestApiId": ref("Api"), "Type": "COGNITO_USER_POOLS"}}}
    result = deploy(sandbox, resources, {
        "Pool": ref("Pool"), "PoolArn": getatt("Pool", "Arn"), "Provider": getatt("Pool", "ProviderURL"),
        "Domain": ref("Domain"), "Cdn": getatt("Domain", "CloudFrontDistribution"), "Client": ref("Client"),
        "Secret": getatt("Client", "ClientSecret"), "Identities": ref("Identities"),
        "IdentitiesName": getatt("Identities", "Name"), "Api": ref("Api"), "Authorizer": ref("Authorizer")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    idp = sandbox_client(sandbox, "cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=out["Pool"])["UserPool"]
    assert pool["Arn"] == out["PoolArn"] and pool["Name"] == "h11b-app"
    assert out["Provider"] == f"https://cognito-idp.us-east-1.amazonaws.com/{out['Pool']}"
    domain = idp.describe_user_pool_domain(Domain=out["Domain"])["DomainDescription"]
    assert domain["UserPoolId"] == out["Pool"] and domain["CloudFrontDistribution"] == out["Cdn"]
    client = idp.describe_user_pool_client(UserPoolId=out["Pool"], ClientId=out["Client"])["UserPoolClient"]
    assert client["ClientSecret"] == out["Secret"] and client["AllowedOAuthFlows"] == ["code"]
    identity = sandbox_client(sandbox, "cognito-identity").describe_identity_pool(IdentityPoolId=out["Identities"])
    assert identity["IdentityPoolName"] == out["IdentitiesName"] == "h11b_identities"
    assert identity["CognitoIdentityProviders"][0]["ClientId"] == out["Client"]
    authorizer = sandbox_client(sandbox, "apigateway").get_authorizer(restApiId=out["Api"], authorizerId=out["Authorizer"])
    assert authorizer["providerARNs"] == [out["PoolArn"]] and authorizer["type"] == "COGNITO_USER_POOLS"
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert idp.list_user_pools(MaxResults=10)["UserPools"] == []


def test_a_client_of_a_missing_pool_fails_as_cognito_does(sandbox):
    result = deploy(sandbox, {"Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
        "ClientName": "c", "UserPoolId": "us-east-1_nosuchpool"}}})
    assert "User pool us-east-1_nosuchpool does not exist." in result["failed"]["Client"]


def test_cloudfront_distribution_with_origin_access_control_and_web_acl_is_real(sandbox):
    """aws-cloudformation-templates S3/compliant-static-website and solutions/WebApp: a distribution serving a
    bucket through an origin access control, logging to a bucket, protected by a CLOUDFRONT web ACL."""
    resources = {
        "Content": {"Type": "AWS::S3::Bucket"},
        "Logs": {"Type": "AWS::S3::Bucket"},
        "Oac": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {"OriginAccessControlConfig": {
            "Name": "h11b-oac", "OriginAccessControlOriginType": "s3", "SigningBehavior": "always",
            "SigningProtocol": "sigv4"}}},
        "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": "h11b-acl", "Scope": "CLOUDFRONT", "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "acl"},
            "Rules": [{"Name": "common", "Priority": 0, "OverrideAction": {"None": {}},
                       "VisibilityConfig": {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                                            "MetricName": "common"},
                       "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}}]}},
        "Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True, "DefaultRootObject": "index.html", "HttpVersion": "http2",
            "WebACLId": getatt("Acl", "Arn"),
            "Logging": {"Bucket": getatt("Logs", "RegionalDomainName"), "Prefix": "cdn/"},
            "Origins": [{"Id": "content", "DomainName": getatt("Content", "RegionalDomainName"),
                         "OriginAccessControlId": getatt("Oac", "Id"), "S3OriginConfig": {"OriginAccessIdentity": ""}}],
            "DefaultCacheBehavior": {"TargetOriginId": "content", "ViewerProtocolPolicy": "redirect-to-https",
                                     "AllowedMethods": ["GET", "HEAD", "OPTIONS"], "CachedMethods": ["GET", "HEAD"],
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6", "Compress": True},
            "CustomErrorResponses": [{"ErrorCode": 404, "ResponseCode": 200, "ResponsePagePath": "/index.html"}]}}}}
    result = deploy(sandbox, resources, {"Cdn": ref("Cdn"), "Domain": getatt("Cdn", "DomainName"), "Oac": ref("Oac"),
                                         "Acl": ref("Acl"), "AclArn": getatt("Acl", "Arn"), "AclId": getatt("Acl", "Id")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    cloudfront = sandbox_client(sandbox, "cloudfront")
    distribution = cloudfront.get_distribution(Id=out["Cdn"])["Distribution"]
    assert distribution["DomainName"] == out["Domain"] and out["Domain"].endswith(".cloudfront.net")
    config = distribution["DistributionConfig"]
    assert config["WebACLId"] == out["AclArn"] and config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["AllowedMethods"]["Items"] == ["GET", "HEAD", "OPTIONS"]
    assert config["Logging"]["Enabled"] and config["Logging"]["Prefix"] == "cdn/"
    assert cloudfront.get_origin_access_control(Id=out["Oac"])["OriginAccessControl"]["OriginAccessControlConfig"][
        "Name"] == "h11b-oac"
    assert out["Acl"] == f"h11b-acl|{out['AclId']}|CLOUDFRONT"
    acl = sandbox_client(sandbox, "wafv2").get_web_acl(Name="h11b-acl", Scope="CLOUDFRONT", Id=out["AclId"])["WebACL"]
    assert acl["ARN"] == out["AclArn"] and [r["Name"] for r in acl["Rules"]] == ["common"]
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []


def test_web_acl_association_and_ip_set_are_real(sandbox):
    """widdix/aws-cf-templates ecs/cluster and fargate/cluster: a REGIONAL web ACL associated with the ALB."""
    resources = {**NETWORK,
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Subnets": [ref("Subnet"), ref("SubnetB")], "SecurityGroups": [ref("Sg")]}},
        "Blocked": {"Type": "AWS::WAFv2::IPSet", "Properties": {
            "Name": "blocked", "Scope": "REGIONAL", "IPAddressVersion": "IPV4", "Addresses": ["192.0.2.0/24"]}},
        "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": "h11b-regional", "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "acl"},
            "Rules": [{"Name": "block", "Priority": 0, "Action": {"Block": {}},
                       "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                                            "MetricName": "block"},
                       "Statement": {"IPSetReferenceStatement": {"Arn": getatt("Blocked", "Arn")}}}]}},
        "Association": {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
            "ResourceArn": ref("Alb"), "WebACLArn": getatt("Acl", "Arn")}}}
    result = deploy(sandbox, resources, {"Alb": ref("Alb"), "AclArn": getatt("Acl", "Arn"), "Set": ref("Blocked"),
                                         "SetId": getatt("Blocked", "Id")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    waf = sandbox_client(sandbox, "wafv2")
    assert waf.get_web_acl_for_resource(ResourceArn=out["Alb"])["WebACL"]["ARN"] == out["AclArn"]
    ip_set = waf.get_ip_set(Name="blocked", Scope="REGIONAL", Id=out["SetId"])["IPSet"]
    assert out["Set"] == f"blocked|{out['SetId']}|REGIONAL" and ip_set["Addresses"] == ["192.0.2.0/24"]
    delete(sandbox)
    assert waf.list_web_acls(Scope="REGIONAL")["WebACLs"] == []


def test_an_association_with_a_missing_web_acl_fails_as_wafv2_does(sandbox):
    missing = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/none/00000000-0000-0000-0000-000000000000"
    result = deploy(sandbox, {**NETWORK,
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Subnets": [ref("Subnet"), ref("SubnetB")], "SecurityGroups": [ref("Sg")]}},
        "Association": {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
            "ResourceArn": ref("Alb"), "WebACLArn": missing}}})
    assert "WAFNonexistentItemException" in result["failed"]["Association"] or \
        "AWS WAF couldn" in result["failed"]["Association"]


def test_rds_event_subscription_and_secret_target_attachment_are_real(sandbox):
    """widdix/aws-cf-templates state/rds-postgres: the database's events to the alert topic, and its connection
    details attached to the master secret."""
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
            "SecretStringTemplate": '{"username": "master"}', "GenerateStringKey": "password", "PasswordLength": 30,
            "ExcludePunctuation": True}}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "postgres", "EngineVersion": "16.4", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20",
            "MasterUsername": "master", "MasterUserPassword": "averyverylongpassword"}},
        "Attachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
            "SecretId": ref("Secret"), "TargetId": ref("Db"), "TargetType": "AWS::RDS::DBInstance"}},
        "Events": {"Type": "AWS::RDS::EventSubscription", "Properties": {
            "EventCategories": ["failover", "failure"], "SnsTopicArn": ref("Topic"), "SourceIds": [ref("Db")],
            "SourceType": "db-instance"}}}
    result = deploy(sandbox, resources, {"Attachment": ref("Attachment"), "Secret": ref("Secret"), "Db": ref("Db"),
                                         "Host": getatt("Db", "Endpoint.Address"), "Events": ref("Events")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    assert out["Attachment"] == out["Secret"]
    value = json.loads(sandbox_client(sandbox, "secretsmanager").get_secret_value(SecretId=out["Secret"])["SecretString"])
    assert value["username"] == "master" and len(value["password"]) == 30
    assert (value["engine"], value["host"], int(value["port"]), value["dbInstanceIdentifier"]) == \
        ("postgres", out["Host"], 5432, out["Db"])
    subscription = sandbox_client(sandbox, "rds").describe_event_subscriptions(SubscriptionName=out["Events"])[
        "EventSubscriptionsList"][0]
    assert subscription["SourceIdsList"] == [out["Db"]] and subscription["EventCategoriesList"] == ["failover", "failure"]
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert sandbox_client(sandbox, "rds").describe_event_subscriptions()["EventSubscriptionsList"] == []


def test_an_event_subscription_to_a_missing_topic_fails_as_rds_does(sandbox):
    result = deploy(sandbox, {"Events": {"Type": "AWS::RDS::EventSubscription", "Properties": {
        "SnsTopicArn": "arn:aws:sns:us-east-1:123456789012:none", "SourceType": "db-instance"}}})
    assert "SNS topic ARN arn:aws:sns:us-east-1:123456789012:none does not exist" in result["failed"]["Events"]


def test_an_attachment_to_a_redshift_cluster_is_a_declared_sandbox_limitation(sandbox):
    result = deploy(sandbox, {
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "{}"}},
        "Attachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
            "SecretId": ref("Secret"), "TargetId": "warehouse", "TargetType": "AWS::Redshift::Cluster"}}})
    limits = sandbox.fidelity("glue")["sandbox_limitations"]
    assert [item["logical_id"] for item in limits] == ["Attachment"]
    assert "AWS::Redshift::Cluster" in limits[0]["reason"]


def _v6_subnet(index: int) -> dict:
    return {"Fn::Select": [index, {"Fn::Cidr": [{"Fn::Select": [0, getatt("Vpc", "Ipv6CidrBlocks")]}, 4, 64]}]}


def test_a_subnets_ipv6_block_is_real_and_a_subnet_cidr_block_adds_one(sandbox):
    """widdix/aws-cf-templates vpc-2azs: subnets carve /64s of the VPC's Amazon-provided block; a
    SubnetCidrBlock associates one with a subnet created without."""
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "V6": {"Type": "AWS::EC2::VPCCidrBlock", "Properties": {"AmazonProvidedIpv6CidrBlock": True, "VpcId": ref("Vpc")}},
        "Public": {"Type": "AWS::EC2::Subnet", "DependsOn": "V6", "Properties": {
            "VpcId": ref("Vpc"), "CidrBlock": "10.0.0.0/20", "Ipv6CidrBlock": _v6_subnet(0),
            "AssignIpv6AddressOnCreation": True, "MapPublicIpOnLaunch": True, "Tags": [{"Key": "Name", "Value": "A public"}]}},
        "Private": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": ref("Vpc"), "CidrBlock": "10.0.16.0/20"}},
        "PrivateV6": {"Type": "AWS::EC2::SubnetCidrBlock", "DependsOn": "V6", "Properties": {
            "SubnetId": ref("Private"), "Ipv6CidrBlock": _v6_subnet(1)}}}
    result = deploy(sandbox, resources, {
        "Public": ref("Public"), "PublicV6": {"Fn::Select": [0, getatt("Public", "Ipv6CidrBlocks")]},
        "Private": ref("Private"), "Assoc": ref("PrivateV6"), "Wanted": _v6_subnet(1)})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    ec2 = sandbox_client(sandbox, "ec2")
    public, private = (ec2.describe_subnets(SubnetIds=[out[k]])["Subnets"][0] for k in ("Public", "Private"))
    assert [a["Ipv6CidrBlock"] for a in public["Ipv6CidrBlockAssociationSet"]] == [out["PublicV6"]]
    assert public["MapPublicIpOnLaunch"] and public["AssignIpv6AddressOnCreation"]
    assert {"Key": "Name", "Value": "A public"} in public["Tags"]
    assert not private["MapPublicIpOnLaunch"]
    assert [(a["AssociationId"], a["Ipv6CidrBlock"]) for a in private["Ipv6CidrBlockAssociationSet"]] == \
        [(out["Assoc"], out["Wanted"])]
    assert out["Assoc"].startswith("subnet-cidr-assoc-")
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)


def test_a_subnet_ipv6_block_outside_the_vpc_fails_as_ec2_does(sandbox):
    result = deploy(sandbox, {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": ref("Vpc"), "CidrBlock": "10.0.0.0/20", "Ipv6CidrBlock": "2001:db8::/64"}}})
    assert "The CIDR '2001:db8::/64' is invalid." in result["failed"]["Subnet"]


def test_cloudfront_origin_access_identity_is_real_and_guards_its_distribution(sandbox):
    """widdix/aws-cf-templates state/s3 (CloudFront access): an origin access identity granted in the bucket
    policy by its canonical user, used by a distribution's S3 origin."""
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Oai": {"Type": "AWS::CloudFront::CloudFrontOriginAccessIdentity", "Properties": {
            "CloudFrontOriginAccessIdentityConfig": {"Comment": ref("Bucket")}}},
        "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": ref("Bucket"), "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:GetObject", "Principal": {"CanonicalUser": getatt("Oai", "S3CanonicalUserId")},
                "Resource": {"Fn::Sub": "arn:aws:s3:::${Bucket}/*"}}]}}},
        "Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True,
            "Origins": [{"Id": "s3", "DomainName": getatt("Bucket", "RegionalDomainName"), "S3OriginConfig": {
                "OriginAccessIdentity": {"Fn::Sub": "origin-access-identity/cloudfront/${Oai}"}}}],
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                     "ForwardedValues": {"QueryString": False}}}}}}
    result = deploy(sandbox, resources, {"Oai": ref("Oai"), "User": getatt("Oai", "S3CanonicalUserId"), "Cdn": ref("Cdn")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    cloudfront = sandbox_client(sandbox, "cloudfront")
    identity = cloudfront.get_cloud_front_origin_access_identity(Id=out["Oai"])["CloudFrontOriginAccessIdentity"]
    assert identity["S3CanonicalUserId"] == out["User"] and len(out["User"]) == 96
    assert [i["Id"] for i in cloudfront.list_cloud_front_origin_access_identities()[
        "CloudFrontOriginAccessIdentityList"]["Items"]] == [out["Oai"]]
    with pytest.raises(cloudfront.exceptions.CloudFrontOriginAccessIdentityInUse):
        cloudfront.delete_cloud_front_origin_access_identity(Id=out["Oai"], IfMatch="x")
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert cloudfront.list_cloud_front_origin_access_identities()["CloudFrontOriginAccessIdentityList"].get("Items", []) == []


def test_a_distribution_naming_a_missing_identity_fails_as_cloudfront_does(sandbox):
    result = deploy(sandbox, {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True,
            "Origins": [{"Id": "s3", "DomainName": getatt("Bucket", "RegionalDomainName"), "S3OriginConfig": {
                "OriginAccessIdentity": "origin-access-identity/cloudfront/E000000000000"}}],
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all"}}}}})
    assert "The specified origin access identity does not exist or is not valid." in result["failed"]["Cdn"]


def test_cloudfront_cache_policy_is_real_and_used_by_a_distribution(sandbox):
    """A custom cache policy (headers, cookies and query strings in the key) on a distribution's default
    behavior; CloudFront refuses to delete it while the distribution uses it."""
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Policy": {"Type": "AWS::CloudFront::CachePolicy", "Properties": {"CachePolicyConfig": {
            "Name": "h11b-policy", "MinTTL": 1, "DefaultTTL": 60, "MaxTTL": 3600,
            "ParametersInCacheKeyAndForwardedToOrigin": {
                "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True,
                "HeadersConfig": {"HeaderBehavior": "whitelist", "Headers": ["Origin", "Accept-Language"]},
                "CookiesConfig": {"CookieBehavior": "none"},
                "QueryStringsConfig": {"QueryStringBehavior": "whitelist", "QueryStrings": ["page"]}}}}},
        "Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True,
            "Origins": [{"Id": "s3", "DomainName": getatt("Bucket", "RegionalDomainName"), "S3OriginConfig": {}}],
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": ref("Policy")}}}}}
    result = deploy(sandbox, resources, {"Policy": ref("Policy"), "Modified": getatt("Policy", "LastModifiedTime")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    cloudfront = sandbox_client(sandbox, "cloudfront")
    policy = cloudfront.get_cache_policy(Id=out["Policy"])["CachePolicy"]
    config = policy["CachePolicyConfig"]
    assert config["Name"] == "h11b-policy" and config["DefaultTTL"] == 60
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"]["Headers"]["Items"] == ["Origin", "Accept-Language"]
    assert key["QueryStringsConfig"]["QueryStrings"] == {"Quantity": 1, "Items": ["page"]}
    with pytest.raises(cloudfront.exceptions.CachePolicyInUse):
        cloudfront.delete_cache_policy(Id=out["Policy"], IfMatch="x")
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert cloudfront.list_cache_policies(Type="custom")["CachePolicyList"].get("Items", []) == []


def test_a_cache_policy_whose_ttls_disagree_fails_as_cloudfront_does(sandbox):
    result = deploy(sandbox, {"Policy": {"Type": "AWS::CloudFront::CachePolicy", "Properties": {"CachePolicyConfig": {
        "Name": "bad", "MinTTL": 100, "DefaultTTL": 10, "MaxTTL": 1000,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": False, "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}}}}}})
    assert "MinTTL must be less than or equal to its DefaultTTL" in result["failed"]["Policy"]


def test_cognito_groups_resource_servers_and_identity_providers_are_real(sandbox):
    resources = {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "h11b-more"}},
        "Admins": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {
            "GroupName": "admins", "UserPoolId": ref("Pool"), "Precedence": 1, "Description": "operators"}},
        "Api": {"Type": "AWS::Cognito::UserPoolResourceServer", "Properties": {
            "UserPoolId": ref("Pool"), "Identifier": "https://api.example.com", "Name": "api",
            "Scopes": [{"ScopeName": "read", "ScopeDescription": "read things"}]}},
        "Idp": {"Type": "AWS::Cognito::UserPoolIdentityProvider", "Properties": {
            "UserPoolId": ref("Pool"), "ProviderName": "Corp", "ProviderType": "OIDC",
            "ProviderDetails": {"client_id": "abc", "client_secret": "def", "authorize_scopes": "openid",
                                "oidc_issuer": "https://idp.example.com", "attributes_request_method": "GET"},
            "AttributeMapping": {"email": "email"}}}}
    result = deploy(sandbox, resources, {"Pool": ref("Pool"), "Group": ref("Admins"), "Server": ref("Api"),
                                         "Idp": ref("Idp")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    idp = sandbox_client(sandbox, "cognito-idp")
    group = idp.get_group(GroupName=out["Group"], UserPoolId=out["Pool"])["Group"]
    assert (group["GroupName"], group["Precedence"], group["Description"]) == ("admins", 1, "operators")
    server = idp.describe_resource_server(UserPoolId=out["Pool"], Identifier=out["Server"])["ResourceServer"]
    assert server["Scopes"] == [{"ScopeName": "read", "ScopeDescription": "read things"}]
    provider = idp.describe_identity_provider(UserPoolId=out["Pool"], ProviderName=out["Idp"])["IdentityProvider"]
    assert provider["ProviderType"] == "OIDC" and provider["AttributeMapping"] == {"email": "email"}
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert idp.list_user_pools(MaxResults=10)["UserPools"] == []


def test_a_distribution_naming_a_missing_web_acl_fails_as_cloudfront_does(sandbox):
    """aws-cloudformation-templates S3/compliant-static-website takes the web ACL's ARN as a parameter."""
    result = deploy(sandbox, {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
            "Enabled": True, "WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/none/0000",
            "Origins": [{"Id": "s3", "DomainName": getatt("Bucket", "RegionalDomainName"), "S3OriginConfig": {}}],
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all"}}}}})
    assert "Web ACL is not accessible by the requester." in result["failed"]["Cdn"]


@pytest.mark.parametrize(("region", "scope", "created"), [("eu-west-1", "CLOUDFRONT", False), ("eu-west-1", "REGIONAL", True),
                                                          ("us-east-1", "CLOUDFRONT", True)])
def test_a_cloudfront_scoped_ip_set_is_made_only_in_us_east_1(sandbox_factory, region: str, scope: str, created: bool) -> None:
    """WAFv2's Scope rule (aws-samples/aws-waf-rate-based-rule-customized-block-period#1, aws-genai-llm-chatbot#585:
    the same stack in another region fails on the IP set with WAF's own text)."""
    box = sandbox_factory(region=region)
    cf = sandbox_client(box, "cloudformation")
    template = {"Resources": {"Blocked": {"Type": "AWS::WAFv2::IPSet", "Properties": {
        "Scope": scope, "IPAddressVersion": "IPV4", "Addresses": ["192.0.2.0/24"]}}}}
    cf.create_stack(StackName="waf-scope", TemplateBody=json.dumps(template), DisableRollback=True)
    stack = cf.describe_stacks(StackName="waf-scope")["Stacks"][0]
    assert (stack["StackStatus"] == "CREATE_COMPLETE") is created
    if not created:
        [reason] = [e["ResourceStatusReason"] for e in cf.describe_stack_events(StackName="waf-scope")["StackEvents"]
                    if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Blocked"]
        assert reason.startswith('Resource handler returned message: "Error reason: The scope is not valid., field: '
                                 'SCOPE_VALUE, parameter: CLOUDFRONT (Service: Wafv2, Status Code: 400, Request ID: ')
        assert reason.endswith("HandlerErrorCode: InvalidRequest)")

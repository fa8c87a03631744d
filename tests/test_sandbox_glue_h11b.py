"""Real models for the stand-in types left in the real-template corpus (MSK, MQ, Cognito, CloudFront, WAFv2,
API Gateway authorizers, Backup selections, RDS event subscriptions, secret attachments): deployed through
the embedded sandbox, their Ref/GetAtt checked against the service's own API."""

from __future__ import annotations

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

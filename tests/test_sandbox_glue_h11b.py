"""Real models for the stand-in types left in the real-template corpus (MSK, MQ, Cognito, CloudFront, WAFv2,
API Gateway authorizers, Backup selections, RDS event subscriptions, secret attachments): deployed through
the embedded sandbox, their Ref/GetAtt checked against the service's own API."""

from __future__ import annotations

import test_sandbox_glue_models as glue_models
from test_sandbox_glue_models import delete, deploy, getatt, ref

from orchestrator.aws.targets import sandbox_client

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

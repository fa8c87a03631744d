"""Real models for the stand-in types left in the real-template corpus (MSK, MQ, Cognito, CloudFront, WAFv2,
API Gateway authorizers, Backup selections, RDS event subscriptions, secret attachments): deployed through
the embedded sandbox, their Ref/GetAtt checked against the service's own API."""

from __future__ import annotations

import json

from orchestrator.aws.targets import sandbox_client


def deploy(sandbox, resources: dict, outputs: dict | None = None, name: str = "h11b") -> dict:
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Resources": resources, **({"Outputs": {k: {"Value": v} for k, v in outputs.items()}} if outputs else {})}
    cf.create_stack(StackName=name, TemplateBody=json.dumps(body), DisableRollback=True,
                    Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason") for e in events if e["ResourceStatus"] == "CREATE_FAILED"}
    return {"status": stack["StackStatus"], "failed": failed, "fidelity": sandbox.fidelity(name),
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}}


def delete(sandbox, name: str = "h11b") -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.delete_stack(StackName=name)


def ref(name: str) -> dict:
    return {"Ref": name}


def getatt(name: str, attribute: str) -> dict:
    return {"Fn::GetAtt": [name, attribute]}


NETWORK = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": ref("Vpc"), "CidrBlock": "10.0.0.0/24",
                                                          "AvailabilityZone": "us-east-1a"}},
    "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": ref("Vpc"), "CidrBlock": "10.0.1.0/24",
                                                          "AvailabilityZone": "us-east-1b"}},
    "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "mq", "VpcId": ref("Vpc")}},
}


def test_msk_cluster_and_mq_broker_are_real(sandbox):
    """SAM's integration companion stack: an MSK cluster and an ActiveMQ broker in the stack's subnets."""
    resources = {**NETWORK,
        "Msk": {"Type": "AWS::MSK::Cluster", "Properties": {
            "ClusterName": "h11b-msk", "KafkaVersion": "3.8.x", "NumberOfBrokerNodes": 2,
            "BrokerNodeGroupInfo": {"ClientSubnets": [ref("SubnetA"), ref("SubnetB")], "InstanceType": "kafka.t3.small",
                                    "StorageInfo": {"EBSStorageInfo": {"VolumeSize": 1}}},
            "Tags": {"team": "web"}}},
        "Broker": {"Type": "AWS::AmazonMQ::Broker", "Properties": {
            "BrokerName": "h11b-mq", "DeploymentMode": "SINGLE_INSTANCE", "EngineType": "ACTIVEMQ",
            "EngineVersion": "5.18", "HostInstanceType": "mq.t3.micro", "Logs": {"Audit": True, "General": True},
            "PubliclyAccessible": True, "AutoMinorVersionUpgrade": True, "SecurityGroups": [ref("Sg")],
            "SubnetIds": [ref("SubnetA")], "Users": [{"ConsoleAccess": True, "Groups": ["admin"],
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
    assert result["fidelity"]["stand_in"] == []
    delete(sandbox)
    assert kafka.list_clusters()["ClusterInfoList"] == []
    assert sandbox_client(sandbox, "mq").list_brokers()["BrokerSummaries"] == []

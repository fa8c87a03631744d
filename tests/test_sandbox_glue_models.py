"""Real models for types moto serves but cannot build from a template: built, looked up, answered, deleted."""

from __future__ import annotations

import json

from orchestrator.aws.targets import sandbox_client

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": ["codepipeline.amazonaws.com",
                                                                           "codedeploy.amazonaws.com",
                                                                           "codebuild.amazonaws.com",
                                                                           "config.amazonaws.com"]}}]}
ROLE = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}}


def ref(name: str) -> dict:
    return {"Ref": name}


def getatt(name: str, attribute: str) -> dict:
    return {"Fn::GetAtt": [name, attribute]}


def deploy(sandbox, resources: dict, outputs: dict | None = None, name: str = "glue") -> dict:
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Resources": resources, **({"Outputs": {k: {"Value": v} for k, v in outputs.items()}} if outputs else {})}
    cf.create_stack(StackName=name, TemplateBody=json.dumps(body), DisableRollback=True,
                    Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason") for e in events if e["ResourceStatus"] == "CREATE_FAILED"}
    return {"status": stack["StackStatus"], "failed": failed,
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}}


def delete(sandbox, name: str = "glue") -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.delete_stack(StackName=name)
    assert cf.describe_stacks(StackName=cf.list_stacks()["StackSummaries"][0]["StackId"])["Stacks"][0]["StackStatus"] \
        == "DELETE_COMPLETE"


NETWORK = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "web", "VpcId": ref("Vpc")}},
    "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": ref("Vpc"), "CidrBlock": "10.0.1.0/24"}},
}


def test_network_egress_cidr_blocks_dhcp_options_and_eip_associations_are_real(sandbox):
    result = deploy(sandbox, {
        **NETWORK,
        "Egress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": ref("Sg"), "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.1.0.0/16"}},
        "EgressToGroup": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": ref("Sg"), "IpProtocol": "-1", "DestinationSecurityGroupId": ref("Sg")}},
        "Ipv6": {"Type": "AWS::EC2::VPCCidrBlock", "Properties": {"VpcId": ref("Vpc"), "AmazonProvidedIpv6CidrBlock": True}},
        "Ipv6Subnet": {"Type": "AWS::EC2::Subnet", "DependsOn": "Ipv6", "Properties": {
            "VpcId": ref("Vpc"), "CidrBlock": "10.0.2.0/24",
            "Ipv6CidrBlock": {"Fn::Select": [0, {"Fn::Cidr": [{"Fn::Select": [0, getatt("Vpc", "Ipv6CidrBlocks")]}, 2, 64]}]}}},
        "Secondary": {"Type": "AWS::EC2::VPCCidrBlock", "Properties": {"VpcId": ref("Vpc"), "CidrBlock": "10.2.0.0/16"}},
        "Dhcp": {"Type": "AWS::EC2::DHCPOptions", "Properties": {
            "DomainName": "example.internal", "DomainNameServers": ["AmazonProvidedDNS"],
            "Tags": [{"Key": "team", "Value": "net"}]}},
        "DhcpAssoc": {"Type": "AWS::EC2::VPCDHCPOptionsAssociation", "Properties": {
            "VpcId": ref("Vpc"), "DhcpOptionsId": ref("Dhcp")}},
        "Eni": {"Type": "AWS::EC2::NetworkInterface", "Properties": {"SubnetId": ref("Subnet")}},
        "Eip": {"Type": "AWS::EC2::EIP"},  # no Domain: still a VPC address with an AllocationId since EC2-Classic
        "EipAssoc": {"Type": "AWS::EC2::EIPAssociation", "Properties": {
            "AllocationId": getatt("Eip", "AllocationId"), "NetworkInterfaceId": ref("Eni")}},
    }, {"Egress": ref("Egress"), "Sg": ref("Sg"), "Ipv6": ref("Ipv6"), "Block": getatt("Ipv6", "Ipv6CidrBlock"),
        "Ipv6Subnet": ref("Ipv6Subnet"), "Dhcp": ref("Dhcp"), "Vpc": ref("Vpc"), "EipAssoc": ref("EipAssoc"),
        "Eip": ref("Eip")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    ec2 = sandbox_client(sandbox, "ec2")
    assert out["Egress"].startswith("sgr-")
    group = ec2.describe_security_groups(GroupIds=[out["Sg"]])["SecurityGroups"][0]
    assert any(p.get("FromPort") == 443 and p["IpRanges"] == [{"CidrIp": "10.1.0.0/16"}] for p in group["IpPermissionsEgress"])
    assert any(p.get("UserIdGroupPairs") for p in group["IpPermissionsEgress"])
    vpc = ec2.describe_vpcs(VpcIds=[out["Vpc"]])["Vpcs"][0]
    assert out["Ipv6"].startswith("vpc-cidr-assoc-")
    assert [b["Ipv6CidrBlock"] for b in vpc["Ipv6CidrBlockAssociationSet"]] == [out["Block"]]
    assert "10.2.0.0/16" in [b["CidrBlock"] for b in vpc["CidrBlockAssociationSet"]]
    # The VPC's Ipv6CidrBlocks is a list holding the new block, so Fn::Select/Fn::Cidr over it evaluate.
    assert ec2.describe_subnets(SubnetIds=[out["Ipv6Subnet"]])["Subnets"][0]["VpcId"] == out["Vpc"]
    assert out["Dhcp"].startswith("dopt-") and vpc["DhcpOptionsId"] == out["Dhcp"]
    address = ec2.describe_addresses(PublicIps=[out["Eip"]])["Addresses"][0]
    assert out["EipAssoc"].startswith("eipassoc-") and address["AssociationId"] == out["EipAssoc"]
    assert sandbox.fidelity("glue")["stand_in"] == []

    delete(sandbox)
    assert ec2.describe_dhcp_options(Filters=[{"Name": "dhcp-options-id", "Values": [out["Dhcp"]]}])["DhcpOptions"] == []
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [out["Sg"]]}])["SecurityGroups"]


def test_an_egress_rule_on_an_unknown_group_fails_as_on_aws(sandbox):
    result = deploy(sandbox, {"Egress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
        "GroupId": "sg-0123456789abcdef0", "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}}})
    assert "sg-0123456789abcdef0" in result["failed"]["Egress"] and "does not exist" in result["failed"]["Egress"]


SCALING = {
    **NETWORK,
    "Lc": {"Type": "AWS::AutoScaling::LaunchConfiguration", "Properties": {"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}},
    "Asg": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
        "LaunchConfigurationName": ref("Lc"), "MinSize": "0", "MaxSize": "2", "VPCZoneIdentifier": [ref("Subnet")]}},
    "ScaleOut": {"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
        "AutoScalingGroupName": ref("Asg"), "PolicyType": "TargetTrackingScaling", "TargetTrackingConfiguration": {
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": 60}}},
    "Hook": {"Type": "AWS::AutoScaling::LifecycleHook", "Properties": {
        "AutoScalingGroupName": ref("Asg"), "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "HeartbeatTimeout": 300}},
    "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}},
    "ReadTarget": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
        "ServiceNamespace": "dynamodb", "ResourceId": {"Fn::Sub": "table/${Table}"},
        "ScalableDimension": "dynamodb:table:ReadCapacityUnits", "MinCapacity": 5, "MaxCapacity": 50}},
    "ReadPolicy": {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
        "PolicyName": "read-scaling", "PolicyType": "TargetTrackingScaling", "ScalingTargetId": ref("ReadTarget"),
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "DynamoDBReadCapacityUtilization"}}}},
}


def test_scaling_policies_hooks_and_scalable_targets_are_real(sandbox):
    result = deploy(sandbox, SCALING, {"Policy": ref("ScaleOut"), "PolicyArn": getatt("ScaleOut", "Arn"),
                                       "Hook": ref("Hook"), "Target": ref("ReadTarget"), "Table": ref("Table"),
                                       "ReadPolicy": ref("ReadPolicy"), "Asg": ref("Asg")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    autoscaling = sandbox_client(sandbox, "autoscaling")
    policy = autoscaling.describe_policies(AutoScalingGroupName=out["Asg"])["ScalingPolicies"][0]
    assert out["Policy"] == out["PolicyArn"] == policy["PolicyARN"]
    assert policy["PolicyName"].startswith("glue-ScaleOut-")
    assert autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=out["Asg"])["LifecycleHooks"][0][
        "LifecycleHookName"] == out["Hook"]
    assert out["Target"] == f"table/{out['Table']}|dynamodb:table:ReadCapacityUnits|dynamodb"
    aas = sandbox_client(sandbox, "application-autoscaling")
    assert aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"][0]["MaxCapacity"] == 50
    assert aas.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"][0]["PolicyARN"] == out["ReadPolicy"]
    assert sandbox.fidelity("glue")["stand_in"] == []

    delete(sandbox)
    assert aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="dynamodb")["ScalingPolicies"] == []
    assert autoscaling.describe_policies()["ScalingPolicies"] == []


def test_a_scaling_policy_needs_its_group_and_a_policy_its_target(sandbox):
    result = deploy(sandbox, {
        "ScaleOut": {"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
            "AutoScalingGroupName": "no-such-group", "AdjustmentType": "ChangeInCapacity", "ScalingAdjustment": 1}},
        "Orphan": {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
            "PolicyName": "p", "PolicyType": "StepScaling", "ServiceNamespace": "dynamodb",
            "ResourceId": "table/none", "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
            "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity"}}},
    })
    assert "AutoScalingGroup name not found" in result["failed"]["ScaleOut"]
    assert "No scalable target registered" in result["failed"]["Orphan"]


def test_a_misspelt_property_of_a_modelled_type_fails_schema_validation(sandbox):
    result = deploy(sandbox, {**SCALING, "ScaleOut": {"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
        "AutoScalingGroupName": ref("Asg"), "PolicyType": "SimpleScaling", "AdjustmentTyp": "ChangeInCapacity"}}})
    assert result["failed"]["ScaleOut"] == ("Properties validation failed for resource ScaleOut with message: "
                                            "[#: extraneous key [AdjustmentTyp] is not permitted]")


DELIVERY = {
    "Role": ROLE,
    "Artifacts": {"Type": "AWS::S3::Bucket"},
    "App": {"Type": "AWS::CodeDeploy::Application", "Properties": {"ComputePlatform": "Server"}},
    "Group": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {
        "ApplicationName": ref("App"), "ServiceRoleArn": getatt("Role", "Arn"),
        "DeploymentConfigName": "CodeDeployDefault.OneAtATime",
        "Ec2TagFilters": [{"Key": "app", "Value": "web", "Type": "KEY_AND_VALUE"}],
        "DeploymentStyle": {"DeploymentType": "IN_PLACE", "DeploymentOption": "WITHOUT_TRAFFIC_CONTROL"}}},
    "Build": {"Type": "AWS::CodeBuild::Project", "Properties": {
        "ServiceRole": getatt("Role", "Arn"), "Source": {"Type": "CODEPIPELINE"}, "Artifacts": {"Type": "CODEPIPELINE"},
        "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
                        "Image": "aws/codebuild/standard:7.0"}}},
    "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {
        "RoleArn": getatt("Role", "Arn"), "ArtifactStore": {"Type": "S3", "Location": ref("Artifacts")},
        "RestartExecutionOnUpdate": True,
        "Stages": [
            {"Name": "Source", "Actions": [{"Name": "Source", "ActionTypeId": {
                "Category": "Source", "Owner": "AWS", "Provider": "S3", "Version": "1"},
                "Configuration": {"S3Bucket": ref("Artifacts"), "S3ObjectKey": "app.zip"},
                "OutputArtifacts": [{"Name": "App"}]}]},
            {"Name": "Build", "Actions": [{"Name": "Build", "RunOrder": 1, "ActionTypeId": {
                "Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                "Configuration": {"ProjectName": ref("Build")}, "InputArtifacts": [{"Name": "App"}]}]}]}},
    "Logs": {"Type": "AWS::Logs::LogGroup"},
    "Errors": {"Type": "AWS::Logs::MetricFilter", "Properties": {
        "LogGroupName": ref("Logs"), "FilterPattern": "ERROR", "MetricTransformations": [
            {"MetricName": "Errors", "MetricNamespace": "App", "MetricValue": "1"}]}},
    "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
    "Method": {"Type": "AWS::ApiGateway::Method", "Properties": {
        "RestApiId": ref("Api"), "ResourceId": getatt("Api", "RootResourceId"), "HttpMethod": "GET",
        "AuthorizationType": "NONE", "Integration": {"Type": "MOCK"}}},
    "Deployment": {"Type": "AWS::ApiGateway::Deployment", "DependsOn": "Method", "Properties": {"RestApiId": ref("Api")}},
    "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {
        "RestApiId": ref("Api"), "DeploymentId": ref("Deployment"), "StageName": "prod",
        "Variables": {"mode": "live"}}},
}


def test_codedeploy_codepipeline_codebuild_metric_filters_and_stages_are_real(sandbox):
    result = deploy(sandbox, DELIVERY, {"App": ref("App"), "Group": ref("Group"), "Pipeline": ref("Pipeline"),
                                        "Version": getatt("Pipeline", "Version"), "Build": ref("Build"),
                                        "BuildArn": getatt("Build", "Arn"), "Filter": ref("Errors"),
                                        "Logs": ref("Logs"), "Stage": ref("Stage"), "Api": ref("Api")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    codedeploy = sandbox_client(sandbox, "codedeploy")
    assert out["App"].startswith("glue-App-")
    group = codedeploy.get_deployment_group(applicationName=out["App"], deploymentGroupName=out["Group"])["deploymentGroupInfo"]
    assert group["ec2TagFilters"] == [{"Key": "app", "Value": "web", "Type": "KEY_AND_VALUE"}]
    assert group["deploymentStyle"]["deploymentType"] == "IN_PLACE"
    pipeline = sandbox_client(sandbox, "codepipeline").get_pipeline(name=out["Pipeline"])["pipeline"]
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "Build"]
    assert pipeline["stages"][1]["actions"][0]["configuration"] == {"ProjectName": out["Build"]}
    assert out["Version"] == "1"
    project = sandbox_client(sandbox, "codebuild").batch_get_projects(names=[out["Build"]])["projects"][0]
    assert project["arn"] == out["BuildArn"] and project["environment"]["image"] == "aws/codebuild/standard:7.0"
    filters = sandbox_client(sandbox, "logs").describe_metric_filters(logGroupName=out["Logs"])["metricFilters"]
    assert [(f["filterName"], f["metricTransformations"][0]["metricName"]) for f in filters] == [(out["Filter"], "Errors")]
    stage = sandbox_client(sandbox, "apigateway").get_stage(restApiId=out["Api"], stageName="prod")
    assert out["Stage"] == "prod" and stage["variables"] == {"mode": "live"}
    assert sandbox.fidelity("glue")["stand_in"] == []

    delete(sandbox)
    assert codedeploy.list_applications()["applications"] == []
    assert sandbox_client(sandbox, "codepipeline").list_pipelines()["pipelines"] == []
    assert sandbox_client(sandbox, "codebuild").list_projects()["projects"] == []


def test_a_pipeline_whose_role_does_not_trust_codepipeline_fails_as_on_aws(sandbox):
    untrusting = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]}}}
    result = deploy(sandbox, {**DELIVERY, "Role": untrusting})
    assert "CodePipeline is not authorized to perform AssumeRole on role" in result["failed"]["Pipeline"]


def test_config_recorder_delivery_channel_and_rules_are_real(sandbox):
    result = deploy(sandbox, {
        "Role": ROLE,
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Recorder": {"Type": "AWS::Config::ConfigurationRecorder", "Properties": {
            "RoleARN": getatt("Role", "Arn"), "RecordingGroup": {"AllSupported": True, "IncludeGlobalResourceTypes": True}}},
        "Channel": {"Type": "AWS::Config::DeliveryChannel", "DependsOn": "Recorder", "Properties": {
            "S3BucketName": ref("Bucket"), "ConfigSnapshotDeliveryProperties": {"DeliveryFrequency": "Six_Hours"}}},
        "Rule": {"Type": "AWS::Config::ConfigRule", "DependsOn": "Recorder", "Properties": {
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
            "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]}, "InputParameters": {"isMfaDeleteEnabled": "false"}}},
    }, {"Rule": ref("Rule"), "RuleArn": getatt("Rule", "Arn"), "Recorder": ref("Recorder"), "Channel": ref("Channel")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    config = sandbox_client(sandbox, "config")
    rule = config.describe_config_rules(ConfigRuleNames=[out["Rule"]])["ConfigRules"][0]
    assert rule["ConfigRuleArn"] == out["RuleArn"] and json.loads(rule["InputParameters"]) == {"isMfaDeleteEnabled": "false"}
    recorder = config.describe_configuration_recorders()["ConfigurationRecorders"][0]
    assert recorder["name"] == out["Recorder"] and recorder["recordingGroup"]["allSupported"] is True
    channel = config.describe_delivery_channels()["DeliveryChannels"][0]
    assert channel["name"] == out["Channel"] and channel["configSnapshotDeliveryProperties"]["deliveryFrequency"] == "Six_Hours"

    delete(sandbox)
    assert config.describe_configuration_recorders()["ConfigurationRecorders"] == []
    assert config.describe_config_rules()["ConfigRules"] == []


def test_a_delivery_channel_waits_for_the_stacks_recorder_and_fails_without_one(sandbox):
    """AWS documents recorder and channel with no dependency between them; the channel may start first."""
    channel = {"Type": "AWS::Config::DeliveryChannel", "Properties": {"S3BucketName": "config-bucket-in-another-account"}}
    recorder = {"Type": "AWS::Config::ConfigurationRecorder", "Properties": {"RoleARN": getatt("Role", "Arn")}}
    result = deploy(sandbox, {"Role": ROLE, "AChannel": channel, "Recorder": recorder})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    config = sandbox_client(sandbox, "config")
    assert config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]["recording"] is True
    delete(sandbox)

    result = deploy(sandbox, {"AChannel": channel}, name="alone")
    assert "Configuration recorder is not available to put delivery channel" in result["failed"]["AChannel"]


def test_an_aurora_cluster_and_its_instance_are_real(sandbox):
    result = deploy(sandbox, {
        "Cluster": {"Type": "AWS::RDS::DBCluster", "Properties": {
            "Engine": "aurora-postgresql", "MasterUsername": "admin_user", "ManageMasterUserPassword": True,
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 2},
            "Tags": [{"Key": "team", "Value": "data"}]}},
        "Writer": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "aurora-postgresql", "DBInstanceClass": "db.serverless", "DBClusterIdentifier": ref("Cluster")}},
    }, {"Cluster": ref("Cluster"), "Endpoint": getatt("Cluster", "Endpoint.Address"), "Port": getatt("Cluster", "Endpoint.Port"),
        "Secret": getatt("Cluster", "MasterUserSecret.SecretArn"), "Arn": getatt("Cluster", "DBClusterArn")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    assert out["Cluster"] == out["Cluster"].lower() and out["Cluster"].startswith("glue-cluster-")
    cluster = sandbox_client(sandbox, "rds").describe_db_clusters(DBClusterIdentifier=out["Cluster"])["DBClusters"][0]
    assert (cluster["Endpoint"], str(cluster["Port"]), cluster["DBClusterArn"]) == (out["Endpoint"], out["Port"], out["Arn"])
    assert cluster["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 2
    assert out["Secret"].startswith("arn:aws:secretsmanager:")
    assert sandbox.fidelity("glue")["stand_in"] == []
    delete(sandbox)
    assert sandbox_client(sandbox, "rds").describe_db_clusters()["DBClusters"] == []


def test_http_apis_and_their_stages_are_real(sandbox):
    body = {"openapi": "3.0.1", "info": {"title": "orders", "version": "1"}, "paths": {"/orders": {"get": {
        "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "GET", "uri": "https://example.com",
                                            "payloadFormatVersion": "1.0"}}}}}
    result = deploy(sandbox, {
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": body}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": ref("Api"), "StageName": "$default", "AutoDeploy": True, "StageVariables": {"mode": "live"}}},
    }, {"Api": ref("Api"), "Endpoint": getatt("Api", "ApiEndpoint"), "Stage": ref("Stage")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    apis = sandbox_client(sandbox, "apigatewayv2")
    api = apis.get_api(ApiId=out["Api"])
    assert api["Name"] == "orders" and out["Endpoint"] == f"https://{out['Api']}.execute-api.us-east-1.amazonaws.com"
    assert [r["RouteKey"] for r in apis.get_routes(ApiId=out["Api"])["Items"]] == ["GET /orders"]
    stage = apis.get_stage(ApiId=out["Api"], StageName="$default")
    assert out["Stage"] == "$default" and stage["AutoDeploy"] is True and stage["StageVariables"] == {"mode": "live"}
    delete(sandbox)
    assert apis.get_apis()["Items"] == []


def test_function_urls_are_real(sandbox):
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}}}
    result = deploy(sandbox, {
        "Role": role,
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": getatt("Role", "Arn"),
            "Code": {"ZipFile": "def handler(event, context):\n    return 'ok'\n"}}},
        "Url": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": getatt("Fn", "Arn"), "AuthType": "NONE"}},
    }, {"Url": getatt("Url", "FunctionUrl"), "Ref": ref("Url"), "Fn": getatt("Fn", "Arn"), "Name": ref("Fn")})
    assert result["status"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    config = sandbox_client(sandbox, "lambda").get_function_url_config(FunctionName=out["Name"])
    assert out["Ref"] == out["Fn"] and out["Url"] == config["FunctionUrl"].rstrip("/") + "/"
    assert config["AuthType"] == "NONE"
    assert sandbox.fidelity("glue")["stand_in"] == []

"""Template processing and models that public templates of the corpus need, each checked on the sandbox's APIs."""

from __future__ import annotations

import ipaddress
import json

from orchestrator.aws.targets import sandbox_client


def create(sandbox, body: dict, name: str) -> dict:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName=name, TemplateBody=json.dumps(body), DisableRollback=True,
                    Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    return {"stack": stack, "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []},
            "failed": {e["LogicalResourceId"]: e.get("ResourceStatusReason") for e in events
                       if e["ResourceStatus"] == "CREATE_FAILED"}}


def test_amazon_provided_ipv6_block_is_real_and_subnets_carve_it(sandbox):
    """widdix/aws-cf-templates vpc-2azs: subnets take /64s of the VPC's Amazon-provided /56 (Fn::Cidr over
    GetAtt VPC.Ipv6CidrBlocks), ordered after the VPCCidrBlock by DependsOn."""
    subnet_v6 = {"Fn::Select": [1, {"Fn::Cidr": [{"Fn::Select": [0, {"Fn::GetAtt": ["Vpc", "Ipv6CidrBlocks"]}]}, 4, 64]}]}
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "V6": {"Type": "AWS::EC2::VPCCidrBlock", "Properties": {"AmazonProvidedIpv6CidrBlock": True, "VpcId": {"Ref": "Vpc"}}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "DependsOn": "V6", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/20", "Ipv6CidrBlock": subnet_v6}}},
        "Outputs": {"Assoc": {"Value": {"Ref": "V6"}}, "Block": {"Value": {"Fn::GetAtt": ["V6", "Ipv6CidrBlock"]}},
                    "SubnetBlock": {"Value": subnet_v6}, "Vpc": {"Value": {"Ref": "Vpc"}}}}
    result = create(sandbox, body, "ipv6")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    assert out["Assoc"].startswith("vpc-cidr-assoc-")
    block = ipaddress.ip_network(out["Block"])
    assert block.version == 6 and block.prefixlen == 56
    carved = ipaddress.ip_network(out["SubnetBlock"])
    assert carved.prefixlen == 64 and carved.subnet_of(block) and carved != next(block.subnets(new_prefix=64))
    vpc = sandbox_client(sandbox, "ec2").describe_vpcs(VpcIds=[out["Vpc"]])["Vpcs"][0]
    assert [a["Ipv6CidrBlock"] for a in vpc["Ipv6CidrBlockAssociationSet"]] == [out["Block"]]
    assert sandbox.fidelity("ipv6")["stand_in"] == []


def test_a_vpc_without_an_ipv6_block_has_none_to_select(sandbox):
    """Without the VPCCidrBlock (no DependsOn path) the list is empty and Fn::Select fails with AWS's text."""
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
            "DisplayName": {"Fn::Select": [0, {"Fn::GetAtt": ["Vpc", "Ipv6CidrBlocks"]}]}}}}}
    result = create(sandbox, body, "noipv6")
    assert "Fn::Select cannot select nonexistent value at index 0" in result["failed"]["Topic"]


def test_classic_elb_source_security_group_locks_instances_to_the_balancer(sandbox):
    """aws-cloudformation-templates ELB/ELBWithLockedDownAutoScaledInstances: the instances' group admits the
    balancer's own group by name and owner (GetAtt SourceSecurityGroup.GroupName / .OwnerAlias)."""
    body = {"Resources": {
        "Elb": {"Type": "AWS::ElasticLoadBalancing::LoadBalancer", "Properties": {
            "AvailabilityZones": {"Fn::GetAZs": ""},
            "Listeners": [{"LoadBalancerPort": "80", "InstancePort": "80", "Protocol": "HTTP"}]}},
        "InstanceGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "web", "SecurityGroupIngress": [{
                "IpProtocol": "tcp", "FromPort": "80", "ToPort": "80",
                "SourceSecurityGroupOwnerId": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.OwnerAlias"]},
                "SourceSecurityGroupName": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.GroupName"]}}]}}},
        "Outputs": {"Group": {"Value": {"Ref": "InstanceGroup"}},
                    "Source": {"Value": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.GroupName"]}}}}
    result = create(sandbox, body, "elbsg")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    ec2 = sandbox_client(sandbox, "ec2")
    source = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [result["outputs"]["Source"]]}])
    assert result["outputs"]["Source"].startswith("default_elb_") and len(source["SecurityGroups"]) == 1
    group = ec2.describe_security_groups(GroupIds=[result["outputs"]["Group"]])["SecurityGroups"][0]
    pairs = [p["GroupId"] for rule in group["IpPermissions"] for p in rule.get("UserIdGroupPairs", [])]
    assert pairs == [source["SecurityGroups"][0]["GroupId"]]


def test_network_load_balancer_takes_its_subnets_from_subnet_mappings(sandbox):
    """aws-cloudformation-templates ElasticLoadBalancing/NetworkLoadBalancerWithEIPs: SubnetMappings only."""
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24",
                                                           "AvailabilityZone": "us-east-1a"}},
        "B": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                           "AvailabilityZone": "us-east-1b"}},
        "Eip": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
        "Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Type": "network", "SubnetMappings": [
                {"SubnetId": {"Ref": "A"}, "AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]}},
                {"SubnetId": {"Ref": "B"}}]}},
        "Targets": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Port": 80, "Protocol": "TCP", "VpcId": {"Ref": "Vpc"}}},
        "Tcp": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Nlb"}, "Port": 80, "Protocol": "TCP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Targets"}}]}}},
        "Outputs": {"Nlb": {"Value": {"Ref": "Nlb"}}, "A": {"Value": {"Ref": "A"}}, "B": {"Value": {"Ref": "B"}}}}
    result = create(sandbox, body, "nlb")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    balancer = sandbox_client(sandbox, "elbv2").describe_load_balancers(LoadBalancerArns=[out["Nlb"]])["LoadBalancers"][0]
    assert sorted(z["SubnetId"] for z in balancer["AvailabilityZones"]) == sorted([out["A"], out["B"]])
    assert balancer["Type"] == "network"  # so its TCP listener is accepted


def test_eip_association_attaches_the_address_to_the_instance(sandbox):
    """aws-cloudformation-templates EC2/EIP_With_Association: an AWS::EC2::EIPAssociation is real."""
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
        "Host": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-12c6146b", "SubnetId": {"Ref": "Subnet"}}},
        "Ip": {"Type": "AWS::EC2::EIP"},  # no Domain: a VPC address since EC2-Classic's retirement
        "Assoc": {"Type": "AWS::EC2::EIPAssociation", "Properties": {
            "InstanceId": {"Ref": "Host"}, "AllocationId": {"Fn::GetAtt": ["Ip", "AllocationId"]}}}},
        "Outputs": {"Assoc": {"Value": {"Ref": "Assoc"}}, "Host": {"Value": {"Ref": "Host"}},
                    "Ip": {"Value": {"Ref": "Ip"}}}}
    result = create(sandbox, body, "eipassoc")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    address = sandbox_client(sandbox, "ec2").describe_addresses(PublicIps=[out["Ip"]])["Addresses"][0]
    assert address["InstanceId"] == out["Host"] and address["AssociationId"] == out["Assoc"]
    assert out["Assoc"].startswith("eipassoc-") and sandbox.fidelity("eipassoc")["stand_in"] == []


def test_eip_association_with_an_unknown_address_fails_as_ec2_does(sandbox):
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
        "Host": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-12c6146b", "SubnetId": {"Ref": "Subnet"}}},
        "Assoc": {"Type": "AWS::EC2::EIPAssociation", "Properties": {"InstanceId": {"Ref": "Host"}, "EIP": "203.0.113.9"}}}}
    result = create(sandbox, body, "eipbad")
    assert "Assoc" in result["failed"] and "203.0.113.9" in result["failed"]["Assoc"]


def test_vpc_default_acl_dhcp_options_and_metric_filters_are_real(sandbox):
    """startup-kit vpc (GetAtt VPC.DefaultNetworkAcl), quickstart-aws-vpc (DHCP options), quickstart
    bastion (a metric filter on the template's log group)."""
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Deny": {"Type": "AWS::EC2::NetworkAclEntry", "Properties": {
            "NetworkAclId": {"Fn::GetAtt": ["Vpc", "DefaultNetworkAcl"]}, "RuleNumber": 90, "Protocol": -1,
            "RuleAction": "deny", "CidrBlock": "192.0.2.0/24"}},
        "Options": {"Type": "AWS::EC2::DHCPOptions", "Properties": {
            "DomainName": "ec2.internal", "DomainNameServers": ["AmazonProvidedDNS"], "NetbiosNodeType": 2}},
        "OptionsAssoc": {"Type": "AWS::EC2::VPCDHCPOptionsAssociation", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "DhcpOptionsId": {"Ref": "Options"}}},
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "bastion"}},
        "Filter": {"Type": "AWS::Logs::MetricFilter", "Properties": {
            "LogGroupName": {"Ref": "Group"}, "FilterPattern": "ON FROM USER PWD",
            "MetricTransformations": [{"MetricName": "SSHCommandCount", "MetricNamespace": "bastion",
                                       "MetricValue": "1"}]}}},
        "Outputs": {"Vpc": {"Value": {"Ref": "Vpc"}}, "Options": {"Value": {"Ref": "Options"}},
                    "Acl": {"Value": {"Fn::GetAtt": ["Vpc", "DefaultNetworkAcl"]}}}}
    result = create(sandbox, body, "vpcmisc")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    ec2 = sandbox_client(sandbox, "ec2")
    acl = ec2.describe_network_acls(NetworkAclIds=[out["Acl"]])["NetworkAcls"][0]
    assert acl["IsDefault"] and acl["VpcId"] == out["Vpc"]
    assert any(e["RuleNumber"] == 90 and e["RuleAction"] == "deny" for e in acl["Entries"])
    assert ec2.describe_vpcs(VpcIds=[out["Vpc"]])["Vpcs"][0]["DhcpOptionsId"] == out["Options"]
    filters = sandbox_client(sandbox, "logs").describe_metric_filters(logGroupName="bastion")["metricFilters"]
    assert [f["metricTransformations"][0]["metricName"] for f in filters] == ["SSHCommandCount"]
    assert sandbox.fidelity("vpcmisc")["stand_in"] == []


def test_a_metric_filter_on_a_missing_log_group_fails_as_logs_does(sandbox):
    body = {"Resources": {"Filter": {"Type": "AWS::Logs::MetricFilter", "Properties": {
        "LogGroupName": "nobody", "FilterPattern": "", "MetricTransformations": [
            {"MetricName": "m", "MetricNamespace": "n", "MetricValue": "1"}]}}}}
    result = create(sandbox, body, "nofilter")
    assert "The specified log group does not exist." in result["failed"]["Filter"]


def test_an_ingress_resource_repeating_an_inline_rule_succeeds_as_on_aws(sandbox):
    """startup-kit vpc: AppSecurityGroup's inline rules are repeated as AWS::EC2::SecurityGroupIngress
    resources; CloudFormation's handler accepts a rule that exists. A rule on a missing group still fails."""
    rule = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "SourceSecurityGroupId": {"Ref": "Bastion"}}
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Bastion": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "b", "VpcId": {"Ref": "Vpc"}}},
        "App": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "a", "VpcId": {"Ref": "Vpc"}, "SecurityGroupIngress": [rule]}},
        "AppFromBastion": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {"GroupId": {"Ref": "App"}, **rule}}},
        "Outputs": {"App": {"Value": {"Ref": "App"}}}}
    result = create(sandbox, body, "dupingress")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    group = sandbox_client(sandbox, "ec2").describe_security_groups(GroupIds=[result["outputs"]["App"]])["SecurityGroups"][0]
    assert len(group["IpPermissions"]) == 1
    missing = {"Resources": {"Orphan": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": "sg-0123456789abcdef0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}}}}
    assert "Orphan" in create(sandbox, missing, "orphaningress")["failed"]


def test_cloudtrail_trail_is_real_and_needs_its_bucket(sandbox):
    """widdix/aws-cf-templates security/cloudtrail.yaml: a logging trail on the template's bucket and topic."""
    body = {"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Trail": {"Type": "AWS::CloudTrail::Trail", "Properties": {
            "IsLogging": True, "IsMultiRegionTrail": True, "S3BucketName": {"Ref": "Bucket"},
            "SnsTopicName": {"Fn::GetAtt": ["Topic", "TopicName"]},
            "EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]}}},
        "Outputs": {"Trail": {"Value": {"Ref": "Trail"}}, "Arn": {"Value": {"Fn::GetAtt": ["Trail", "Arn"]}}}}
    result = create(sandbox, body, "trail")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    cloudtrail = sandbox_client(sandbox, "cloudtrail")
    assert cloudtrail.get_trail_status(Name=result["outputs"]["Trail"])["IsLogging"] is True
    assert cloudtrail.describe_trails(trailNameList=[result["outputs"]["Arn"]])["trailList"][0]["IsMultiRegionTrail"]
    nobucket = {"Resources": {"Trail": {"Type": "AWS::CloudTrail::Trail", "Properties": {
        "IsLogging": True, "S3BucketName": "no-such-bucket-anywhere"}}}}
    assert "no-such-bucket-anywhere" in create(sandbox, nobucket, "trailbad")["failed"]["Trail"]


def test_lambda_url_and_api_gateway_account_are_real(sandbox):
    """serverless-patterns lambda-function-url; SAM's integration companion stack (ApiGateway::Account)."""
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "apigateway.amazonaws.com"]},
                            "Action": "sts:AssumeRole"}]}
    body = {"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}},
        "Url": {"Type": "AWS::Lambda::Url", "Properties": {"TargetFunctionArn": {"Ref": "Fn"}, "AuthType": "NONE"}},
        "Account": {"Type": "AWS::ApiGateway::Account", "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}}},
        "Outputs": {"Url": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}}, "Fn": {"Value": {"Ref": "Fn"}},
                    "Role": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}}}}
    result = create(sandbox, body, "fnurl")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    out = result["outputs"]
    config = sandbox_client(sandbox, "lambda").get_function_url_config(FunctionName=out["Fn"])
    assert config["FunctionUrl"].rstrip("/") == out["Url"].rstrip("/") and config["AuthType"] == "NONE"
    assert sandbox_client(sandbox, "apigateway").get_account()["cloudwatchRoleArn"] == out["Role"]
    assert sandbox.fidelity("fnurl")["stand_in"] == []


def test_ssm_parameter_tags_are_a_map_as_its_schema_says(sandbox):
    body = {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": "/app/config", "Type": "String", "Value": "v", "Tags": {"team": "web", "tier": "1"}}}}}
    result = create(sandbox, body, "ssmtags")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    tags = sandbox_client(sandbox, "ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId="/app/config")
    assert sorted((t["Key"], t["Value"]) for t in tags["TagList"]) == [("team", "web"), ("tier", "1")]


def test_backup_vault_and_plan_are_real(sandbox):
    """widdix/aws-cf-templates dynamodb and jenkins templates: a vault and a daily plan targeting it."""
    body = {"Resources": {
        "Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "jenkins"}},
        "Plan": {"Type": "AWS::Backup::BackupPlan", "Properties": {"BackupPlan": {
            "BackupPlanName": "daily", "BackupPlanRule": [{
                "RuleName": "daily", "TargetBackupVault": {"Ref": "Vault"},
                "ScheduleExpression": "cron(0 5 ? * * *)", "Lifecycle": {"DeleteAfterDays": 30}}]}}}},
        "Outputs": {"Plan": {"Value": {"Ref": "Plan"}}, "VaultArn": {"Value": {"Fn::GetAtt": ["Vault", "BackupVaultArn"]}}}}
    result = create(sandbox, body, "backup")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    backup = sandbox_client(sandbox, "backup")
    plan = backup.get_backup_plan(BackupPlanId=result["outputs"]["Plan"])["BackupPlan"]
    assert [r["TargetBackupVaultName"] for r in plan["Rules"]] == ["jenkins"]
    assert backup.describe_backup_vault(BackupVaultName="jenkins")["BackupVaultArn"] == result["outputs"]["VaultArn"]
    again = {"Resources": {"Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "jenkins"}}}}
    assert "Vault" in create(sandbox, again, "backup2")["failed"]


def test_rds_instance_in_a_subnet_group_named_by_ref(sandbox):
    """startup-kit db: DBSubnetGroupName is a Ref (a name), which moto's model read as its own object."""
    body = {"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24",
                                                           "AvailabilityZone": "us-east-1a"}},
        "B": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                           "AvailabilityZone": "us-east-1b"}},
        "Subnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
            "DBSubnetGroupDescription": "db", "SubnetIds": [{"Ref": "A"}, {"Ref": "B"}]}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "postgres", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20",
            "MasterUsername": "app", "MasterUserPassword": "correct-horse-battery",
            "DBSubnetGroupName": {"Ref": "Subnets"}}}},
        "Outputs": {"Db": {"Value": {"Ref": "Db"}}, "Subnets": {"Value": {"Ref": "Subnets"}}}}
    result = create(sandbox, body, "rdssubnets")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    instance = sandbox_client(sandbox, "rds").describe_db_instances(
        DBInstanceIdentifier=result["outputs"]["Db"])["DBInstances"][0]
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == result["outputs"]["Subnets"]

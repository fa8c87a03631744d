"""False failures the public-template corpus found in the sandbox: each case builds what CloudFormation builds."""

from __future__ import annotations

import json

from orchestrator.aws.targets import sandbox_client


def events_of(cf, name: str) -> dict[str, str]:
    return {e["LogicalResourceId"]: e.get("ResourceStatusReason") or "" for e in cf.describe_stack_events(StackName=name)["StackEvents"]
            if e["ResourceStatus"].endswith("_FAILED")}


def test_nested_stack_parameters_are_passed_as_cloudformation_strings(sandbox):
    """A boolean or number resolved in the parent reaches the child as "true"/"5", as CloudFormation passes it."""
    s3, cf = sandbox_client(sandbox, "s3"), sandbox_client(sandbox, "cloudformation")
    s3.create_bucket(Bucket="children")
    child = {"Parameters": {"Public": {"Type": "String", "AllowedValues": ["true", "false"]},
                            "Size": {"Type": "Number", "AllowedValues": ["5", "10"]},
                            "Ratio": {"Type": "String", "AllowedValues": ["0.5"]}},
             "Conditions": {"IsPublic": {"Fn::Equals": [{"Ref": "Public"}, "true"]}},
             "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Condition": "IsPublic"}},
             "Outputs": {"Seen": {"Value": {"Fn::Join": [",", [{"Ref": "Public"}, {"Ref": "Size"}, {"Ref": "Ratio"}]]}}}}
    s3.put_object(Bucket="children", Key="child.json", Body=json.dumps(child).encode())
    parent = {"Parameters": {"Flag": {"Type": "String", "Default": "yes"}},
              "Conditions": {"On": {"Fn::Equals": [{"Ref": "Flag"}, "yes"]}},
              "Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {
                  "TemplateURL": "https://children.s3.amazonaws.com/child.json",
                  "Parameters": {"Public": {"Fn::If": ["On", True, False]}, "Size": 5, "Ratio": 0.5}}}},
              "Outputs": {"Seen": {"Value": {"Fn::GetAtt": ["Child", "Outputs.Seen"]}}}}
    cf.create_stack(StackName="nested-params", TemplateBody=json.dumps(parent), DisableRollback=True)
    stack = cf.describe_stacks(StackName="nested-params")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", events_of(cf, "nested-params")
    assert stack["Outputs"][0]["OutputValue"] == "true,5,0.5"


def test_classic_elb_source_security_group_is_its_own_group(sandbox):
    """GetAtt SourceSecurityGroup.GroupName/.OwnerAlias name the ELB's group (default_elb_... when none is
    given) and the account: back-end instances admit it by name (cfn-elb-locked-down-asg)."""
    cf = sandbox_client(sandbox, "cloudformation")
    template = {"Resources": {
        "Elb": {"Type": "AWS::ElasticLoadBalancing::LoadBalancer", "Properties": {
            "AvailabilityZones": {"Fn::GetAZs": ""},
            "Listeners": [{"LoadBalancerPort": "80", "InstancePort": "80", "Protocol": "HTTP"}]}},
        "InstanceSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "from the load balancer only",
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": "80", "ToPort": "80",
                                      "SourceSecurityGroupOwnerId": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.OwnerAlias"]},
                                      "SourceSecurityGroupName": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.GroupName"]}}]}}},
        "Outputs": {"Group": {"Value": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.GroupName"]}},
                    "Owner": {"Value": {"Fn::GetAtt": ["Elb", "SourceSecurityGroup.OwnerAlias"]}},
                    "Sg": {"Value": {"Ref": "InstanceSg"}}}}
    cf.create_stack(StackName="elb-source", TemplateBody=json.dumps(template), DisableRollback=True)
    stack = cf.describe_stacks(StackName="elb-source")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", events_of(cf, "elb-source")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    ec2, elb = sandbox_client(sandbox, "ec2"), sandbox_client(sandbox, "elb")
    [balancer] = elb.describe_load_balancers()["LoadBalancerDescriptions"]
    [elb_group] = ec2.describe_security_groups(GroupIds=balancer["SecurityGroups"])["SecurityGroups"]
    account = sandbox_client(sandbox, "sts").get_caller_identity()["Account"]
    assert outputs["Group"] == elb_group["GroupName"] and outputs["Owner"] == account
    [rule] = ec2.describe_security_groups(GroupIds=[outputs["Sg"]])["SecurityGroups"][0]["IpPermissions"]
    assert rule["UserIdGroupPairs"][0]["GroupId"] == elb_group["GroupId"]


def test_an_update_after_a_repair_retries_a_cancelled_ingress_rule_without_a_duplicate(sandbox):
    """An ingress rule cancelled by another resource's failure is created again by the next update, as
    CloudFormation does, without "The specified rule already exists" (fargate-public-vpc after a repair);
    deleting the stack revokes a rule it added to a group it does not own."""
    ec2, cf = sandbox_client(sandbox, "ec2"), sandbox_client(sandbox, "cloudformation")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    outside = ec2.create_security_group(GroupName="outside", Description="not the stack's", VpcId=vpc)["GroupId"]

    def template(policy: str) -> str:
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        return json.dumps({"Resources": {
            "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "d", "VpcId": vpc}},
            "FromSelf": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": {"Ref": "Sg"}, "IpProtocol": "-1", "SourceSecurityGroupId": {"Ref": "Sg"}}},
            "Outside": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": outside, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "SourceSecurityGroupId": {"Ref": "Sg"}}},
            "Role": {"Type": "AWS::IAM::Role", "DependsOn": "Sg", "Properties": {
                "AssumeRolePolicyDocument": trust, "ManagedPolicyArns": [f"arn:aws:iam::aws:policy/{policy}"]}}}})

    cf.create_stack(StackName="ingress-retry", TemplateBody=template("NoSuchPolicy"), DisableRollback=True,
                    Capabilities=["CAPABILITY_IAM"])
    failed = events_of(cf, "ingress-retry")
    assert failed["FromSelf"] == failed["Outside"] == "Resource creation cancelled", failed
    cf.update_stack(StackName="ingress-retry", TemplateBody=template("ReadOnlyAccess"), Capabilities=["CAPABILITY_IAM"])
    assert cf.describe_stacks(StackName="ingress-retry")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE", \
        events_of(cf, "ingress-retry")
    group = {r["LogicalResourceId"]: r["PhysicalResourceId"]
             for r in cf.describe_stack_resources(StackName="ingress-retry")["StackResources"]}["Sg"]
    [rule] = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert rule["IpProtocol"] == "-1" and [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [group]
    assert len(ec2.describe_security_groups(GroupIds=[outside])["SecurityGroups"][0]["IpPermissions"]) == 1
    cf.delete_stack(StackName="ingress-retry")
    assert ec2.describe_security_groups(GroupIds=[outside])["SecurityGroups"][0]["IpPermissions"] == []


def test_network_load_balancer_placed_by_subnet_mappings(sandbox):
    """SubnetMappings (each subnet with its Elastic IP), Type and IpAddressType reach CreateLoadBalancer
    (cfn-nlb-eips); moto's own CloudFormation model passed only Subnets."""
    ec2, cf = sandbox_client(sandbox, "ec2"), sandbox_client(sandbox, "cloudformation")
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.2.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    template = {"Resources": {
        "Eip1": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
        "Eip2": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
        "Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Type": "network", "IpAddressType": "ipv4", "Tags": [{"Key": "team", "Value": "edge"}],
            "SubnetMappings": [{"AllocationId": {"Fn::GetAtt": [f"Eip{i + 1}", "AllocationId"]}, "SubnetId": subnet}
                               for i, subnet in enumerate(subnets)]}},
        "Targets": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Port": 10, "Protocol": "TCP", "VpcId": vpc}},
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Nlb"}, "Port": 80, "Protocol": "TCP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Targets"}}]}}}}
    cf.create_stack(StackName="nlb-eips", TemplateBody=json.dumps(template), DisableRollback=True)
    assert cf.describe_stacks(StackName="nlb-eips")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE", events_of(cf, "nlb-eips")
    elbv2 = sandbox_client(sandbox, "elbv2")
    [balancer] = elbv2.describe_load_balancers()["LoadBalancers"]
    assert balancer["Type"] == "network" and balancer["VpcId"] == vpc
    assert sorted(zone["SubnetId"] for zone in balancer["AvailabilityZones"]) == sorted(subnets)
    tags = elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    assert {"Key": "team", "Value": "edge"} in tags


def test_an_ingress_resource_repeating_an_inline_rule_is_created(sandbox):
    """CloudFormation's SecurityGroupIngress handler takes a rule the group already has as created
    (startup-vpc repeats inline rules as separate resources); deleting it revokes the shared rule."""
    ec2, cf = sandbox_client(sandbox, "ec2"), sandbox_client(sandbox, "cloudformation")
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    rule = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080}

    def template(with_repeat: bool) -> str:
        resources = {
            "Elb": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "elb", "VpcId": vpc}},
            "App": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "app", "VpcId": vpc,
                "SecurityGroupIngress": [{**rule, "SourceSecurityGroupId": {"Ref": "Elb"}}]}}}
        if with_repeat:
            resources["AppFromElb"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                **rule, "GroupId": {"Ref": "App"}, "SourceSecurityGroupId": {"Ref": "Elb"}}}
        return json.dumps({"Resources": resources, "Outputs": {"App": {"Value": {"Ref": "App"}}}})

    cf.create_stack(StackName="repeat-rule", TemplateBody=template(True), DisableRollback=True)
    stack = cf.describe_stacks(StackName="repeat-rule")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", events_of(cf, "repeat-rule")
    app = stack["Outputs"][0]["OutputValue"]
    assert len(ec2.describe_security_groups(GroupIds=[app])["SecurityGroups"][0]["IpPermissions"]) == 1
    cf.update_stack(StackName="repeat-rule", TemplateBody=template(False))
    assert cf.describe_stacks(StackName="repeat-rule")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert ec2.describe_security_groups(GroupIds=[app])["SecurityGroups"][0]["IpPermissions"] == []

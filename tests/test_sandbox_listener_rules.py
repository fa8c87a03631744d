"""A deleted stack's ELBv2 listener rule is gone from its listener, so its priority is free again (as on AWS)."""

from __future__ import annotations

import json

from orchestrator.aws.targets import sandbox_client

BALANCER = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "A": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                     "AvailabilityZone": "us-east-1a"}},
    "B": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.2.0/24",
                                                     "AvailabilityZone": "us-east-1b"}},
    "Balancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                 "Properties": {"Scheme": "internal", "Subnets": [{"Ref": "A"}, {"Ref": "B"}]}},
    "Default": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {"Port": 80, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"}}},
    "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
        "LoadBalancerArn": {"Ref": "Balancer"}, "Port": 80, "Protocol": "HTTP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Default"}}]}},
}


def rule_stack(listener_arn: str, target_group_arn: str) -> str:
    # The shape of aws-samples/ecs-refarch-cloudformation services/*/service.yaml: a child stack's rule on a
    # listener another stack owns.
    return json.dumps({"Resources": {"Rule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {
        "ListenerArn": listener_arn, "Priority": 1,
        "Conditions": [{"Field": "path-pattern", "Values": ["/products"]}],
        "Actions": [{"Type": "forward", "TargetGroupArn": target_group_arn}]}}}})


def test_a_deleted_rule_frees_its_priority(sandbox):
    cf, elb = sandbox_client(sandbox, "cloudformation"), sandbox_client(sandbox, "elbv2")
    body = {"Resources": BALANCER, "Outputs": {"Listener": {"Value": {"Ref": "Listener"}},
                                               "Group": {"Value": {"Ref": "Default"}}}}
    cf.create_stack(StackName="lb", TemplateBody=json.dumps(body))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName="lb")["Stacks"][0]["Outputs"]}
    template = rule_stack(outputs["Listener"], outputs["Group"])
    cf.create_stack(StackName="rules", TemplateBody=template)
    assert cf.describe_stacks(StackName="rules")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    cf.delete_stack(StackName="rules")
    priorities = [r["Priority"] for r in elb.describe_rules(ListenerArn=outputs["Listener"])["Rules"]]
    assert priorities == ["default"]
    cf.create_stack(StackName="rules-again", TemplateBody=template)
    stack = cf.describe_stacks(StackName="rules-again")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")

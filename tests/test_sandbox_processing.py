"""CloudFormation's template processing in the sandbox: parameters, conditions, intrinsic functions."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from orchestrator.aws.targets import sandbox_client

TEMPLATE = {
    "Transform": "AWS::LanguageExtensions",
    "Parameters": {
        "NodeCount": {"Type": "Number", "Default": 2},
        "Env": {"Type": "String", "Default": "prod", "AllowedValues": ["prod", "dev"]},
    },
    "Mappings": {"Sizes": {"prod": {"Cidr": "10.1.0.0/16"}}},
    "Conditions": {
        "TwoNodes": {"Fn::Equals": [{"Ref": "NodeCount"}, "2"]},
        "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
    },
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Cidr", {"DefaultValue": "10.9.0.0/16"}]}}},
        "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
            "CidrBlock": {"Fn::Select": [0, {"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, 2, 8]}]}}},
        "SecondNode": {"Type": "AWS::SNS::Topic", "Condition": "TwoNodes"},
        "DevOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsDev"},
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "web", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
                {"Fn::If": ["IsDev", {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"},
                            {"Ref": "AWS::NoValue"}]}]}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                {"Fn::If": ["IsDev", {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Ref": "AWS::NoValue"}]}]}}]}},
    },
    "Outputs": {
        "Subnet": {"Value": {"Ref": "SubnetA"}},
        "Count": {"Value": {"Fn::Length": [{"Ref": "Vpc"}, {"Ref": "Sg"}]}},
    },
}


def test_template_processing_as_cloudformation_does_it(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName="proc", TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_IAM"])
    stack = cf.describe_stacks(StackName="proc")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["Count"] == "2"
    ec2 = sandbox_client(sandbox, "ec2")
    subnet = ec2.describe_subnets(SubnetIds=[outputs["Subnet"]])["Subnets"][0]
    assert subnet["CidrBlock"] == "10.1.0.0/24" and subnet["AvailabilityZone"] == "us-east-1a"
    fidelity = sandbox.fidelity("proc")
    assert fidelity["skipped_by_condition"] == ["DevOnly"] and "SecondNode" in fidelity["modeled"]
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["*Sg*"]}])["SecurityGroups"][0]
    assert [p["FromPort"] for p in group["IpPermissions"]] == [443]
    iam = sandbox_client(sandbox, "iam")
    role = iam.list_roles()["Roles"][0]["RoleName"]
    document = iam.get_role_policy(RoleName=role, PolicyName="p")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert len(document["Statement"]) == 1


@pytest.mark.parametrize(("parameters", "text"), [
    ([{"ParameterKey": "Env", "ParameterValue": "test"}], "Parameter 'Env' must be one of AllowedValues"),
    ([{"ParameterKey": "NodeCount", "ParameterValue": "two"}], "Parameter 'NodeCount' must be a number."),
])
def test_parameter_constraints_answer_aws_validation_errors(sandbox, parameters, text):
    cf = sandbox_client(sandbox, "cloudformation")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="params", TemplateBody=json.dumps(TEMPLATE), Parameters=parameters,
                        Capabilities=["CAPABILITY_IAM"])
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["Error"]["Message"] == text


def test_a_missing_parameter_value_is_named():
    from moto.cloudformation.exceptions import ValidationError

    from orchestrator.sandbox.processing import validate_parameters

    with pytest.raises(ValidationError) as caught:
        validate_parameters({"Parameters": {"A": {"Type": "String"}, "B": {"Type": "String", "MinLength": 3}}},
                            {"B": "abc"})
    assert "Parameters: [A] must have values" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        validate_parameters({"Parameters": {"B": {"Type": "String", "MinLength": 3,
                                                  "ConstraintDescription": "must be long enough."}}}, {"B": "ab"})
    assert "Parameter 'B' must be long enough." in str(caught.value)


def test_sam_templates_are_transformed_as_cloudformation_does(sandbox):
    from pathlib import Path

    body = (Path(__file__).parent / "fixtures" / "sandbox" / "sam-api.yaml").read_text()
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName="sam", TemplateBody=body, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    stack = cf.describe_stacks(StackName="sam")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"].endswith(".execute-api.us-east-1.amazonaws.com/Prod/hello")
    fidelity = sandbox.fidelity("sam")
    assert {"Hello", "HelloRole", "ServerlessRestApi", "Table"} <= set(fidelity["modeled"])
    assert len(fidelity["stand_in"]) <= 1
    role = next(r for r in sandbox_client(sandbox, "iam").list_roles()["Roles"] if "HelloRole" in r["RoleName"])
    attached = sandbox_client(sandbox, "iam").list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" in [p["PolicyArn"] for p in attached]
    assert "Transform: AWS::Serverless-2016-10-31" in cf.get_template(StackName="sam")["TemplateBody"]


def test_an_invalid_sam_document_is_the_transform_failing(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = json.dumps({"Transform": "AWS::Serverless-2016-10-31",
                       "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": 3}}}})
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="badsam", TemplateBody=body, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert caught.value.response["Error"]["Message"].startswith(
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document.")

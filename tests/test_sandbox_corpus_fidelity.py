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

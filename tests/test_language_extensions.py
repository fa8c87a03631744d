"""Fn::ForEach (AWS::LanguageExtensions) expanded as CloudFormation does, in the tool and in the sandbox."""

from __future__ import annotations

import json

import pytest

from orchestrator.aws.targets import sandbox_client
from orchestrator.errors import BadInput
from orchestrator.template import language_extensions as lx
from orchestrator.template.graph import build_graph
from orchestrator.template.load import loads_template

TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {
    "TableName": {"Ref": "Name"}, "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}


def doc(resources: dict, **sections) -> dict:
    return {"Transform": lx.TRANSFORM, "Resources": resources, **sections}


def test_resources_are_generated_per_item_with_ref_and_sub_replaced():
    body = doc({"Fn::ForEach::Tables": ["Name", ["Points", "Score"], {"Table${Name}": TABLE}],
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "t-${Name}"}}}})
    out = lx.expand(body)["Resources"]
    assert list(out) == ["TablePoints", "TableScore", "Topic"]
    assert out["TableScore"]["Properties"]["TableName"] == "Score"
    assert out["Topic"]["Properties"]["TopicName"] == {"Fn::Sub": "t-${Name}"}  # outside the loop: untouched
    assert "Fn::ForEach::Tables" in body["Resources"]  # the input is not modified


def test_collection_from_a_list_parameter_ampersand_keys_nested_loops_and_outputs():
    body = doc({"Fn::ForEach::Outer": ["Env", {"Ref": "Envs"}, {
                    "Fn::ForEach::Inner": ["Kind", ["a", "b"], {"Q&{Env}${Kind}": {
                        "Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Env}-${Kind}"}}}}]}]},
               Parameters={"Envs": {"Type": "CommaDelimitedList", "Default": "dev-1,prod"}},
               Outputs={"Fn::ForEach::Urls": ["Env", ["dev1"], {"Url${Env}": {"Value": {"Ref": "Env"}}}]})
    out = lx.expand(body, {"Envs": "dev-1, prod"})
    assert sorted(out["Resources"]) == ["Qdev1a", "Qdev1b", "Qproda", "Qprodb"]
    assert out["Resources"]["Qdev1b"]["Properties"]["QueueName"] == {"Fn::Sub": "dev-1-b"}
    assert out["Outputs"] == {"Urldev1": {"Value": "dev1"}}


def test_a_loop_inside_properties_generates_properties():
    body = doc({"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": [], "Fn::ForEach::Meta": [
        "K", ["Owner", "Team"], {"Metric${K}": {"Ref": "K"}}]}}})
    assert lx.expand(body)["Resources"]["Bucket"]["Properties"] == {"Tags": [], "MetricOwner": "Owner",
                                                                   "MetricTeam": "Team"}


@pytest.mark.parametrize(("loop", "needle"), [
    (["Name", ["A", "A"], {"T${Name}": TABLE}], "more than once"),
    (["Name", ["A"]], "must be a list of an identifier, a collection and an output mapping"),
    (["Name", {"Fn::GetAZs": ""}, {"T${Name}": TABLE}], "the collection must be a list of strings"),
    (["Name", ["Existing"], {"${Name}": TABLE}], "already exists"),
])
def test_malformed_loops_are_template_format_errors(loop, needle):
    body = doc({"Fn::ForEach::Bad": loop, "Existing": {"Type": "AWS::SNS::Topic"}})
    with pytest.raises(lx.TemplateError, match=needle) as info:
        lx.expand(body)
    assert str(info.value).startswith("Template format error:")


def test_without_the_transform_nothing_is_expanded_and_the_name_is_refused():
    body = {"Resources": {"Fn::ForEach::Tables": ["Name", ["A"], {"T${Name}": TABLE}]}}
    assert lx.expand(body) is body
    with pytest.raises(BadInput, match="Resource name Fn::ForEach::Tables is non alphanumeric"):
        loads_template(json.dumps(body), name="t.json")


def test_the_tool_loads_and_graphs_the_expanded_resources():
    body = doc({"Fn::ForEach::Tables": ["Name", ["Points", "Score"], {"Table${Name}": TABLE}],
                "Alarm": {"Type": "AWS::SNS::Topic", "DependsOn": "TablePoints"}})
    graph = build_graph(loads_template(json.dumps(body), name="t.json"))
    assert {"TablePoints", "TableScore", "Alarm"} <= set(graph.resources())


def test_the_sandbox_creates_one_resource_per_item(sandbox):
    """The AWS documentation's shape: outputs per item and attribute, GetAtt naming the resource by Fn::Sub."""
    cf = sandbox_client(sandbox, "cloudformation")
    body = doc({"Fn::ForEach::Tables": ["Name", {"Ref": "Names"}, {"Table${Name}": TABLE}]},
               Parameters={"Names": {"Type": "CommaDelimitedList"}},
               Outputs={"Fn::ForEach::Tables": ["Name", {"Ref": "Names"}, {
                   "Fn::ForEach::Attrs": ["Attr", ["Arn", "StreamArn"], {
                       "${Name}${Attr}": {"Value": {"Fn::GetAtt": [{"Fn::Sub": "Table${Name}"}, {"Ref": "Attr"}]}}}]}]})
    del body["Outputs"]["Fn::ForEach::Tables"][2]["Fn::ForEach::Attrs"][1][1]  # Arn only (no stream)
    cf.create_stack(StackName="loops", TemplateBody=json.dumps(body),
                    Parameters=[{"ParameterKey": "Names", "ParameterValue": "Points,Score"}])
    stack = cf.describe_stacks(StackName="loops")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    tables = sorted(sandbox_client(sandbox, "dynamodb").list_tables()["TableNames"])
    assert tables == ["Points", "Score"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert sorted(outputs) == ["PointsArn", "ScoreArn"] and outputs["ScoreArn"].endswith(":table/Score")
    assert sandbox.fidelity("loops")["modeled"] == ["TablePoints", "TableScore"]

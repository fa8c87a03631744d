"""Template loading, line numbers, patching and dumping in the input's format."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import BadInput
from orchestrator.model import PatchOp
from orchestrator.template import (
    PatchError,
    apply_patch,
    load_template,
    loads_template,
    pointer,
    read_data_yaml,
    unified_diff,
    write_atomic,
)

FIXTURES = Path(__file__).parent / "fixtures" / "templates"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir())


def yaml_template(body: str) -> str:
    return "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties:\n" + body


@pytest.mark.parametrize(
    "case_id, value, expected",
    [
        ("ref", "!Ref Topic", {"Ref": "Topic"}),
        ("getatt-dotted", "!GetAtt Role.Arn", {"Fn::GetAtt": ["Role", "Arn"]}),
        ("getatt-nested-output", "!GetAtt Stack.Outputs.VpcId", {"Fn::GetAtt": ["Stack", "Outputs.VpcId"]}),
        ("getatt-list", "!GetAtt [Role, Arn]", {"Fn::GetAtt": ["Role", "Arn"]}),
        ("sub-string", "!Sub '${AWS::Region}-x'", {"Fn::Sub": "${AWS::Region}-x"}),
        ("sub-list", "!Sub ['${A}', {A: !Ref B}]", {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}),
        ("join", "!Join ['-', [a, !Ref B]]", {"Fn::Join": ["-", ["a", {"Ref": "B"}]]}),
        ("if", "!If [C, a, !Ref AWS::NoValue]", {"Fn::If": ["C", "a", {"Ref": "AWS::NoValue"}]}),
        ("select", "!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("split", "!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("findinmap", "!FindInMap [M, k, v]", {"Fn::FindInMap": ["M", "k", "v"]}),
        ("getazs", "!GetAZs us-east-1", {"Fn::GetAZs": "us-east-1"}),
        ("importvalue", "!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("base64", "!Base64 hello", {"Fn::Base64": "hello"}),
        ("cidr", "!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
        ("condition", "!Condition IsProd", {"Condition": "IsProd"}),
        ("equals", "!Equals [a, b]", {"Fn::Equals": ["a", "b"]}),
        ("and", "!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("or", "!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("not", "!Not [!Condition A]", {"Fn::Not": [{"Condition": "A"}]}),
        ("transform", "!Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}",
         {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}}),
        ("date-stays-text", "2012-10-17", "2012-10-17"),
    ],
)
def test_short_form_tags_load_as_long_form(case_id, value, expected):
    tpl = loads_template(yaml_template(f"      Value: {value}\n"))
    assert tpl.resources["R"]["Properties"]["Value"] == expected


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_load_then_dump_unchanged_is_identical_and_reloads_equal(name):
    tpl = load_template(FIXTURES / name)
    text = tpl.dumps()
    assert text == tpl.source
    assert loads_template(text, fmt=tpl.fmt).document == tpl.document


def test_yaml_and_json_of_the_same_template_load_to_the_same_document():
    yaml_tpl = load_template(FIXTURES / "vpc.yaml")
    json_tpl = loads_template(json.dumps(yaml_tpl.document, indent=2))
    assert json_tpl.fmt == "json"
    assert json_tpl.document == yaml_tpl.document


def source_line(tpl, needle: str) -> int:
    """First line containing needle; "=text" matches a line whose stripped content is exactly text."""
    if needle.startswith("="):
        return next(i for i, line in enumerate(tpl.source.splitlines(), 1) if line.strip() == needle[1:])
    return next(i for i, line in enumerate(tpl.source.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "case_id, name, ptr, needle",
    [
        ("yaml-key", "vpc.yaml", "/Resources/PublicDefaultRoute/DependsOn", "DependsOn: GatewayAttachment   #"),
        ("yaml-list-item", "vpc.yaml", "/Resources/Bastion/Properties/SecurityGroupIds/0", "- !GetAtt BastionSecurityGroup"),
        ("yaml-scalar-nearest", "vpc.yaml", "/Resources/Vpc/Properties/EnableDnsSupport", "EnableDnsSupport: true"),
        ("yaml-inside-tag", "vpc.yaml", "/Resources/NatGateway/Properties/Tags/0/Value/Fn::If/1", "Value: !If [NatInProd"),
        ("json-key", "pipeline.json", "/Resources/Pipeline/DependsOn", '"DependsOn": ['),
        ("json-list-item", "pipeline.json", "/Resources/Pipeline/DependsOn/0", '="PipelinePolicy"'),
        ("json-resource", "pipeline.json", "/Resources/DeploymentGroup", '"DeploymentGroup": {'),
    ],
)
def test_line_of_points_at_the_node(case_id, name, ptr, needle):
    tpl = load_template(FIXTURES / name)
    assert tpl.line_of(ptr) == source_line(tpl, needle)


def test_line_of_unknown_pointer_falls_back_to_nearest_ancestor():
    tpl = load_template(FIXTURES / "vpc.yaml")
    assert tpl.line_of(["Resources", "Vpc", "NoSuchKey"]) == source_line(tpl, "  Vpc:")


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.mark.parametrize(
    "case_id, name, op",
    [
        ("yaml-replace-scalar", "vpc.yaml", PatchOp("replace", "/Resources/Vpc/Properties/CidrBlock", "10.9.0.0/16")),
        ("yaml-add-depends-on", "logs-kms.yaml", PatchOp("add", "/Resources/ApplicationLogGroup/DependsOn", "LogsKeyAlias")),
        ("yaml-inside-short-form", "vpc.yaml",
         PatchOp("replace", "/Resources/NatGateway/Properties/Tags/0/Value/Fn::If/1", "prod-nat")),
        ("yaml-remove-key", "sam.yaml", PatchOp("remove", "/Resources/OrdersFunction/Properties/CodeUri")),
        ("json-replace-list-item", "pipeline.json",
         PatchOp("replace", "/Resources/CodeDeployServiceRole/Properties/ManagedPolicyArns/0", "arn:aws:iam::aws:policy/X")),
        ("json-add-key", "pipeline.json", PatchOp("add", "/Resources/BuildProject/DependsOn", "ArtifactBucket")),
    ],
)
def test_one_op_patch_changes_only_a_few_lines(case_id, name, op):
    tpl = load_template(FIXTURES / name)
    patched = apply_patch(tpl, [op])
    changed = changed_lines(tpl.source, patched.source)
    assert 1 <= len(changed) <= 3, changed
    assert patched.fmt == tpl.fmt
    assert loads_template(patched.dumps(), fmt=tpl.fmt).document == patched.document


def test_patch_keeps_comments_tags_and_key_order():
    tpl = load_template(FIXTURES / "vpc.yaml")
    patched = apply_patch(tpl, [PatchOp("add", "/Resources/Bastion/Properties/Monitoring", True)])
    assert "# Every short-form tag appears somewhere below, on purpose." in patched.source
    assert "DependsOn: GatewayAttachment   # the route needs the attached gateway" in patched.source
    assert "!GetAZs \"\"" in patched.source and "!Cidr [!GetAtt Vpc.CidrBlock, 4, 8]" in patched.source
    assert list(patched.resources) == list(tpl.resources)
    assert list(patched.resources["Bastion"]["Properties"])[-1] == "Monitoring"


def test_long_form_values_are_written_as_short_form_tags_in_yaml():
    tpl = load_template(FIXTURES / "logs-kms.yaml")
    value = {
        "Sid": "AllowLogs",
        "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
        "Resource": {"Fn::GetAtt": ["LogsKey", "Arn"]},
        "Tag": {"Fn::Join": ["-", [{"Ref": "AppName"}, "x"]]},
        "Wrapped": {"Fn::Base64": {"Fn::Sub": "${AppName}"}},
    }
    patched = apply_patch(tpl, [PatchOp("add", "/Resources/LogsKey/Properties/KeyPolicy/Statement/-", value)])
    assert "Service: !Sub logs.${AWS::Region}.amazonaws.com" in patched.source
    assert "Resource: !GetAtt LogsKey.Arn" in patched.source
    assert "Tag: !Join ['-', [!Ref AppName, x]]" in patched.source
    assert "Fn::Base64: !Sub ${AppName}" in patched.source  # one tag per node: the outer stays long form
    assert "\n\n  LogsKeyAlias:" in patched.source  # the blank line before the next resource stays there
    assert patched.resources["LogsKey"]["Properties"]["KeyPolicy"]["Statement"][-1] == value


def test_json_keeps_key_order_and_indent():
    text = '{\n    "Resources": {\n        "B": {"Type": "AWS::SNS::Topic"},\n        "A": {"Type": "AWS::SQS::Queue"}\n    }\n}\n'
    tpl = loads_template(text)
    patched = apply_patch(tpl, [PatchOp("add", "/Resources/A/Properties", {"DelaySeconds": 5})])
    assert patched.source.startswith('{\n    "Resources": {\n        "B": {')
    assert list(patched.resources) == ["B", "A"]
    assert patched.source.endswith("}\n")


@pytest.mark.parametrize(
    "case_id, op, expected",
    [
        ("add-key", PatchOp("add", "/Resources/R/Metadata", {"a": 1}), {"a": 1}),
        ("append", PatchOp("add", "/Resources/R/Metadata/list/-", 3), {"list": [1, 2, 3], "a/b": 0, "t~x": 0}),
        ("insert", PatchOp("add", "/Resources/R/Metadata/list/0", 0), {"list": [0, 1, 2], "a/b": 0, "t~x": 0}),
        ("replace-escaped-slash", PatchOp("replace", "/Resources/R/Metadata/a~1b", 9), {"list": [1, 2], "a/b": 9, "t~x": 0}),
        ("remove-escaped-tilde", PatchOp("remove", "/Resources/R/Metadata/t~0x"), {"list": [1, 2], "a/b": 0}),
        ("remove-item", PatchOp("remove", "/Resources/R/Metadata/list/1"), {"list": [1], "a/b": 0, "t~x": 0}),
    ],
)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_rfc6902_operations(case_id, op, expected, fmt):
    doc = {"Resources": {"R": {"Type": "AWS::SNS::Topic", "Metadata": {"list": [1, 2], "a/b": 0, "t~x": 0}}}}
    text = json.dumps(doc, indent=2) if fmt == "json" else (
        "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Metadata:\n      list: [1, 2]\n      a/b: 0\n      t~x: 0\n"
    )
    tpl = loads_template(text, fmt=fmt)
    if case_id == "add-key":
        op = PatchOp("add", "/Resources/R/Metadata", {"a": 1})
    patched = apply_patch(tpl, [op])
    assert patched.resources["R"]["Metadata"] == expected
    assert loads_template(patched.source, fmt=fmt).document == patched.document


def test_apply_patch_never_mutates_its_input():
    tpl = load_template(FIXTURES / "vpc.yaml")
    before_doc = json.dumps(tpl.document)
    before_src = tpl.source
    value = {"Key": "Owner", "Value": "team"}
    patched = apply_patch(tpl, [PatchOp("add", "/Resources/Vpc/Properties/Tags/-", value)])
    value["Value"] = "changed later"
    assert json.dumps(tpl.document) == before_doc and tpl.source == before_src
    assert patched.resources["Vpc"]["Properties"]["Tags"][-1] == {"Key": "Owner", "Value": "team"}


@pytest.mark.parametrize(
    "case_id, op",
    [
        ("missing-key", PatchOp("replace", "/Resources/Nope/Type", "x")),
        ("bad-index", PatchOp("replace", "/Resources/Vpc/Properties/Tags/7", "x")),
        ("unknown-op", PatchOp("move", "/Resources/Vpc", None)),
        ("not-a-pointer", PatchOp("add", "Resources/Vpc", None)),
    ],
)
def test_bad_patch_raises_patch_error(case_id, op):
    with pytest.raises(PatchError):
        apply_patch(load_template(FIXTURES / "vpc.yaml"), [op])


def test_dumps_reflects_a_document_changed_in_place():
    tpl = load_template(FIXTURES / "nested.yaml")
    tpl.document["Resources"]["AppDnsRecord"]["Properties"]["TTL"] = "60"
    text = tpl.dumps()
    assert 'TTL: "60"' in text or "TTL: '60'" in text
    assert "!GetAtt NetworkStack.Outputs.VpcId" in text
    assert loads_template(text).document == tpl.document


def test_unified_diff_names_the_file_and_shows_the_change():
    tpl = load_template(FIXTURES / "logs-kms.yaml")
    patched = apply_patch(tpl, [PatchOp("replace", "/Resources/AuditLogGroup/Properties/RetentionInDays", 90)])
    diff = unified_diff(tpl, patched)
    assert diff.startswith("--- a/logs-kms.yaml\n+++ b/logs-kms.yaml\n")
    assert "-      RetentionInDays: 365\n+      RetentionInDays: 90\n" in diff


@given(st.lists(st.one_of(st.text(max_size=8), st.integers(min_value=0, max_value=99)), max_size=5))
def test_pointer_round_trips_through_escapes(parts):
    from orchestrator.template.jsonpatch import split_pointer as _parts

    assert _parts(pointer(*parts)) == tuple(str(p) for p in parts)


def test_pointer_escapes_per_rfc6901():
    assert pointer("Resources", "a/b", "c~d", 0) == "/Resources/a~1b/c~0d/0"
    assert pointer() == ""


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.yaml"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]


def test_read_data_yaml_reads_plain_data_and_reports_bad_lines(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("id: x\nmatch:\n  status: CREATE_FAILED\n")
    assert read_data_yaml(good) == {"id": "x", "match": {"status": "CREATE_FAILED"}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nmatch: [unclosed\n")
    with pytest.raises(BadInput) as info:
        read_data_yaml(bad)
    assert info.value.file == str(bad) and info.value.line is not None


def test_resources_property_and_template_metadata():
    tpl = load_template(FIXTURES / "pipeline.json")
    assert tpl.fmt == "json" and tpl.path == FIXTURES / "pipeline.json"
    assert tpl.resources["Pipeline"]["Type"] == "AWS::CodePipeline::Pipeline"


def test_chained_patches_render_once_in_the_input_format():
    tpl = load_template(FIXTURES / "vpc.yaml")
    first = apply_patch(tpl, [PatchOp("add", "/Resources/Vpc/DependsOn", "InternetGateway")])
    second = apply_patch(first, [PatchOp("replace", "/Resources/Vpc/Properties/CidrBlock", "10.1.0.0/16")])
    assert second.resources["Vpc"]["DependsOn"] == "InternetGateway"
    assert "DependsOn: InternetGateway" in second.source and "CidrBlock: 10.1.0.0/16" in second.source
    assert "CidrBlock: 10.1.0.0/16" not in first.source
    assert loads_template(second.source).document == second.document
    assert second.line_of("/Resources/Vpc/DependsOn") == source_line(second, "DependsOn: InternetGateway")


def test_patch_that_breaks_the_template_is_bad_input():
    tpl = load_template(FIXTURES / "sam.yaml")
    with pytest.raises(BadInput, match="after patching: resource 'OrdersTable' has no Type"):
        apply_patch(tpl, [PatchOp("remove", "/Resources/OrdersTable/Type")])


# --- Splicing: only the repaired lines change -------------------------------------------------

HAND_FORMATTED_JSON = """{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "LogsRole": {
      "Type": "AWS::IAM::Role",
      "Properties": {
        "AssumeRolePolicyDocument": {
          "Version": "2012-10-17",
          "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["logs.amazonaws.com"]}, "Action": "sts:AssumeRole"}
          ]
        },
        "Policies": [
          {
            "PolicyName": "write",
            "PolicyDocument": {
              "Version": "2012-10-17",
              "Statement": [
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
              ]
            }
          }
        ],
        "Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "dev"}]
      }
    },
    "Queue": {
      "Type": "AWS::SQS::Queue",
      "Properties": {"DelaySeconds": 5, "Tags": [{"Key": "team", "Value": "core"}]}
    }
  },
  "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}
}
"""
PRINCIPAL_LINE = '{"Effect": "Allow", "Principal": {"Service": ["logs.amazonaws.com"]}, "Action": "sts:AssumeRole"}'
TAGS_LINE = '"Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "dev"}]'
QUEUE_PROPS_LINE = '"Properties": {"DelaySeconds": 5, "Tags": [{"Key": "team", "Value": "core"}]}'
ROLE = "/Resources/LogsRole/Properties"


@pytest.mark.parametrize(
    "case_id, op, max_changed, kept, expected_line",
    [
        ("replace-value", PatchOp("replace", "/Resources/Queue/Properties/DelaySeconds", 0), 2,
         [PRINCIPAL_LINE, TAGS_LINE], '"Properties": {"DelaySeconds": 0, "Tags": [{"Key": "team", "Value": "core"}]}'),
        ("add-depends-on", PatchOp("add", "/Resources/Queue/DependsOn", "LogsRole"), 3,
         [PRINCIPAL_LINE, TAGS_LINE], '      "DependsOn": "LogsRole"\n'),
        ("append-statement", PatchOp("add", f"{ROLE}/Policies/0/PolicyDocument/Statement/-",
                                     {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}), 3,
         [PRINCIPAL_LINE, TAGS_LINE, QUEUE_PROPS_LINE],
         '                {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}\n'),
        ("remove-list-item", PatchOp("remove", f"{ROLE}/Tags/0"), 2,
         [PRINCIPAL_LINE, QUEUE_PROPS_LINE], '"Tags": [{"Key": "env", "Value": "dev"}]'),
        ("remove-last-key", PatchOp("remove", f"{ROLE}/Tags"), 3,
         [PRINCIPAL_LINE, QUEUE_PROPS_LINE], '        ]\n      }\n'),
        ("append-in-compact-list", PatchOp("add", f"{ROLE}/AssumeRolePolicyDocument/Statement/0/Principal/Service/-",
                                           "ec2.amazonaws.com"), 2,
         [TAGS_LINE, QUEUE_PROPS_LINE], '"Principal": {"Service": ["logs.amazonaws.com", "ec2.amazonaws.com"]}'),
        ("add-resource", PatchOp("add", "/Resources/Topic", {"Type": "AWS::SNS::Topic"}), 5,
         [PRINCIPAL_LINE, TAGS_LINE, QUEUE_PROPS_LINE], '    "Topic": {\n      "Type": "AWS::SNS::Topic"\n    }\n'),
    ],
)
def test_json_patch_splices_into_hand_formatted_text(case_id, op, max_changed, kept, expected_line):
    tpl = loads_template(HAND_FORMATTED_JSON)
    patched = apply_patch(tpl, [op])
    changed = changed_lines(tpl.source, patched.source)
    assert 1 <= len(changed) <= max_changed, changed
    assert json.loads(patched.source) == patched.document
    assert loads_template(patched.dumps()).document == patched.document
    for needle in kept:
        original_line = tpl.source.splitlines()[source_line(tpl, needle) - 1]
        assert original_line in patched.source.splitlines()  # byte-identical, indentation and all
    assert expected_line in patched.source
    assert '  "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}\n' in patched.source


def test_json_untouched_lines_stay_byte_identical_after_several_patches():
    tpl = loads_template(HAND_FORMATTED_JSON)
    patched = apply_patch(tpl, [
        PatchOp("add", "/Resources/LogsRole/DependsOn", ["Queue"]),
        PatchOp("replace", f"{ROLE}/Policies/0/PolicyName", "write-logs"),
    ])
    before, after = tpl.source.splitlines(), patched.source.splitlines()
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    assert kept >= len(before) - 3
    assert '            "PolicyName": "write-logs",' in after
    assert patched.resources["LogsRole"]["DependsOn"] == ["Queue"]
    assert loads_template(patched.source).document == patched.document


@pytest.mark.parametrize(
    "case_id, text, op, expected",
    [
        ("minified", '{"Resources":{"A":{"Type":"AWS::SNS::Topic"},"B":{"Type":"AWS::SQS::Queue"}}}',
         PatchOp("add", "/Resources/B/DependsOn", "A"),
         '{"Resources":{"A":{"Type":"AWS::SNS::Topic"},"B":{"Type":"AWS::SQS::Queue","DependsOn":"A"}}}'),
        ("tabs", '{\n\t"Resources": {\n\t\t"A": {"Type": "AWS::SNS::Topic"}\n\t}\n}\n',
         PatchOp("add", "/Resources/A/Properties", {"TopicName": "t", "Tags": []}),
         '{\n\t"Resources": {\n\t\t"A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t", "Tags": []}}\n\t}\n}\n'),
        ("non-ascii-kept", '{"Description": "café",\n "Resources": {"A": {"Type": "AWS::SNS::Topic"}}}',
         PatchOp("add", "/Resources/A/Metadata", {"Note": "naïve"}),
         '{"Description": "café",\n "Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": {"Note": "naïve"}}}}'),
    ],
)
def test_json_splice_follows_the_files_own_layout(case_id, text, op, expected):
    patched = apply_patch(loads_template(text, fmt="json"), [op])
    assert patched.source == expected
    assert json.loads(patched.source) == patched.document


def test_json_reordered_mapping_is_rerendered_in_the_new_order():
    tpl = loads_template(HAND_FORMATTED_JSON)
    queue = tpl.document["Resources"]["Queue"]
    tpl.document["Resources"]["Queue"] = {"Properties": queue["Properties"], "Type": queue["Type"]}
    text = tpl.dumps()
    assert list(json.loads(text)["Resources"]["Queue"]) == ["Properties", "Type"]
    assert PRINCIPAL_LINE in text and TAGS_LINE in text


def test_json_pipeline_fixture_keeps_every_other_line():
    tpl = load_template(FIXTURES / "pipeline.json")
    patched = apply_patch(tpl, [PatchOp("add", "/Resources/Pipeline/DependsOn/-", "ArtifactBucket")])
    assert len(changed_lines(tpl.source, patched.source)) <= 3
    assert loads_template(patched.source).document == patched.document


FLOW_YAML = """Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: app
          Image: nginx
          PortMappings: [{ContainerPort: 8080}]
          Ulimits: [{Name: nofile, SoftLimit: 1024, HardLimit: 4096}, {Name: nproc}]
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  TopicArn:
    Value: !Ref Topic
"""


@pytest.mark.parametrize(
    "case_id, op",
    [
        ("unrelated-resource", PatchOp("add", "/Resources/Topic/Properties", {"TopicName": "t"})),
        ("same-resource", PatchOp("replace", "/Resources/Task/Properties/ContainerDefinitions/0/Image", "nginx:1")),
        ("outside-resources", PatchOp("add", "/Outputs/TopicArn/Description", "the topic")),
    ],
)
def test_yaml_single_pair_flow_mapping_in_flow_sequence_keeps_its_braces(case_id, op):
    tpl = loads_template(FLOW_YAML)
    patched = apply_patch(tpl, [op])
    lines = patched.source.splitlines()
    assert "          PortMappings: [{ContainerPort: 8080}]" in lines
    assert "          Ulimits: [{Name: nofile, SoftLimit: 1024, HardLimit: 4096}, {Name: nproc}]" in lines
    assert loads_template(patched.source).document == patched.document


def test_yaml_bare_single_pair_in_flow_sequence_stays_bare():
    text = "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Metadata:\n      Pairs: [a: 1, b: 2]\nOutputs: {}\n"
    patched = apply_patch(loads_template(text), [PatchOp("add", "/Outputs/X", {"Value": 1})])
    assert "      Pairs: [a: 1, b: 2]\n" in patched.source


SPLICE_YAML = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  # the queue first
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      Tags:
          - Key: team      # indented further than the rest of the file
            Value: core

  Role:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns:
      - arn:aws:iam::aws:policy/ReadOnlyAccess
  "Topic":
    Type: AWS::SNS::Topic   # quoted logical id
# outputs follow

Outputs:
  QueueArn:
    Value: !GetAtt Queue.Arn
"""


@pytest.mark.parametrize(
    "case_id, ops, untouched",
    [
        ("property", [PatchOp("add", "/Resources/Role/DependsOn", "Queue")], ["Queue", "Topic"]),
        ("quoted-id", [PatchOp("replace", "/Resources/Topic/Type", "AWS::SQS::Queue")], ["Queue", "Role"]),
        ("new-resource", [PatchOp("add", "/Resources/Key", {"Type": "AWS::KMS::Key"}),
                          PatchOp("add", "/Resources/Key/Properties", {"Enabled": True})], ["Queue", "Role"]),
        ("remove-resource", [PatchOp("remove", "/Resources/Topic")], ["Queue", "Role"]),
        ("two-resources", [PatchOp("add", "/Resources/Topic/DependsOn", "Role"),
                           PatchOp("replace", "/Resources/Role/Properties/ManagedPolicyArns/0", "arn:x")], ["Queue"]),
    ],
)
def test_yaml_patch_rerenders_only_the_touched_resources(case_id, ops, untouched):
    tpl = loads_template(SPLICE_YAML)
    patched = apply_patch(tpl, ops)
    assert loads_template(patched.source).document == patched.document
    # The oddly indented Queue block would be re-indented by a whole-file round trip.
    if "Queue" in untouched:
        assert "      Tags:\n          - Key: team      # indented further than the rest of the file\n" in patched.source
    if "Role" in untouched:
        assert "      ManagedPolicyArns:\n      - arn:aws:iam::aws:policy/ReadOnlyAccess\n" in patched.source
    if "Topic" in untouched:
        assert '  "Topic":\n    Type: AWS::SNS::Topic   # quoted logical id\n' in patched.source
    assert "  # the queue first\n" in patched.source
    assert "# outputs follow\n\nOutputs:\n  QueueArn:\n    Value: !GetAtt Queue.Arn\n" in patched.source


def test_yaml_splice_falls_back_to_the_whole_file_when_a_block_uses_an_outside_anchor():
    text = (
        "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      Tags: &tags\n        - {Key: a, Value: b}\n"
        "  B:\n    Type: AWS::SNS::Topic\n    Properties:\n      Tags: *tags\n"
    )
    tpl = loads_template(text)
    patched = apply_patch(tpl, [PatchOp("add", "/Resources/B/DependsOn", "A")])
    assert patched.resources["B"]["DependsOn"] == "A"
    assert loads_template(patched.source).document == patched.document


# JSON that only a YAML parser reads: CloudFormation reads templates as YAML, cfn-lint falls back the same way.
TRAILING_COMMAS = """{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "Queue": {
      "Type": "AWS::SQS::Queue",
      "Properties": {"DelaySeconds": 5,},
    },
  }
}
"""


def test_json_with_trailing_commas_is_read_as_yaml_like_cloudformation(tmp_path):
    from orchestrator.model import PatchOp
    from orchestrator.template import apply_patch, load_template

    from orchestrator.errors import TemplateWarning

    path = tmp_path / "queue.json"
    path.write_text(TRAILING_COMMAS)
    with pytest.warns(TemplateWarning, match=r"queue\.json:6: not valid JSON .*read as YAML"):
        tpl = load_template(path)
    assert tpl.document["Resources"]["Queue"]["Properties"] == {"DelaySeconds": 5}
    assert tpl.line_of(("Resources", "Queue")) == 4
    # A repair of such a template is written as valid JSON, in the input's indentation.
    fixed = apply_patch(tpl, [PatchOp("add", "/Resources/Queue/Properties/VisibilityTimeout", 60)])
    assert json.loads(fixed.dumps())["Resources"]["Queue"]["Properties"] == {"DelaySeconds": 5, "VisibilityTimeout": 60}


def test_json_neither_parser_reads_reports_the_json_error(tmp_path):
    from orchestrator.errors import BadInput
    from orchestrator.template import load_template

    path = tmp_path / "cut.json"
    path.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"')
    with pytest.raises(BadInput, match="invalid JSON") as caught:
        load_template(path)
    assert caught.value.line == 1


def test_cli_prints_the_yaml_fallback_as_one_warning_line(tmp_path):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    path = tmp_path / "queue.json"
    path.write_text(TRAILING_COMMAS)
    result = CliRunner().invoke(app, ["forecast", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"cfn-autofix: warning: {path}:6: not valid JSON (Expecting property name enclosed in double quotes); "
        "read as YAML, as CloudFormation and cfn-lint read it"]

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
from orchestrator.template_io import (
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
    from orchestrator.template_io import _parts

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

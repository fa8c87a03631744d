"""Hostile templates (property tests): `graph`, `forecast` and the deploy entry give a result or exit 2 with one line, never a traceback."""

from __future__ import annotations

import hashlib
import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path

import click.testing
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.cli import app
from orchestrator.config import load_config
from orchestrator.errors import BadInput
from orchestrator.forecast.run import forecast_and_fix
from orchestrator.template.graph import build_graph
from orchestrator.deploy.loop import deploy_with_autofix
from orchestrator.catalog.playbooks import load_playbooks
from orchestrator.template import load_template, loads_template

# Built once: typer rebuilds the whole click tree on every CliRunner.invoke, which costs more than the work.
CLI = typer.main.get_command(app)
RUNNER = click.testing.CliRunner()
BOOKS = load_playbooks()
FUZZ = settings(
    deadline=None,  # time is no verdict here: hypothesis' deadline would flake on a busy CI box
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    derandomize=True,
    database=None,
)
_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def write_case(directory: Path, content: str | bytes, suffix: str) -> Path:
    path = directory / f"case{next(_COUNTER)}{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def non_log_lines(stderr: str) -> list[str]:
    """stderr without structlog's JSON lines (logs are JSON when stderr is not a terminal)."""
    return [line for line in stderr.splitlines() if not _is_json_object(line)]


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def assert_clean_cli(result: click.testing.Result, path: Path, ok_codes: tuple[int, ...]) -> None:
    """Exit code in ok_codes with usable output, or 2 with exactly one `cfn-autofix: error:` line naming the file."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (*ok_codes, 2), (result.exit_code, result.stderr[-1000:])
    if result.exit_code == 2:
        lines = non_log_lines(result.stderr)
        assert len(lines) == 1, lines
        assert lines[0].startswith("cfn-autofix: error: "), lines[0]
        assert str(path) in lines[0], lines[0]
        assert len(lines[0]) < 2000, "the error line must stay readable"


# -------------------------------------------------------------------------------------------------
# Strategies


NAMES = ["A", "B", "Vpc", "Role", "Key", "LogGroup", "Topic", "Param", "Cond", "Map", "Ünïcødé", "a b", "1", "", "Ref",
         "AWS::Region", "AWS::NoValue", "Fn::GetAtt", "${A}", "A.Arn", "💥", "x" * 300]
RESOURCE_TYPES = [
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::KMS::Key", "AWS::KMS::Alias",
    "AWS::Logs::LogGroup", "AWS::EC2::VPC", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::Route", "AWS::EC2::EIP", "AWS::EC2::NatGateway", "AWS::EC2::Instance",
    "AWS::AutoScaling::AutoScalingGroup", "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::Listener", "AWS::ECS::Service", "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Method", "AWS::Lambda::Function", "AWS::Serverless::Function", "AWS::SNS::Topic",
    "AWS::CloudFormation::Stack", "AWS::CodeDeploy::Application", "Custom::Thing", "AWS::Nope::Nope", "", "aws::iam::role",
]
ARNS = [
    "arn:aws:iam::aws:policy/AWSCodeDeployRole", "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole",
    "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/service-role/AWSConfigRole", "arn:aws:iam::aws:policy/AWSConfigRole",
    "arn:aws:iam::aws:policy/", "arn:aws:iam::aws:policy", "arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
    "arn:${AWS::Partition}:iam::aws:policy/AWSCodeDeployRole", "not-an-arn", "",
]
FUNCTIONS = ["Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::FindInMap", "Fn::Select", "Fn::Split",
             "Fn::Base64", "Fn::GetAZs", "Fn::Cidr", "Fn::ImportValue", "Fn::Transform", "Fn::And", "Fn::Or",
             "Fn::Not", "Fn::Equals", "Condition", "Fn::ToJsonString", "Fn::Length", "Fn::Bogus"]

names = st.sampled_from(NAMES)
odd_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "\t", "\u202e", "\x00", "\ufeff", "${", "${A", "${!A}", "${A.Arn}", "${AWS::Region}",
                     "~/0", "/", "..", "null", "true", "1e400", "-0", "0x1F", "*", "&a", "!Ref A", "{}", "[]"]),
    st.just("é" * 5000),
    st.just("long " * 2000),
)
scalars = st.one_of(odd_text, st.integers(min_value=-(2**70), max_value=2**70), st.booleans(), st.none(),
                    st.floats(allow_nan=False), names, st.sampled_from(ARNS))


def intrinsic(children: st.SearchStrategy) -> st.SearchStrategy:
    """Intrinsic functions, well formed and malformed, pointing at names that may or may not exist."""
    well_formed = st.one_of(
        st.builds(lambda n: {"Ref": n}, names),
        st.builds(lambda n, a: {"Fn::GetAtt": [n, a]}, names, st.sampled_from(["Arn", "Id", "", "A.B"])),
        st.builds(lambda n: {"Fn::GetAtt": f"{n}.Arn"}, names),
        st.builds(lambda n: {"Fn::Sub": f"arn:${{AWS::Partition}}:x:${{{n}}}:${{{n}.Arn}}"}, names),
        st.builds(lambda n, v: {"Fn::Sub": [f"${{{n}}}-${{Var}}", {"Var": v}]}, names, children),
        st.builds(lambda n, a, b: {"Fn::If": [n, a, b]}, names, children, children),
        st.builds(lambda n: {"Fn::FindInMap": [n, "k", "v"]}, names),
        st.builds(lambda n: {"Fn::Join": ["", [{"Ref": n}, "x"]]}, names),
    )
    malformed = st.builds(lambda fn, arg: {fn: arg}, st.sampled_from(FUNCTIONS), children)
    return st.one_of(well_formed, malformed)


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(names, st.text(max_size=8)), children, max_size=4),
        intrinsic(children),
    ),
    max_leaves=25,
)

maybe_names = st.one_of(names, st.lists(names, max_size=3), values)

iam_properties = st.fixed_dictionaries(
    {},
    optional={
        "ManagedPolicyArns": st.one_of(st.lists(st.one_of(st.sampled_from(ARNS), values), max_size=4), values),
        "AssumeRolePolicyDocument": st.one_of(values, st.just({"Statement": [{"Effect": "Allow", "Principal": {
            "Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}]})),
        "Policies": st.one_of(values, st.lists(st.fixed_dictionaries({"PolicyName": odd_text, "PolicyDocument": values}),
                                               max_size=2)),
        "Roles": st.one_of(st.lists(st.builds(lambda n: {"Ref": n}, names), max_size=2), values),
        "PolicyDocument": values,
        "PolicyName": values,
    },
)
statement = st.fixed_dictionaries(
    {},
    optional={"Sid": odd_text, "Effect": st.sampled_from(["Allow", "Deny", 1, None]),
              "Principal": st.one_of(st.just("*"), st.just({"Service": "logs.amazonaws.com"}),
                                     st.just({"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}),
                                     st.just({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}), values),
              "Action": st.one_of(st.just("kms:*"), st.lists(st.sampled_from(["kms:Decrypt*", "kms:Encrypt*", "kms:*", "*"])),
                                  values),
              "Resource": st.one_of(st.just("*"), values),
              "Condition": values},
)
kms_properties = st.fixed_dictionaries(
    {},
    optional={"KeyPolicy": st.one_of(values, st.fixed_dictionaries(
        {"Version": st.just("2012-10-17"), "Statement": st.one_of(st.lists(statement, max_size=3), statement, values)})),
        "EnableKeyRotation": values},
)
logs_properties = st.fixed_dictionaries(
    {},
    optional={"KmsKeyId": st.one_of(st.builds(lambda n: {"Fn::GetAtt": [n, "Arn"]}, names),
                                     st.builds(lambda n: {"Ref": n}, names), values),
              "LogGroupName": values, "RetentionInDays": values},
)
route_properties = st.fixed_dictionaries(
    {},
    optional={"GatewayId": st.one_of(st.builds(lambda n: {"Ref": n}, names), values),
              "RouteTableId": values, "DestinationCidrBlock": st.just("0.0.0.0/0"), "VpcId": values,
              "InternetGatewayId": st.builds(lambda n: {"Ref": n}, names), "Domain": st.just("vpc"),
              "RestApiId": values, "Role": st.builds(lambda n: {"Fn::GetAtt": [n, "Arn"]}, names)},
)
properties = st.one_of(iam_properties, kms_properties, logs_properties, route_properties, values)

resource_body = st.fixed_dictionaries(
    {},
    optional={
        "Type": st.one_of(st.sampled_from(RESOURCE_TYPES), values),
        "Properties": properties,
        "DependsOn": maybe_names,
        "Condition": st.one_of(names, values),
        "Metadata": values,
        "DeletionPolicy": st.one_of(st.sampled_from(["Retain", "Delete", "Snapshot"]), values),
        "UpdateReplacePolicy": values,
        "CreationPolicy": values,
    },
)
# Mostly resource-shaped bodies with a Type, sometimes anything at all.
resources = st.dictionaries(
    names,
    st.one_of(resource_body.map(lambda body: {"Type": "AWS::SNS::Topic", **body}), resource_body, values),
    min_size=0,
    max_size=6,
)
parameter_body = st.one_of(
    st.fixed_dictionaries({"Type": st.sampled_from(["String", "Number", "CommaDelimitedList", "AWS::EC2::VPC::Id",
                                                    "AWS::SSM::Parameter::Value<String>", "Bogus"])},
                          optional={"Default": values, "NoEcho": st.one_of(st.booleans(), values),
                                    "AllowedValues": values}),
    values,
)
template_documents = st.fixed_dictionaries(
    {},
    optional={
        "AWSTemplateFormatVersion": st.one_of(st.just("2010-09-09"), values),
        "Description": odd_text,
        "Transform": st.one_of(st.just("AWS::Serverless-2016-10-31"), st.just(["AWS::Serverless-2016-10-31", "Macro"]),
                               st.just({"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}), values),
        "Parameters": st.one_of(st.dictionaries(names, parameter_body, max_size=3), values),
        "Conditions": st.one_of(st.dictionaries(names, st.one_of(
            st.builds(lambda n: {"Fn::Equals": [{"Ref": n}, "x"]}, names),
            st.builds(lambda n: {"Condition": n}, names), values), max_size=3), values),
        "Mappings": st.one_of(st.dictionaries(names, st.dictionaries(names, st.dictionaries(names, scalars, max_size=2),
                                                                      max_size=2), max_size=2), values),
        "Outputs": st.one_of(st.dictionaries(names, st.fixed_dictionaries(
            {"Value": values}, optional={"Condition": names, "Export": values}), max_size=3), values),
        "Metadata": values,
        "Rules": values,
    },
).flatmap(lambda doc: st.one_of(resources, values).map(lambda res: {**doc, "Resources": res}))
# A top level that is not a template at all, now and then.
documents = st.one_of(template_documents, values)

LOGICAL_IDS = ["Vpc", "Igw", "Attach", "Route", "Eip", "Nat", "Role", "Policy", "Key", "Logs", "Api", "Method",
               "Deployment", "Service", "Listener", "Topic", "Fn", "Ünï", "R1", "R2", "X" * 200]


ID_TYPES = {"Vpc": "AWS::EC2::VPC", "Igw": "AWS::EC2::InternetGateway", "Attach": "AWS::EC2::VPCGatewayAttachment",
            "Route": "AWS::EC2::Route", "Eip": "AWS::EC2::EIP", "Nat": "AWS::EC2::NatGateway", "Role": "AWS::IAM::Role",
            "Policy": "AWS::IAM::Policy", "Key": "AWS::KMS::Key", "Logs": "AWS::Logs::LogGroup",
            "Api": "AWS::ApiGateway::RestApi", "Method": "AWS::ApiGateway::Method",
            "Deployment": "AWS::ApiGateway::Deployment", "Service": "AWS::ECS::Service",
            "Listener": "AWS::ElasticLoadBalancingV2::Listener", "Topic": "AWS::SNS::Topic", "Fn": "AWS::Lambda::Function"}


@st.composite
def coherent_templates(draw):
    """Templates whose references mostly resolve, so the forecast, detectors and repairs see them (odd values inside)."""
    ids = draw(st.lists(st.sampled_from(LOGICAL_IDS), min_size=2, max_size=8, unique=True))
    params = draw(st.lists(st.sampled_from(["Env", "Secret", "Cidr", "Ami"]), max_size=3, unique=True))
    conds = draw(st.lists(st.sampled_from(["IsProd", "HasKey"]), max_size=2, unique=True))
    # Names that exist; one template in ten gets a dangling reference below (bad input, exit 2).
    target = st.sampled_from(ids + params + ["AWS::Region", "AWS::AccountId", "AWS::NoValue"])
    resource_target = st.sampled_from(ids)

    def prefer(name: str, fallback: st.SearchStrategy, wrap=lambda n: {"Ref": n}) -> st.SearchStrategy:
        # The detectors look for specific pairs (a route and its gateway, a log group and its key): make them likely.
        return st.one_of(st.just(wrap(name)), fallback) if name in ids else fallback
    odd = st.one_of(odd_text, st.integers(), st.booleans(), st.none(), st.lists(odd_text, max_size=2),
                    st.dictionaries(st.text(max_size=5), odd_text, max_size=2))
    ref = st.builds(lambda n: {"Ref": n}, target)
    getatt = st.one_of(st.builds(lambda n: {"Fn::GetAtt": [n, "Arn"]}, resource_target),
                       st.builds(lambda n: {"Fn::GetAtt": f"{n}.Arn"}, resource_target))
    sub = st.builds(lambda n, m: {"Fn::Sub": f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{{n}}}:${{{m}.Arn}}"},
                    target, resource_target)
    cond_if = st.builds(lambda c, a, b: {"Fn::If": [c, a, b]}, st.sampled_from(conds or ["IsProd"]),
                        st.one_of(ref, odd), st.one_of(st.just({"Ref": "AWS::NoValue"}), odd))
    value = st.one_of(ref, getatt, sub, odd, odd, cond_if if conds else odd)
    doc_statement = st.fixed_dictionaries(
        {"Effect": st.sampled_from(["Allow", "Allow", "Deny"]),
         "Action": st.one_of(st.sampled_from(["kms:*", "s3:GetObject", "*", "logs:*"]),
                             st.lists(st.sampled_from(["kms:Decrypt*", "kms:Encrypt*", "iam:PassRole"]), max_size=3))},
        optional={"Principal": st.one_of(st.just({"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}),
                                         st.just({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}),
                                         st.just("*"), value),
                  "Resource": st.one_of(st.just("*"), value), "Condition": st.one_of(value, st.just(
                      {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {"Fn::Sub": "arn:${AWS::Partition}:logs:*"}}}))})
    document = st.one_of(st.fixed_dictionaries({"Version": st.just("2012-10-17"),
                                                "Statement": st.one_of(st.lists(doc_statement, max_size=3), doc_statement)}),
                         value)
    by_type = {
        "AWS::IAM::Role": st.fixed_dictionaries({"AssumeRolePolicyDocument": document,
            "ManagedPolicyArns": st.one_of(st.lists(st.one_of(st.sampled_from(ARNS), value), min_size=1, max_size=3),
                                           value)}, optional={
            "Policies": st.one_of(st.lists(st.fixed_dictionaries({"PolicyName": odd_text, "PolicyDocument": document}),
                                           max_size=2), value)}),
        "AWS::IAM::Policy": st.fixed_dictionaries({"PolicyName": odd_text, "PolicyDocument": document},
                                                  optional={"Roles": st.one_of(prefer("Role", ref, lambda n: [{"Ref": n}]), value)}),
        "AWS::KMS::Key": st.fixed_dictionaries({"KeyPolicy": document}, optional={"EnableKeyRotation": value}),
        "AWS::Logs::LogGroup": st.fixed_dictionaries({"KmsKeyId": prefer("Key", st.one_of(getatt, ref, value),
                                                                                lambda n: {"Fn::GetAtt": [n, "Arn"]})},
                                                     optional={"LogGroupName": value}),
        "AWS::EC2::Route": st.fixed_dictionaries({"RouteTableId": value, "DestinationCidrBlock": st.just("0.0.0.0/0"),
                                                  "GatewayId": prefer("Igw", st.one_of(ref, value))},
                                                 optional={"NatGatewayId": st.one_of(ref, value)}),
        "AWS::EC2::VPCGatewayAttachment": st.fixed_dictionaries({"VpcId": prefer("Vpc", st.one_of(ref, value)),
                                                                 "InternetGatewayId": prefer("Igw", value)}),
        "AWS::EC2::EIP": st.fixed_dictionaries({}, optional={"Domain": st.one_of(st.just("vpc"), value)}),
        "AWS::EC2::NatGateway": st.fixed_dictionaries({"AllocationId": st.one_of(getatt, value),
                                                       "SubnetId": st.one_of(ref, value)}),
        "AWS::ApiGateway::Deployment": st.fixed_dictionaries({"RestApiId": st.one_of(ref, value)}),
        "AWS::ApiGateway::Method": st.fixed_dictionaries({"RestApiId": st.one_of(ref, value),
                                                          "HttpMethod": st.just("GET")}),
        "AWS::ECS::Service": st.fixed_dictionaries({"LoadBalancers": st.lists(st.fixed_dictionaries(
            {"TargetGroupArn": st.one_of(ref, value)}), min_size=1, max_size=2)}, optional={"Cluster": value}),
        "AWS::ElasticLoadBalancingV2::Listener": st.fixed_dictionaries({"LoadBalancerArn": st.one_of(ref, value)}),
    }
    resources = {}
    for index, logical_id in enumerate(ids):
        natural = ID_TYPES.get(logical_id)
        rtype = natural if natural and draw(st.integers(0, 4)) else draw(st.sampled_from(list(by_type) + ["AWS::SNS::Topic", "AWS::EC2::VPC", "AWS::EC2::InternetGateway",
                                                      "AWS::Lambda::Function", "Custom::Odd", "AWS::Nope::Nope"]))
        body = {"Type": rtype}
        props = draw(st.one_of(by_type.get(rtype, st.dictionaries(st.text(max_size=6), value, max_size=3)), odd))
        if props is not None and draw(st.integers(0, 9)) != 5:
            body["Properties"] = props
        earlier = ids[:index]
        if earlier and draw(st.booleans()):
            body["DependsOn"] = draw(st.one_of(st.sampled_from(earlier), st.lists(st.sampled_from(earlier), max_size=3)))
        if conds and not draw(st.integers(0, 4)):
            body["Condition"] = draw(st.sampled_from(conds))
        if not draw(st.integers(0, 5)):
            body["Metadata"] = draw(odd)
        resources[logical_id] = body
    doc = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
    if params:
        doc["Parameters"] = {p: {"Type": "String", **({"NoEcho": True} if p == "Secret" else {}),
                                 **({"Default": draw(odd_text)} if draw(st.booleans()) else {})} for p in params}
    if conds:
        doc["Conditions"] = {c: {"Fn::Equals": [draw(st.one_of(ref, odd)), "prod"]} for c in conds}
    if draw(st.booleans()):
        doc["Outputs"] = {"Out": {"Value": draw(value)}}
    if draw(st.integers(0, 9)) == 9:
        doc["Outputs"] = {**doc.get("Outputs", {}), "Dangling": {"Value": {"Ref": "Missing"}}}
    if not draw(st.integers(0, 6)):
        doc["Transform"] = draw(st.one_of(st.just("AWS::Serverless-2016-10-31"), values))
    return doc


TAGS = {"Ref": "!Ref", "Fn::GetAtt": "!GetAtt", "Fn::Sub": "!Sub", "Fn::If": "!If", "Fn::Join": "!Join",
        "Fn::FindInMap": "!FindInMap", "Fn::Base64": "!Base64", "Fn::Equals": "!Equals", "Condition": "!Condition",
        "Fn::Select": "!Select", "Fn::Not": "!Not"}


def to_yaml(value, indent: int = 0, short_form: bool = True) -> str:
    """A small block-style YAML writer (keys and scalars as JSON strings, intrinsics as short-form tags)."""
    pad = "  " * indent
    if isinstance(value, dict) and len(value) == 1 and short_form:
        key, arg = next(iter(value.items()))
        if key in TAGS and (not isinstance(arg, (dict, list)) or (key == "Fn::GetAtt" and isinstance(arg, list))):
            if key == "Fn::GetAtt" and isinstance(arg, list):
                arg = ".".join(str(a) for a in arg)
            return f"{TAGS[key]} {json.dumps(arg)}"
        if key in TAGS:
            return f"{TAGS[key]} {json.dumps(arg)}"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "\n" + "\n".join(f"{pad}{json.dumps(str(k))}: {to_yaml(v, indent + 1, short_form)}" for k, v in value.items())
    if isinstance(value, list):
        if not value:
            return "[]"
        return "\n" + "\n".join(f"{pad}- {to_yaml(v, indent + 1, short_form).lstrip()}" if not isinstance(v, dict)
                                or not v else f"{pad}-{_indent_block(to_yaml(v, indent + 1, short_form))}" for v in value)
    return json.dumps(value)


def _indent_block(block: str) -> str:
    # A mapping inside a list item: the first key goes on the dash line.
    return " " + block.lstrip("\n").lstrip()


def yaml_text(document) -> str:
    body = to_yaml(document, 0)
    return body.lstrip("\n") + "\n" if isinstance(document, dict) and document else body + "\n"


@st.composite
def serialized(draw, docs=documents):
    """(content, suffix): the document as JSON or as YAML (with or without short-form tags)."""
    document = draw(docs)
    kind = draw(st.sampled_from(["json", "json-ascii", "yaml", "yaml-long", "json-as-yaml"]))
    if kind == "json":
        return json.dumps(document, ensure_ascii=False, indent=1), ".json"
    if kind == "json-ascii":
        return json.dumps(document), ".json"
    if kind == "json-as-yaml":
        return json.dumps(document), ".yaml"
    text = to_yaml(document, 0, short_form=kind == "yaml")
    return (text.lstrip("\n") if isinstance(document, dict) and document else text) + "\n", ".yaml"


OK_HEAD = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
YAML_SNIPPETS = [
    # anchors, aliases and merge keys
    "  Base: &base\n    Type: AWS::SNS::Topic\n  Copy: *base\n",
    "  Base: &base\n    Type: AWS::SNS::Topic\n  Merged:\n    <<: *base\n    Properties: {TopicName: x}\n",
    "  Self: &self\n    Type: AWS::SNS::Topic\n    Metadata: *self\n",
    "  Bad:\n    Type: *nowhere\n",
    "  L: &l [a, b]\n  M:\n    Type: AWS::SNS::Topic\n    Metadata: [*l, *l, *l]\n",
    # non-string keys
    "  1:\n    Type: AWS::SNS::Topic\n",
    "  true:\n    Type: AWS::SNS::Topic\n",
    "  null:\n    Type: AWS::SNS::Topic\n",
    "  ? [a, b]\n  : Type: AWS::SNS::Topic\n",
    "  ? {a: 1}\n  : Type: AWS::SNS::Topic\n",
    "  1.5:\n    Type: AWS::SNS::Topic\n",
    "  2012-10-17:\n    Type: AWS::SNS::Topic\n",
    "  Q:\n    Type: AWS::SNS::Topic\n    Properties:\n      ? !Ref Topic\n      : x\n",
    # tags in odd places
    "  T:\n    Type: !Ref Topic\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: !GetAtt Topic\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: !Ref {a: b}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !Sub [a, b, c, d]}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !GetAtt [Topic]}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !GetAtt [[Topic], 1]}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !If}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !!binary aGVsbG8=}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !!python/object:os.system ls}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !!set {a, b}}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: !!omap [a: 1, b: 2]\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !!float .nan}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !!int 99999999999999999999999999}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    DependsOn: T\n",
    "  T:\n    Type: AWS::SNS::Topic\n    DependsOn: [Topic, Topic, T2]\n  T2:\n    Type: AWS::SNS::Topic\n    DependsOn: T\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !Sub '${T.TopicName}'}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    DependsOn: {Ref: Topic}\n",
    # whitespace and structure
    "\tT:\n    Type: AWS::SNS::Topic\n",
    "  T:\r\n    Type: AWS::SNS::Topic\r\n",
    "---\nResources: {A: {Type: AWS::SNS::Topic}}\n",
    "...\n",
    "%YAML 1.1\n---\n",
    "  T: {Type: AWS::SNS::Topic, Type: AWS::SQS::Queue}\n",
    "  'x\\u0000y':\n    Type: AWS::SNS::Topic\n",
    "  \"\\uD83D\":\n    Type: AWS::SNS::Topic\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: \"" + "😀" * 3000 + "\"}\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Metadata: " + "{a: " * 60 + "x" + "}" * 60 + "\n",
    "  T:\n    Type: AWS::SNS::Topic\n    Metadata: " + "- " * 40 + "x\n",
]
yaml_texts = st.builds(
    lambda picks, cut, head: (head + "".join(picks))[: cut if cut else None],
    st.lists(st.sampled_from(YAML_SNIPPETS), min_size=1, max_size=3),
    st.one_of(st.just(0), st.just(0), st.integers(min_value=1, max_value=400)),
    st.sampled_from([OK_HEAD, "Resources:\n", "\ufeff" + OK_HEAD, "Transform: Macro\n" + OK_HEAD]),
)
raw_bytes = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda b: OK_HEAD.encode() + b, st.binary(min_size=1, max_size=50)),
    st.just(OK_HEAD.encode("utf-16")),
    st.just(b"\xef\xbb\xbf" + b"{\"Resources\": {\"A\": {\"Type\": \"AWS::SNS::Topic\"}}}"),
)


# -------------------------------------------------------------------------------------------------
# The checks


def check_graph_cli(path: Path) -> int:
    before = digest(path)
    result = RUNNER.invoke(CLI, ["graph", str(path)])
    assert_clean_cli(result, path, ok_codes=(0,))
    if result.exit_code == 0:
        graph = json.loads(result.stdout)
        assert {"nodes", "edges"} <= set(graph)
    assert digest(path) == before, "the input file changed"
    return result.exit_code


def check_forecast_library(path: Path) -> None:
    """What deploy and forecast do after a clean load: repairs must leave a template that loads again."""
    before = digest(path)
    try:
        tpl = load_template(path)
        build_graph(tpl)
    except BadInput:
        return
    result = forecast_and_fix(tpl, playbooks=BOOKS, lint=False)
    fixed, findings, plans, rejected = result.template, result.findings, result.plans, result.rejected
    text = fixed.dumps()
    again = loads_template(text, fmt=fixed.fmt, name="repaired")
    assert again.document == fixed.document
    build_graph(again)
    for plan in plans:
        json.dumps(plan.to_json(), default=str)
    for finding in findings:
        json.dumps(finding.to_json(), default=str)
    assert tpl.document == load_template(path).document, "forecast mutated its input"
    assert digest(path) == before, "the input file changed"


@settings(FUZZ, max_examples=250)
@given(case=serialized())
def test_malformed_templates_through_graph_and_forecast(case, fuzz_dir):
    content, suffix = case
    path = write_case(fuzz_dir, content, suffix)
    check_graph_cli(path)
    check_forecast_library(path)


@settings(FUZZ, max_examples=300)
@given(case=serialized(coherent_templates()))
def test_coherent_templates_through_graph_and_forecast(case, fuzz_dir):
    content, suffix = case
    path = write_case(fuzz_dir, content, suffix)
    check_graph_cli(path)
    check_forecast_library(path)


@settings(FUZZ, max_examples=250)
@given(text=yaml_texts)
def test_yaml_anchors_tags_and_odd_keys(text, fuzz_dir):
    path = write_case(fuzz_dir, text, ".yaml")
    check_graph_cli(path)
    check_forecast_library(path)


@settings(FUZZ, max_examples=120)
@given(data=raw_bytes, suffix=st.sampled_from([".yaml", ".json", ".template", ""]))
def test_arbitrary_bytes(data, suffix, fuzz_dir):
    path = write_case(fuzz_dir, data, suffix)
    check_graph_cli(path)
    check_forecast_library(path)


@settings(FUZZ, max_examples=120)
@given(case=st.one_of(serialized(), serialized(coherent_templates()), yaml_texts.map(lambda t: (t, ".yaml"))),
       fmt=st.sampled_from(["text", "json", "sarif"]), fix=st.booleans())
def test_forecast_cli(case, fmt, fix, fuzz_dir):
    content, suffix = case
    path = write_case(fuzz_dir, content, suffix)
    out = path.with_name(path.stem + ".out" + suffix)
    before = digest(path)
    args = ["forecast", str(path), "--format", fmt] + (["--fix", "--out", str(out)] if fix else [])
    result = RUNNER.invoke(CLI, args)
    assert_clean_cli(result, path, ok_codes=(0, 1))
    if result.exit_code in (0, 1) and fmt != "text":
        json.loads(result.stdout)
    if result.exit_code in (0, 1) and fix:
        load_template(out)  # the repaired template loads
    if result.exit_code == 2:
        assert not out.exists(), "nothing is written for bad input"
    assert digest(path) == before, "the input file changed"


CONFIG = load_config()


def check_deploy_entry(path: Path) -> None:
    before = digest(path)
    with pytest.raises(BadInput) as caught:
        # An endpoint URL that open_target rejects: reaching it proves validation passed, and nothing is deployed.
        deploy_with_autofix(path, target="endpoint", endpoint_url="ftp://nowhere", config=CONFIG,
                            write_template=False)
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(str(path)) or "must start with http" in message, message
    assert digest(path) == before, "the input file changed"
    assert not list(path.parent.glob(path.stem + ".fixed*")), "nothing is written before deployment"


@settings(FUZZ, max_examples=100)
@given(case=st.one_of(serialized(), yaml_texts.map(lambda t: (t, ".yaml"))))
def test_deploy_entry_validates_malformed_templates(case, fuzz_dir):
    """deploy_with_autofix checks the template before opening a target: the only other error is the bad URL we pass."""
    content, suffix = case
    check_deploy_entry(write_case(fuzz_dir, content, suffix))


# Coherent templates pass more of the checks made before a target opens (graph, parameters): fewer examples suffice.
@settings(FUZZ, max_examples=60)
@given(case=serialized(coherent_templates()))
def test_deploy_entry_validates_coherent_templates(case, fuzz_dir):
    content, suffix = case
    check_deploy_entry(write_case(fuzz_dir, content, suffix))


# -------------------------------------------------------------------------------------------------
# Hand-picked hostile inputs: bounded time and memory


def laughs(levels: int, width: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\nResources:\n  A:\n    Type: AWS::SNS::Topic\n    Metadata: *l{levels - 1}\n"


HOSTILE = [
    ("billion-laughs-9x9", laughs(9, 9), ".yaml"),
    ("laughs-wide", laughs(4, 60), ".yaml"),
    ("laughs-deep-narrow", laughs(40, 2), ".yaml"),
    ("laughs-in-keys-and-values", "a: &a {" + ", ".join(f"k{i}: [x, x, x, x, x, x, x, x]" for i in range(50)) + "}\n"
     + "b: &b [" + ", ".join(["*a"] * 200) + "]\n" + "c: &c [" + ", ".join(["*b"] * 200) + "]\n" + OK_HEAD
     + "    Metadata: *c\n", ".yaml"),
    ("deep-yaml-flow", OK_HEAD + "    Metadata: " + "[" * 50_000 + "]" * 50_000 + "\n", ".yaml"),
    ("deep-yaml-block", OK_HEAD + "    Metadata:\n" + "".join("  " * (i + 3) + f"k{i}:\n" for i in range(2000))
     + "  " * 2003 + "x\n", ".yaml"),
    ("deep-json-objects", '{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ' + '{"a": ' * 100_000 + "1"
     + "}" * 100_000 + "}}}", ".json"),
    ("huge-string", OK_HEAD + "    Metadata: {Blob: \"" + "x" * 990_000 + "\"}\n", ".yaml"),
    ("many-resources", "Resources:\n" + "".join(f"  R{i}:\n    Type: AWS::SNS::Topic\n    DependsOn: R{i - 1}\n"
                                                  if i else "  R0:\n    Type: AWS::SNS::Topic\n" for i in range(5000)),
     ".yaml"),
    ("long-cycle", "Resources:\n" + "".join(f"  R{i}:\n    Type: AWS::SNS::Topic\n    DependsOn: R{(i + 1) % 3000}\n"
                                             for i in range(3000)), ".yaml"),
    ("many-aliases-of-a-huge-string", "s: &s \"" + "y" * 100_000 + "\"\n" + OK_HEAD + "    Metadata: ["
     + ", ".join(["*s"] * 8) + "]\n", ".yaml"),
    ("sub-with-thousands-of-vars", OK_HEAD + "    Properties: {TopicName: !Sub '" + "${Topic}" * 20_000 + "'}\n",
     ".yaml"),
    ("json-huge-number", '{"Resources": {"A": {"Type": "AWS::SNS::Topic", "Metadata": ' + "9" * 5000 + "}}}", ".json"),
]


# Cases whose danger is amplification get their allocations traced (tracemalloc slows big linear inputs too much).
AMPLIFYING = {"billion-laughs-9x9", "laughs-wide", "laughs-deep-narrow", "laughs-in-keys-and-values",
              "many-aliases-of-a-huge-string", "deep-yaml-flow", "deep-json-objects"}
# CPU seconds one hostile case may burn in its child process (each needs a few on an idle machine). CPU time, not
# wall-clock time, so a loaded machine slows the case down without failing it; a runaway is killed by SIGXCPU.
CPU_BUDGET_S = 120
# Only a child that hangs without burning CPU (a deadlock) meets this; it is a backstop, never a speed verdict.
HANG_BACKSTOP_S = 1800
# The child runs this module's own checks on one case and prints what it measured as JSON.
CHILD = """
import json, resource, sys, tracemalloc
resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[3]), int(sys.argv[3]) + 5))
sys.path.insert(0, sys.argv[4])
import test_fuzz_templates as fuzz
from pathlib import Path
path, traced = Path(sys.argv[1]), sys.argv[2] == "1"
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if traced:
    tracemalloc.start()
code = fuzz.check_graph_cli(path)
fuzz.check_forecast_library(path)
peak = tracemalloc.get_traced_memory()[1] if traced else 0
grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
print(json.dumps({"code": code, "peak": peak, "grown_kb": grown_kb}))
"""


@pytest.mark.parametrize("case_id, content, suffix", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_input_bounded(case_id, content, suffix, fuzz_dir):
    """Each hostile case runs in a child process bounded by CPU time (RLIMIT_CPU), never by a wall clock."""
    path = write_case(fuzz_dir, content, suffix)
    traced = "1" if case_id in AMPLIFYING else "0"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), traced, str(CPU_BUDGET_S), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=HANG_BACKSTOP_S,
    )
    assert child.returncode != -signal.SIGXCPU, f"{case_id} used more than {CPU_BUDGET_S} s of CPU"
    assert child.returncode == 0, child.stderr[-3000:]
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    # The input is at most 1 MB; a ceiling of ~100x shows no amplification (a billion laughs would need gigabytes).
    assert measured["peak"] < 120_000_000, f"{case_id} peaked at {measured['peak'] / 1e6:.0f} MB"
    assert measured["grown_kb"] < 400_000, f"{case_id} grew the process by {measured['grown_kb'] / 1000:.0f} MB"
    assert measured["code"] in (0, 2)


# -------------------------------------------------------------------------------------------------
# Odd but valid templates deploy end to end (the fuzz cases above stop before deployment)

ODD_VALID = sorted((Path(__file__).parent / "fixtures" / "reliability").glob("odd-*"))


@pytest.mark.slow
@pytest.mark.parametrize("path", ODD_VALID, ids=[p.name for p in ODD_VALID])
def test_odd_but_valid_templates_deploy_green(path, tmp_path):
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    before = digest(copy)
    result = deploy_with_autofix(copy, report_json=tmp_path / "report.json")
    assert result.status == "succeeded", result.report.get("stop_reason")
    assert result.deployments == 1
    assert result.repaired_template is None, "nothing needed repair, so nothing is written"
    assert digest(copy) == before
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "succeeded"

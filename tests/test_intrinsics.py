"""The one intrinsic-function evaluator: pure functions, conditions with CloudFormation's coercions, AWS texts."""

from __future__ import annotations

import base64

import pytest

from orchestrator.template.intrinsics import NO_VALUE, Resolver, TemplateError, cidr


class Source:
    """A deployment's values (strict): names from a dict, attributes spelled out."""

    def __init__(self, values: dict | None = None):
        self.values = {"AWS::Region": "eu-west-1", **(values or {})}

    def ref(self, name):
        if name not in self.values:
            raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}]")
        return self.values[name]

    pseudo = parameter = unknown = lambda self, name, *rest: self.ref(name)

    def physical_id(self, lid, resource, resolver):
        return self.ref(lid)

    def getatt(self, logical_id, resource, attribute, resolver):
        return f"{logical_id}.{attribute}"

    def import_value(self, name):
        return f"imported:{name}"

    def azs(self, region):
        return [f"{region or 'eu-west-1'}{s}" for s in "abc"]


DOC = {
    "Resources": {"Res": {"Type": "AWS::SNS::Topic"}},
    "Mappings": {"Env": {"prod": {"Size": "large"}}},
    "Conditions": {
        "TwoNodes": {"Fn::Equals": [{"Ref": "Count"}, "2"]},
        "Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "ProdAndTwo": {"Fn::And": [{"Condition": "Prod"}, {"Condition": "TwoNodes"}]},
        "NotProd": {"Fn::Not": [{"Condition": "Prod"}]},
    },
}


def evaluator(**values) -> Resolver:
    return Resolver(DOC, Source({"Count": 2, "Env": "prod", **values}), strict=True)


def test_a_number_default_equals_its_text():
    ev = evaluator()
    assert ev.condition("TwoNodes") and ev.condition("ProdAndTwo") and not ev.condition("NotProd")


def test_novalue_is_removed_from_lists_and_keys():
    ev = evaluator()
    node = {"Groups": ["sg-1", {"Fn::If": ["NotProd", "sg-2", {"Ref": "AWS::NoValue"}]}],
            "Key": {"Fn::If": ["NotProd", "x", {"Ref": "AWS::NoValue"}]}, "Kept": 1}
    assert ev.evaluate(node) == {"Groups": ["sg-1"], "Kept": 1}
    assert ev.evaluate({"Ref": "AWS::NoValue"}) is NO_VALUE


@pytest.mark.parametrize(("node", "expected"), [
    ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}, "a-prod-3"),
    ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
    ({"Fn::Sub": "${AWS::Region}-${Env}-${Res.Arn}-${!Literal}"}, "eu-west-1-prod-Res.Arn-${Literal}"),
    ({"Fn::Sub": ["${A}/${Env}", {"A": "x"}]}, "x/prod"),
    ({"Fn::FindInMap": ["Env", {"Ref": "Env"}, "Size"]}, "large"),
    ({"Fn::FindInMap": ["Env", "dev", "Size", {"DefaultValue": "small"}]}, "small"),
    ({"Fn::Length": [1, 2, 3]}, 3),
    ({"Fn::ToJsonString": {"a": [1, "b"]}}, '{"a":[1,"b"]}'),
    ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ({"Fn::ImportValue": {"Fn::Sub": "${Env}-vpc"}}, "imported:prod-vpc"),
    ({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
    ({"Fn::Base64": "hi"}, base64.b64encode(b"hi").decode()),
])
def test_functions(node, expected):
    assert evaluator().resolve(node) == expected


@pytest.mark.parametrize(("node", "text"), [
    ({"Fn::Select": [5, ["a"]]}, "Template error: Fn::Select cannot select nonexistent value at index 5"),
    ({"Fn::FindInMap": ["Env", "dev", "Size"]}, "Template error: Unable to get mapping for Env::dev::Size"),
    ({"Fn::Join": [",", [["nested"]]]}, "Template error: every Fn::Join object requires two parameters"),
    ({"Ref": "Nope"}, "Template format error: Unresolved resource dependencies [Nope]"),
])
def test_errors_carry_aws_texts(node, text):
    with pytest.raises(TemplateError) as caught:
        evaluator().resolve(node)
    assert str(caught.value).startswith(text)


def test_cidr_ipv6_and_overflow():
    assert cidr("2001:db8::/56", 2, 64) == ["2001:db8::/64", "2001:db8:0:1::/64"]
    with pytest.raises(TemplateError):
        cidr("10.0.0.0/24", 3, 8)


def test_condition_cycles_are_rejected():
    ev = Resolver({"Conditions": {"A": {"Condition": "B"}, "B": {"Fn::Not": [{"Condition": "A"}]}}}, Source(), strict=True)
    with pytest.raises(TemplateError, match="circular"):
        ev.condition("A")

"""A CLOUDFRONT-scoped WAF resource is forecast as failing outside us-east-1, and a deploy there stops before
its first deployment; the real refusals (tests/corpora/failures, invalid-property-013..016) get this playbook."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.forecast.run import forecast
from orchestrator.template import loads_template

TEMPLATE = """
Parameters:
  Scope: {Type: String, Default: CLOUDFRONT, AllowedValues: [CLOUDFRONT, REGIONAL]}
  Unset: {Type: String}
  Protect: {Type: String, Default: "yes"}
Conditions:
  Protecting: !Equals [!Ref Protect, "yes"]
Resources:
  Acl:
    Type: AWS::WAFv2::WebACL
    Properties:
      Scope: CLOUDFRONT
      DefaultAction: {Allow: {}}
      VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: acl}
  Blocked:
    Type: AWS::WAFv2::IPSet
    Properties: {Scope: !Ref Scope, IPAddressVersion: IPV4, Addresses: []}
  Patterns:
    Type: AWS::WAFv2::RegexPatternSet
    Properties: {Scope: !Ref Unset, RegularExpressionList: ["^/admin"]}
  Regional:
    Type: AWS::WAFv2::RuleGroup
    Properties: {Scope: REGIONAL, Capacity: 10, VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: rg}}
  Guarded:
    Type: AWS::WAFv2::IPSet
    Condition: Protecting
    Properties: {Scope: CLOUDFRONT, IPAddressVersion: IPV6, Addresses: []}
"""


def findings(region: str, parameters: dict | None = None) -> dict[str, object]:
    template = loads_template(textwrap.dedent(TEMPLATE), fmt="yaml", name="waf.yaml")
    return {f.logical_id: f for f in forecast(template, region=region, parameters=parameters or {})
            if f.playbook == "wafv2-cloudfront-scope"}


def test_cloudfront_scope_outside_us_east_1_is_an_error_that_is_not_repaired() -> None:
    found = findings("eu-west-3")
    # Unset has no value before the deploy: no claim on Patterns; Regional is REGIONAL.
    assert sorted(found) == ["Acl", "Blocked", "Guarded"]
    acl = found["Acl"]
    assert (acl.severity, acl.fixable, acl.line) == ("error", False, 12)  # the Scope line
    assert "Scope CLOUDFRONT is served only in us-east-1, and this stack deploys to eu-west-3" in acl.message


@pytest.mark.parametrize(("region", "parameters", "expected"), [
    ("us-east-1", {}, []),
    ("eu-west-3", {"Scope": "REGIONAL", "Protect": "no"}, ["Acl"]),
    ("eu-west-3", {"Unset": "CLOUDFRONT"}, ["Acl", "Blocked", "Guarded", "Patterns"]),
])
def test_parameters_conditions_and_region_decide(region: str, parameters: dict, expected: list[str]) -> None:
    assert sorted(findings(region, parameters)) == expected

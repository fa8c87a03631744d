"""Forecast detectors of issue 13: each finds its class, and correct templates give no finding at all."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from orchestrator import detectors
from orchestrator.detectors import DetectorContext
from orchestrator.detectors.lambda_runtime import LambdaRuntimeDeprecated
from orchestrator.forecast.run import forecast, forecast_and_fix
from orchestrator.template import load_template, loads_template
from orchestrator.template.graph import build_graph

FIXTURES = Path(__file__).parent / "fixtures"
NEW = ("lambda_runtime_deprecated", "name_rules", "policy_version_missing", "zone_not_in_region")
# Templates that deploy green (the sandbox e2e and forecast suites use them as correct inputs).
CORRECT = sorted(
    [*FIXTURES.glob("forecast/good-*"), *FIXTURES.glob("templates/*"), FIXTURES / "deploy" / "correct.yaml",
     FIXTURES / "deploy" / "igw-route.yaml", FIXTURES / "deploy" / "required-param.yaml"]
)


def ctx_of(template, region: str = "us-east-1") -> DetectorContext:
    return DetectorContext(template=template, graph=build_graph(template), region=region)


def run(detector: str, text: str, region: str = "us-east-1"):
    return detectors.get(detector)(ctx_of(loads_template(text, fmt="yaml"), region))


@pytest.mark.parametrize("path", CORRECT, ids=[p.name for p in CORRECT])
@pytest.mark.parametrize("detector", NEW)
def test_correct_templates_give_no_finding(detector, path):
    assert detectors.get(detector)(ctx_of(load_template(path))) == []


def test_every_new_detector_is_registered_with_description_and_source():
    for name in NEW:
        detector = detectors.get(name)
        assert detector.description and detector.source_url.startswith("https://docs.aws.amazon.com/")


FUNCTION = """
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties: {{Runtime: {runtime}, Handler: index.handler, Role: arn:aws:iam::123456789012:role/r, Code: {{ZipFile: x}}}}
"""


@pytest.mark.parametrize(
    "runtime, severity, fixable",
    [("nodejs12.x", "error", True), ("python3.9", "warning", False), ("go1.x", "error", False),
     ("python3.12", None, None), ("nodejs22.x", None, None)],
)
def test_lambda_runtime_by_the_lifecycle_dates(runtime, severity, fixable):
    detector = LambdaRuntimeDeprecated(today=date(2026, 12, 1))
    found = detector(ctx_of(loads_template(FUNCTION.format(runtime=runtime), fmt="yaml")))
    if severity is None:
        assert found == []
    else:
        (finding,) = found
        assert (finding.playbook, finding.severity, finding.fixable) == ("lambda-runtime-deprecated", severity, fixable)
        assert finding.line == 5  # the Properties line (the text starts with a newline)


def test_name_rules_length_characters_and_stack_name_bound():
    text = """
Resources:
  LongRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "${AWS::StackName}-an-exceptionally-long-role-name-for-the-ingest-pipeline"
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
  BadBucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: My_Bucket}
  FineQueue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: orders}
  ParamName:
    Type: AWS::Events::Rule
    Properties: {Name: !Ref AWS::NoValue, ScheduleExpression: rate(1 day)}
"""
    found = {f.logical_id: f for f in run("name_rules", text)}
    assert set(found) == {"LongRole", "BadBucket"}
    assert "over the limit of 64" in found["LongRole"].message
    assert "does not match the pattern" in found["BadBucket"].message


def test_policy_version_flags_only_the_managed_policy_iam_refuses():
    # The trust policy and the inline policy without Version are accepted by IAM (read as 2008-10-17).
    found = run("policy_version_missing", (FIXTURES / "repairs" / "policy_version.yaml").read_text())
    assert [(f.logical_id, f.details["pointer"], f.details["kind"], f.severity, f.fixable) for f in found] == [
        ("Readers", "PolicyDocument", "managed-policy-language", "error", True),
    ]


POLICY_LANGUAGE = """
Resources:
  Bucket: {Type: AWS::S3::Bucket}
  Plain:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: no-version-no-variables
          PolicyDocument:
            Statement: [{Effect: Allow, Action: s3:GetObject, Resource: !Sub "arn:aws:s3:::${Bucket}/*"}]
  HomeFolders:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: home
      Groups: [staff]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: s3:*
            Resource: !Sub "arn:aws:s3:::${Bucket}/home/${!aws:username}/*"
  OldLanguageManaged:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2008-10-17"
        Statement: [{Effect: Allow, Action: s3:ListBucket, Resource: "*"}]
  TypoPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: "2012-10-18"
        Statement: [{Effect: Deny, Principal: "*", Action: s3:*, Resource: "*"}]
  NoVersionBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Statement: [{Effect: Deny, Principal: "*", Action: s3:*, Resource: "*"}]
"""


def test_policy_version_reports_what_fails_or_changes_meaning_and_nothing_else():
    found = {f.logical_id: f for f in run("policy_version_missing", POLICY_LANGUAGE)}
    # Plain (no Version, no variables) and NoVersionBucketPolicy are created as written: no finding.
    assert sorted(found) == ["HomeFolders", "OldLanguageManaged", "TypoPolicy"]
    home = found["HomeFolders"]
    # ${Bucket} is CloudFormation's own substitution; ${!aws:username} reaches IAM as a policy variable.
    assert (home.severity, home.fixable, home.details["variables"]) == ("warning", False, ["${aws:username}"])
    assert "read as literal text" in home.message
    assert (found["OldLanguageManaged"].severity, found["OldLanguageManaged"].fixable) == ("error", True)
    typo = found["TypoPolicy"]
    assert (typo.details["kind"], typo.severity, typo.fixable) == ("invalid-version", "error", False)


def test_policy_version_repair_sets_only_managed_policies():
    template = loads_template(POLICY_LANGUAGE, fmt="yaml")
    result = forecast_and_fix(template)
    fixed = result.template.resources
    assert fixed["OldLanguageManaged"]["Properties"]["PolicyDocument"]["Version"] == "2012-10-17"
    assert "Version" not in fixed["HomeFolders"]["Properties"]["PolicyDocument"]
    assert fixed["TypoPolicy"]["Properties"]["PolicyDocument"]["Version"] == "2012-10-18"


def test_zone_detector_knows_each_regions_zones():
    text = """
Resources:
  A: {Type: AWS::EC2::Subnet, Properties: {VpcId: vpc-1, CidrBlock: 10.0.0.0/24, AvailabilityZone: eu-west-1c}}
  B: {Type: AWS::EC2::Subnet, Properties: {VpcId: vpc-1, CidrBlock: 10.0.1.0/24, AvailabilityZone: !Select [0, !GetAZs ""]}}
"""
    assert run("zone_not_in_region", text, "eu-west-1") == []
    (finding,) = run("zone_not_in_region", text, "eu-central-1")
    assert finding.logical_id == "A" and finding.details["bad_zone"] == "eu-west-1c"


@pytest.mark.parametrize("name", ["lambda-runtime.yaml", "policy-version.yaml", "name-invalid.yaml",
                                  "availability-zone.yaml", "managed-policy-renamed.yaml"])
def test_forecast_and_fix_leaves_nothing_to_find(name):
    template = load_template(FIXTURES / "e2e" / name)
    assert forecast(template)
    result = forecast_and_fix(template)
    assert result.plans and not result.rejected
    assert [f for f in forecast(result.template) if f.severity == "error"] == []

"""Golden tests of the issue-13 repairs: expected template, input untouched, and an idempotent re-run."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.model import Failure
from orchestrator.template import apply_patch, load_template
from orchestrator.template.graph import build_graph

FIXTURES = Path(__file__).parent / "fixtures" / "repairs"
TODAY = "2026-12-01"  # the lifecycle date the golden files were made for


@dataclass
class Case:
    name: str
    repair: str
    source: str
    expected: str
    failures: list[Failure]
    params: dict = field(default_factory=dict)


def failure(logical_id: str, rtype: str, reason: str, playbook: str, **details) -> Failure:
    return Failure(logical_id, rtype, reason, playbook=playbook, details=details)


CASES = [
    Case("policy version", "policy-version", "policy_version.yaml", "policy_version.expected.yaml",
         [failure("Readers", "AWS::IAM::ManagedPolicy", "Policy document must be version 2012-10-17 or greater.",
                  "policy-version-missing")]),
    Case("lambda runtime", "lambda-runtime", "lambda_runtime.yaml", "lambda_runtime.expected.yaml",
         [failure("NodeFunction", "AWS::Lambda::Function", "The runtime parameter of nodejs12.x is no longer "
                  "supported for creating or updating AWS Lambda functions.", "lambda-runtime-deprecated",
                  runtime="nodejs12.x")], {"today": TODAY}),
    Case("names", "name-invalid", "names.yaml", "names.expected.yaml",
         [failure("IngestRole", "AWS::IAM::Role", "1 validation error detected: Value 'x' at 'roleName' failed to "
                  "satisfy constraint: Member must have length less than or equal to 64", "name-invalid")]),
    Case("availability zone", "availability-zone", "availability_zone.yaml", "availability_zone.expected.yaml",
         [failure("SubnetA", "AWS::EC2::Subnet", "Value (us-east-1z) for parameter availabilityZone is invalid. "
                  "Subnets can currently only be created in the following availability zones: us-east-1c, "
                  "us-east-1d.", "capacity-unavailable-zone", bad_zone="us-east-1z")]),
    Case("name exists", "name-already-exists", "name_exists.yaml", "name_exists.expected.yaml",
         [failure("AppLogGroup", "AWS::Logs::LogGroup", "Resource of type 'AWS::Logs::LogGroup' with identifier "
                  "'{\"/properties/LogGroupName\":\"/app/production/api\"}' already exists.", "name-already-exists",
                  identifier="/app/production/api")]),
    Case("names derived from a stack name", "name-invalid", "names_derived.yaml", "names_derived.expected.yaml",
         [failure("DefaultTargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup", "Target group name "
                  "'cfn-autofix-master-72d7d0-default' cannot be longer than '32' characters", "name-invalid"),
          failure("ServiceRole", "AWS::IAM::Role", "1 validation error detected: Value 'ecs-service-cfn-autofix-"
                  "master-72d7d0-ProductService-15B2C624298D' at 'roleName' failed to satisfy constraint: Member "
                  "must have length less than or equal to 64", "name-invalid"),
          failure("TaskRole", "AWS::IAM::Role", "1 validation error detected: Value 'ecs-task-x' at 'roleName' "
                  "failed to satisfy constraint: Member must have length less than or equal to 64", "name-invalid")]),
]


def run_case(case: Case, template=None):
    template = template or load_template(FIXTURES / case.source)
    plan = repairs.REGISTRY.get(case.repair).plan(template, build_graph(template), case.failures,
                                                  {"region": "us-east-1", **case.params})
    return plan, apply_patch(template, plan.operations)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_repaired_template_matches_golden_and_rerun_changes_nothing(case):
    template = load_template(FIXTURES / case.source)
    before = copy.deepcopy(template.document)
    plan, repaired = run_case(case, template)
    assert template.document == before
    assert plan.operations and plan.rationale
    assert repaired.document == load_template(FIXTURES / case.expected).document
    build_graph(repaired)
    again, _ = run_case(case, repaired)
    assert again.operations == []


def test_policy_version_leaves_documents_with_version_and_json_text_alone():
    plan, repaired = run_case(CASES[0])
    res = repaired.resources
    # Only the managed policy: IAM accepts trust and inline documents without Version (read as 2008-10-17).
    assert plan.resources == ["Readers"]
    assert res["Worker"]["Properties"]["Policies"][0]["PolicyDocument"]["Version"] == "2012-10-17"
    assert "Version" not in res["Worker"]["Properties"]["AssumeRolePolicyDocument"]
    assert "Version" not in res["Worker"]["Properties"]["Policies"][1]["PolicyDocument"]
    assert isinstance(res["BucketPolicy"]["Properties"]["PolicyDocument"], str)


def test_lambda_runtime_same_family_and_go_refused():
    plan, repaired = run_case(CASES[1])
    res = repaired.resources
    assert res["NodeFunction"]["Properties"]["Runtime"] == "nodejs22.x"
    assert res["PythonFunction"]["Properties"]["Runtime"] == "python3.11"
    assert res["GoFunction"]["Properties"]["Runtime"] == "go1.x"
    assert res["CurrentFunction"]["Properties"]["Runtime"] == "python3.12"
    assert any("GoFunction: refused" in note for note in plan.notes)
    assert "oldest runtime of the same family (nodejs)" in plan.rationale


def test_names_dropped_unless_referred_to_by_literal():
    plan, repaired = run_case(CASES[2])
    res = repaired.resources
    assert "RoleName" not in res["IngestRole"]["Properties"]
    short = res["IngestFunction"]["Properties"]["FunctionName"]
    assert len(short) <= 64 and short.startswith("ingest-pipeline-production")
    assert res["Schedule"]["Properties"]["Name"] == "ingest-nightly"


def test_zone_moves_everything_pinned_to_the_refused_zone_to_an_offered_one():
    plan, repaired = run_case(CASES[3])
    res = repaired.resources
    assert res["SubnetA"]["Properties"]["AvailabilityZone"] == "us-east-1c"
    assert res["DataVolume"]["Properties"]["AvailabilityZone"] == "us-east-1c"
    assert res["SubnetB"]["Properties"]["AvailabilityZone"] == "us-east-1b"


def test_iam_eventual_consistency_adds_the_missing_order_else_retries():
    template = load_template(Path(__file__).parent / "fixtures" / "e2e" / "iam-eventual-consistency.yaml")
    repair = repairs.REGISTRY.get("iam-eventual-consistency")
    lost = failure("AppFunction", "AWS::Lambda::Function", "The role defined for the function cannot be assumed "
                   "by Lambda.", "iam-eventual-consistency")
    plan = repair.plan(template, build_graph(template), [lost], {})
    repaired = apply_patch(template, plan.operations)
    assert repaired.resources["AppFunction"]["DependsOn"] == "FunctionPolicy"
    again = repair.plan(repaired, build_graph(repaired), [lost], {})
    assert again.operations == [] and "deployed again after a backoff" in again.rationale
    assert repair.retries is True


def test_every_issue13_repair_declares_id_description_and_source():
    for repair_id in ("policy-version", "lambda-runtime", "name-invalid", "name-already-exists",
                      "availability-zone", "iam-eventual-consistency", "needs-human"):
        repair = repairs.REGISTRY.get(repair_id)
        assert repair.description and repair.source_url.startswith("https://docs.aws.amazon.com/")


def test_a_name_built_by_an_intrinsic_and_referred_to_elsewhere_is_refused_not_dropped():
    case = next(c for c in CASES if c.name == "names derived from a stack name")
    plan, _ = run_case(case)
    # The inline PolicyName built like the role's name is not a reference; the output and the PassRole ARN are.
    assert plan.resources == ["DefaultTargetGroup", "ServiceRole"]
    assert any(n.startswith("TaskRole: refused") for n in plan.notes)

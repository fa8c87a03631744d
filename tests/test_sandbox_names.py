"""Physical names the sandbox generates follow CloudFormation's form and each service's limits."""

import re

import pytest

from orchestrator.sandbox.names import name_property, physical_name

LONG_STACK = "Probe-Stack-With-A-Long-Name-From-A-File-Stem-x1y2z3"


@pytest.mark.parametrize(
    ("resource_type", "logical_id", "max_length", "pattern"),
    [
        ("AWS::S3::Bucket", "MyBucket", 63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]"),
        ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupForWeb", 32, r"[A-Za-z0-9-]+"),
        ("AWS::ECR::Repository", "Repo", 256, r"[a-z0-9-]+"),
        ("AWS::RDS::DBInstance", "Database", 63, r"[a-z](-?[a-z0-9])*"),
        ("AWS::IAM::Role", "LambdaExecutionRole", 64, r"[\w+=,.@-]+"),
    ],
)
def test_generated_names_fit_the_service(resource_type, logical_id, max_length, pattern):
    name = physical_name(resource_type, LONG_STACK, logical_id)
    assert len(name) <= max_length
    assert re.fullmatch(pattern, name), name
    assert re.search(r"-[A-Za-z0-9]{12}$", name) and "--" not in name


def test_short_names_keep_cloudformations_form_and_are_reproducible():
    name = physical_name("AWS::SQS::Queue", "app", "Jobs", seed="s1")
    assert re.fullmatch(r"app-Jobs-[A-Z0-9]{12}", name)
    assert name == physical_name("AWS::SQS::Queue", "app", "Jobs", seed="s1")
    assert name != physical_name("AWS::SQS::Queue", "app", "Jobs", seed="s2")


def test_name_property_comes_from_moto_or_the_schema():
    assert name_property("AWS::S3::Bucket") == "BucketName"
    assert name_property("AWS::ECR::Repository") == "RepositoryName"
    assert name_property("AWS::EC2::VPC") is None

"""A bucket policy naming its bucket by literal name races the bucket's creation: decided by the simulated clock
(state at the policy's start), not by the absence of a Ref; aws-cloudformation-templates S3/compliant-bucket.yaml."""

from __future__ import annotations

import json

from orchestrator.aws.targets import sandbox_client
from orchestrator.sandbox import SandboxConfig

NAME = {"Fn::Sub": "corpusapp-${AWS::Region}-${AWS::AccountId}"}
POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
    "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::corpusapp-${AWS::Region}-${AWS::AccountId}/*"}],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def resources(**policy_extra) -> dict:
    return {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": NAME}},
        "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": NAME, "PolicyDocument": POLICY},
                         **policy_extra},
    }


def deploy(box, body: dict, name: str = "bucket") -> tuple[str, dict[str, str]]:
    cf = sandbox_client(box, "cloudformation")
    cf.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": body}), DisableRollback=True,
                    Capabilities=["CAPABILITY_IAM"])
    status = cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
              if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] != name}
    return status, failed


def test_a_policy_starting_with_its_bucket_finds_no_bucket(sandbox):
    status, failed = deploy(sandbox, resources())
    assert status == "CREATE_FAILED"
    # S3's legacy handler form: "<message> (Service: Amazon S3; Status Code: 404; Error Code: NoSuchBucket; ...)".
    assert failed["BucketPolicy"].startswith("The specified bucket does not exist (Service: Amazon S3; Status Code: "
                                             "404; Error Code: NoSuchBucket; Request ID: ")
    assert failed.get("Bucket") == "Resource creation cancelled"


def test_depends_on_orders_the_policy_after_the_bucket(sandbox):
    status, failed = deploy(sandbox, resources(DependsOn="Bucket"))
    assert (status, failed) == ("CREATE_COMPLETE", {})
    policy = sandbox_client(sandbox, "s3").get_bucket_policy(Bucket=f"corpusapp-us-east-1-{sandbox.account_id}")
    assert "aws:SecureTransport" in policy["Policy"]


def test_a_policy_that_starts_after_the_bucket_completed_wins_without_any_path_to_it(sandbox):
    # The policy waits for an instance profile (about 135 simulated seconds), the bucket takes about 22: no
    # Ref or DependsOn joins them, yet the bucket exists when the policy starts, as it would on AWS.
    body = resources(DependsOn="Profile")
    body["Role"] = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}}}
    body["Profile"] = {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}}
    status, failed = deploy(sandbox, body)
    assert (status, failed) == ("CREATE_COMPLETE", {})


def test_the_race_can_be_won(sandbox_factory):
    box = sandbox_factory(config=SandboxConfig(race_probability=0.0))
    status, failed = deploy(box, resources())
    assert (status, failed) == ("CREATE_COMPLETE", {})


def test_a_policy_on_a_bucket_that_does_not_exist_gets_s3s_answer(sandbox):
    status, failed = deploy(sandbox, {"BucketPolicy": resources()["BucketPolicy"]})
    assert status == "CREATE_FAILED"
    assert failed["BucketPolicy"].startswith("The specified bucket does not exist (Service: Amazon S3; Status Code: 404")


def test_a_policy_on_a_bucket_of_another_stack_that_exists_succeeds(sandbox):
    assert deploy(sandbox, {"Bucket": resources()["Bucket"]}, name="owner")[0] == "CREATE_COMPLETE"
    status, failed = deploy(sandbox, {"BucketPolicy": resources()["BucketPolicy"]}, name="policy")
    assert (status, failed) == ("CREATE_COMPLETE", {})

"""The sandbox builds what AWS builds from real-world property forms, and says so when it cannot."""

from __future__ import annotations

import json

import pytest

from orchestrator.aws.targets import sandbox_client
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.model import SANDBOX_LIMITATION_MARKER, FailureKind, StackEvent

STATEMENT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def deploy(sandbox, resources: dict, outputs: dict | None = None, name: str = "fid") -> dict:
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Resources": resources, **({"Outputs": outputs} if outputs else {})}
    cf.create_stack(StackName=name, TemplateBody=json.dumps(body), DisableRollback=True,
                    Capabilities=["CAPABILITY_NAMED_IAM"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    return {"stack": stack, "failed": {e["LogicalResourceId"]: e.get("ResourceStatusReason") for e in events
                                       if e["ResourceStatus"] == "CREATE_FAILED"}}


def test_kms_key_with_tags_is_a_real_key(sandbox):
    result = deploy(sandbox, {"Key": {"Type": "AWS::KMS::Key", "Properties": {
        "Tags": [{"Key": "team", "Value": "web"}]}}}, {"K": {"Value": {"Ref": "Key"}}})
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    key_id = result["stack"]["Outputs"][0]["OutputValue"]
    kms = sandbox_client(sandbox, "kms")
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "web"}]
    assert sandbox.fidelity("fid")["modeled"] == ["Key"]


def test_ssm_parameter_without_a_name_gets_the_generated_one(sandbox):
    """CloudFormation names an unnamed AWS::SSM::Parameter itself; moto's model needs the name given."""
    result = deploy(sandbox, {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}}},
                    {"N": {"Value": {"Ref": "P"}}})
    assert result["failed"] == {}
    name = {o["OutputKey"]: o["OutputValue"] for o in result["stack"]["Outputs"]}["N"]
    assert "-P-" in name
    assert sandbox_client(sandbox, "ssm").get_parameter(Name=name)["Parameter"]["Value"] == "v"


def test_inline_policies_without_version_are_accepted_as_iam_does(sandbox):
    result = deploy(sandbox, {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": TRUST,
            "Policies": [{"PolicyName": "inline", "PolicyDocument": {"Statement": [STATEMENT]}}]}},
        "Pol": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "separate", "Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": [STATEMENT]}}},
    })
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]


def test_security_group_rule_without_ports_means_all_ports(sandbox):
    result = deploy(sandbox, {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "d", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupIngress": [{"IpProtocol": "-1", "CidrIp": "10.0.0.0/8"}]}},
        "Self": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Ref": "Sg"}, "IpProtocol": "-1", "SourceSecurityGroupId": {"Ref": "Sg"}}},
    }, {"Sg": {"Value": {"Ref": "Sg"}}})
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    group_id = result["stack"]["Outputs"][0]["OutputValue"]
    group = sandbox_client(sandbox, "ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert {p["IpProtocol"] for p in group["IpPermissions"]} == {"-1"}


def test_rds_engine_is_case_insensitive(sandbox):
    result = deploy(sandbox, {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
        "Engine": "MySQL", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20",
        "MasterUsername": "admin", "MasterUserPassword": "correct-horse-9"}}}, name="Web-Tier-Stack")
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    instance = sandbox_client(sandbox, "rds").describe_db_instances()["DBInstances"][0]
    assert instance["Engine"] == "mysql" and instance["DBInstanceIdentifier"].startswith("web-tier-stack-db-")


def test_iam_group_egress_only_gateway_alarm_and_bucket_policy_are_real(sandbox):
    result = deploy(sandbox, {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Eigw": {"Type": "AWS::EC2::EgressOnlyInternetGateway", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Group": {"Type": "AWS::IAM::Group", "Properties": {
            "Policies": [{"PolicyName": "read", "PolicyDocument": {"Statement": [STATEMENT]}}]}},
        "User": {"Type": "AWS::IAM::User"},
        "Membership": {"Type": "AWS::IAM::UserToGroupAddition", "Properties": {
            "GroupName": {"Ref": "Group"}, "Users": [{"Ref": "User"}]}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"}},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": {"Fn::Sub": "arn:aws:s3:::${Bucket}/*"},
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
    }, {"Eigw": {"Value": {"Ref": "Eigw"}}, "Group": {"Value": {"Fn::GetAtt": ["Group", "Arn"]}},
        "Bucket": {"Value": {"Ref": "Bucket"}}})
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in result["stack"]["Outputs"]}
    ec2, iam = sandbox_client(sandbox, "ec2"), sandbox_client(sandbox, "iam")
    assert ec2.describe_egress_only_internet_gateways(EgressOnlyInternetGatewayIds=[outputs["Eigw"]])
    group_name = outputs["Group"].rsplit("/", 1)[-1]
    assert len(iam.get_group(GroupName=group_name)["Users"]) == 1
    assert iam.list_group_policies(GroupName=group_name)["PolicyNames"] == ["read"]
    assert len(sandbox_client(sandbox, "cloudwatch").describe_alarms()["MetricAlarms"]) == 1
    assert "SecureTransport" in sandbox_client(sandbox, "s3").get_bucket_policy(Bucket=outputs["Bucket"])["Policy"]
    fidelity = sandbox.fidelity("fid")
    assert fidelity["stand_in"] == [] and len(fidelity["modeled"]) == 8


def test_a_moto_model_that_raises_is_a_counted_sandbox_limitation(sandbox, monkeypatch):
    from moto.sqs.models import Queue

    def broken(*args, **kwargs):
        raise KeyError("SomethingMotoExpects")

    monkeypatch.setattr(Queue, "create_from_cloudformation_json", classmethod(broken))
    result = deploy(sandbox, {"Queue": {"Type": "AWS::SQS::Queue"},
                              "Topic": {"Type": "AWS::SNS::Topic"}})
    reason = result["failed"]["Queue"]
    assert reason.startswith(SANDBOX_LIMITATION_MARKER) and "AWS::SQS::Queue" in reason
    fidelity = sandbox.fidelity("fid")
    assert [item["logical_id"] for item in fidelity["sandbox_limitations"]] == ["Queue"]
    assert "Queue" not in fidelity["stand_in"] + fidelity["modeled"]
    events = [StackEvent(event_id="1", stack_name="fid", logical_id="Queue", resource_type="AWS::SQS::Queue",
                         status="CREATE_FAILED", reason=reason)]
    assert [f.playbook for f in diagnose(events)] == [FailureKind.SANDBOX_LIMITATION.value]


def test_conditions_skip_resources_and_the_report_names_them(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"},
                          "Skipped": {"Type": "AWS::SNS::Topic", "Condition": "Never"},
                          "App": {"Type": "AWS::Cognito::UserPool"}}}
    cf.create_stack(StackName="cond", TemplateBody=json.dumps(body))
    assert sandbox.fidelity("cond") == {"modeled": ["Topic"], "stand_in": ["App"], "skipped_by_condition": ["Skipped"],
                                        "sandbox_limitations": []}


def test_an_output_that_cannot_be_computed_fails_the_stack_not_the_api(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"Imported": {"Value": {"Fn::ImportValue": "nobody-exports-this"}}}}
    cf.create_stack(StackName="outs", TemplateBody=json.dumps(body))
    stack = cf.describe_stacks(StackName="outs")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and "Outputs" not in stack
    reasons = [e.get("ResourceStatusReason") or "" for e in cf.describe_stack_events(StackName="outs")["StackEvents"]
               if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"]
    assert reasons and reasons[0].startswith("No export named nobody-exports-this found.")


def test_exports_are_frozen_when_the_stack_completes(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"Arn": {"Value": {"Ref": "Topic"}, "Export": {"Name": "topic-arn"}}}}
    cf.create_stack(StackName="exp", TemplateBody=json.dumps(body))
    consumer = {"Resources": {"Sub": {"Type": "AWS::SNS::Subscription", "Properties": {
        "TopicArn": {"Fn::ImportValue": "topic-arn"}, "Protocol": "email", "Endpoint": "a@example.com"}}}}
    cf.create_stack(StackName="imp", TemplateBody=json.dumps(consumer))
    assert cf.describe_stacks(StackName="imp")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert cf.list_exports()["Exports"][0]["Name"] == "topic-arn"


def test_yaml_dates_stay_strings_as_cloudformation_reads_them(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Principal: {Service: !Sub "lambda.${AWS::URLSuffix}"}
            Action: sts:AssumeRole
"""
    cf.create_stack(StackName="dates", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    stack = cf.describe_stacks(StackName="dates")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "Version: 2012-10-17" in cf.get_template(StackName="dates")["TemplateBody"]


def test_text_that_is_not_a_template_is_a_validation_error(sandbox):
    from botocore.exceptions import ClientError

    cf = sandbox_client(sandbox, "cloudformation")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="bad", TemplateBody="Resources: [unclosed")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Message"].startswith("Template format error:")


def _network(route_depends_on: str | None) -> dict:
    route = {"Type": "AWS::EC2::Route", "Properties": {
        "RouteTableId": {"Ref": "Rt"}, "GatewayId": {"Ref": "Igw"}, "DestinationCidrBlock": "0.0.0.0/0"}}
    if route_depends_on:
        route["DependsOn"] = route_depends_on
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Igw": {"Type": "AWS::EC2::InternetGateway"},
        "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}}},
        "Private": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
        # 35 simulated seconds in a private subnet: needs no gateway, and ends long after the attachment.
        "Worker": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-12c6146b", "SubnetId": {"Ref": "Private"}}},
        "Rt": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Route": route,
    }


@pytest.mark.parametrize(("case", "depends_on", "green"), [
    ("no path: the route starts before the attachment completes", None, False),
    ("another path that completes after the attachment", "Worker", True),
    ("the documented DependsOn", "Attach", True),
])
def test_a_race_is_lost_only_when_the_attachment_is_not_complete(sandbox, case, depends_on, green):
    result = deploy(sandbox, _network(depends_on))
    assert (result["stack"]["StackStatus"] == "CREATE_COMPLETE") is green, result["failed"]
    if not green:
        assert "belong to different networks" in result["failed"]["Route"]


def test_sns_subscriptions_topic_and_queue_policies_are_real(sandbox):
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                      "Action": "sqs:SendMessage", "Resource": "*"}]}
    result = deploy(sandbox, {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Topic"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
            "RawMessageDelivery": True}},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Topic"}], "PolicyDocument": {**policy, "Statement": [{
                **policy["Statement"][0], "Action": "sns:Publish"}]}}},
        "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "Queue"}], "PolicyDocument": policy}},
    }, {"Sub": {"Value": {"Ref": "Sub"}}, "Queue": {"Value": {"Ref": "Queue"}}, "Topic": {"Value": {"Ref": "Topic"}}})
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in result["stack"]["Outputs"]}
    sns, sqs = sandbox_client(sandbox, "sns"), sandbox_client(sandbox, "sqs")
    attributes = sns.get_subscription_attributes(SubscriptionArn=outputs["Sub"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true" and attributes["TopicArn"] == outputs["Topic"]
    assert "sns:Publish" in sns.get_topic_attributes(TopicArn=outputs["Topic"])["Attributes"]["Policy"]
    queue_policy = sqs.get_queue_attributes(QueueUrl=outputs["Queue"], AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert "events.amazonaws.com" in queue_policy
    assert sandbox.fidelity("fid")["stand_in"] == []


def test_network_acls_role_policies_and_generated_secrets_are_real(sandbox):
    result = deploy(sandbox, {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
        "Acl": {"Type": "AWS::EC2::NetworkAcl", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Https": {"Type": "AWS::EC2::NetworkAclEntry", "Properties": {
            "NetworkAclId": {"Ref": "Acl"}, "RuleNumber": 100, "Protocol": 6, "RuleAction": "allow",
            "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}}},
        "Assoc": {"Type": "AWS::EC2::SubnetNetworkAclAssociation", "Properties": {
            "SubnetId": {"Ref": "Subnet"}, "NetworkAclId": {"Ref": "Acl"}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "RolePolicy": {"Type": "AWS::IAM::RolePolicy", "Properties": {
            "RoleName": {"Ref": "Role"}, "PolicyName": "extra", "PolicyDocument": {"Statement": [STATEMENT]}}},
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {
            "SecretStringTemplate": '{"username": "admin"}', "GenerateStringKey": "password",
            "PasswordLength": 20, "ExcludeCharacters": "\"@/\\"}}},
    }, {"Acl": {"Value": {"Ref": "Acl"}}, "Secret": {"Value": {"Ref": "Secret"}}, "Role": {"Value": {"Ref": "Role"}}})
    assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in result["stack"]["Outputs"]}
    acl = sandbox_client(sandbox, "ec2").describe_network_acls(NetworkAclIds=[outputs["Acl"]])["NetworkAcls"][0]
    assert [e["RuleNumber"] for e in acl["Entries"] if not e["Egress"]] == [100] and len(acl["Associations"]) == 1
    assert sandbox_client(sandbox, "iam").list_role_policies(RoleName=outputs["Role"])["PolicyNames"] == ["extra"]
    secret = json.loads(sandbox_client(sandbox, "secretsmanager").get_secret_value(SecretId=outputs["Secret"])["SecretString"])
    assert secret["username"] == "admin" and len(secret["password"]) == 20
    assert sandbox.fidelity("fid")["stand_in"] == []
    sandbox_client(sandbox, "cloudformation").delete_stack(StackName="fid")
    remaining = sandbox_client(sandbox, "ec2").describe_network_acls()["NetworkAcls"]
    assert outputs["Acl"] not in [a["NetworkAclId"] for a in remaining]


def test_stand_ins_validate_their_properties_against_the_schema(sandbox):
    result = deploy(sandbox, {
        "Good": {"Type": "AWS::CodeDeploy::Application", "Properties": {"ComputePlatform": "Lambda"}},
        "BadEnum": {"Type": "AWS::CodeDeploy::Application", "Properties": {"ComputePlatform": "Mainframe"}},
        "Misspelt": {"Type": "AWS::CodeDeploy::Application", "Properties": {"ApplicationNmae": "x"}},
    })
    assert result["failed"]["BadEnum"] == ("Properties validation failed for resource BadEnum with message: "
                                           "[#/ComputePlatform: failed validation constraint for keyword [enum]]")
    assert result["failed"]["Misspelt"] == ("Properties validation failed for resource Misspelt with message: "
                                            "[#: extraneous key [ApplicationNmae] is not permitted]")
    assert result["failed"].get("Good") == "Resource creation cancelled"  # in progress when the others failed


def test_schema_check_types_lengths_and_required_keys():
    from orchestrator.sandbox.schema_check import violations

    assert violations("AWS::CodeBuild::Project", {"Name": "x", "Source": {"Type": "NO_SOURCE"},
                                                  "Artifacts": {"Type": "NO_ARTIFACTS"}, "ServiceRole": "r",
                                                  "Environment": {"Type": "LINUX_CONTAINER", "Image": "i",
                                                                  "ComputeType": "BUILD_GENERAL1_SMALL"},
                                                  "TimeoutInMinutes": "sixty"}) == [
        "#/TimeoutInMinutes: expected type: Integer, found: String"]
    assert violations("AWS::CodeDeploy::Application", {"ApplicationName": "a b" * 40}) == [
        "#/ApplicationName: expected maxLength: 100, actual: 120",
        "#/ApplicationName: failed validation constraint for keyword [pattern]"]
    assert violations("AWS::CodeBuild::Project", {"Name": "x", "TimeoutInMinutes": "60", "Source": {},
                                                  "Artifacts": {}, "ServiceRole": "r", "Environment": {}}) == []
    assert "#: required key [Source] not found" in violations("AWS::CodeBuild::Project", {})


def test_an_output_skipped_by_its_condition_exports_nothing(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"},
                          "Optional": {"Type": "AWS::SNS::Topic", "Condition": "Never"}},
            "Outputs": {"Optional": {"Condition": "Never", "Value": {"Ref": "Optional"},
                                     "Export": {"Name": "optional-topic"}},
                        "Topic": {"Value": {"Ref": "Topic"}, "Export": {"Name": "topic"}}}}
    cf.create_stack(StackName="condout", TemplateBody=json.dumps(body))
    assert cf.describe_stacks(StackName="condout")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert [e["Name"] for e in cf.list_exports()["Exports"]] == ["topic"]


# S3 PutBucketPolicy reads a document without Version as the 2008-10-17 language and stores it; a Version
# that is present but not a policy language (an empty string included) is MalformedPolicy. Sources: the IAM
# Version element page (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html:
# "If you do not include a Version element, the value defaults to 2008-10-17"), versity/versitygw#1536 and
# #1581 (an S3-compatible gateway matching S3: missing -> stored as 2008-10-17, "" refused), codevise/pageflow#902
# (S3's policy editor: "The policy must contain a valid version string" for a bogus value).
@pytest.mark.parametrize(("document_version", "created"), [
    (None, True), ("2008-10-17", True), ("2012-10-17", True), ("", False), ("2017-06-20", False)])
def test_bucket_policy_version_is_checked_only_when_given(sandbox, document_version, created):
    document = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                               "Resource": {"Fn::Sub": "arn:aws:s3:::${Bucket}/*"},
                               "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    if document_version is not None:
        document["Version"] = document_version
    result = deploy(sandbox, {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"}, "PolicyDocument": document}},
    }, {"Bucket": {"Value": {"Ref": "Bucket"}}})
    if created:
        assert result["stack"]["StackStatus"] == "CREATE_COMPLETE", result["failed"]
        bucket = {o["OutputKey"]: o["OutputValue"] for o in result["stack"]["Outputs"]}["Bucket"]
        assert "SecureTransport" in sandbox_client(sandbox, "s3").get_bucket_policy(Bucket=bucket)["Policy"]
    else:
        assert "The policy must Contain a valid Version String" in result["failed"]["BucketPolicy"]
        assert "MalformedPolicy" in result["failed"]["BucketPolicy"]

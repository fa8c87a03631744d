"""Local artifacts packaged as `aws cloudformation package` does; S3 locations that do not exist are classified."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import zipfile
from pathlib import Path

import boto3

from orchestrator import deploy_with_autofix
from orchestrator.deploy.artifacts import Uploader, package, s3_location, zip_bytes
from orchestrator.template import load_template, loads_template

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Resources": {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "src/", "Handler": "app.handler", "Runtime": "python3.12"}},
        "Plain": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "src/app.py", "Handler": "app.handler", "Runtime": "python3.12", "Role": "arn:aws:iam::111122223333:role/r"}},
        "Inline": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "def handler(e, c): pass"}, "Handler": "index.handler", "Runtime": "python3.12", "Role": "arn:aws:iam::111122223333:role/r"}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionS3Location": "statemachine/def.asl.json", "RoleArn": "arn:aws:iam::111122223333:role/r"}},
        "Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "child.yaml"}},
        "Remote": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Bucket": "some-bucket", "S3Key": "code/fn.zip"}, "Handler": "x", "Runtime": "python3.12", "Role": "arn:aws:iam::111122223333:role/r"}},
    },
}
CHILD = "Resources:\n  Code:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: src/\n      Handler: app.handler\n      Runtime: python3.12\n      Role: arn:aws:iam::111122223333:role/r\n"


def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "src" / "util.py").write_text("X = 1\n")
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "def.asl.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    (tmp_path / "child.yaml").write_text(CHILD)
    return tmp_path


def recorder() -> tuple[Uploader, dict[str, bytes]]:
    stored: dict[str, bytes] = {}
    uploader = Uploader(bucket="run-bucket", put=stored.__setitem__, https=lambda key: f"https://run-bucket.s3.us-east-1.amazonaws.com/{key}")
    return uploader, stored


def test_local_paths_become_s3_locations_in_the_deployed_copy_only(tmp_path: Path) -> None:
    base = project(tmp_path)
    original = copy.deepcopy(TEMPLATE)
    uploader, stored = recorder()
    out = package(TEMPLATE, base, uploader, load_child=lambda p: load_template(p).document)
    assert TEMPLATE == original  # the input document is never touched
    res = out.document["Resources"]
    assert res["Fn"]["Properties"]["CodeUri"].startswith("s3://run-bucket/artifacts/") and res["Fn"]["Properties"]["CodeUri"].endswith(".zip")
    assert set(res["Plain"]["Properties"]["Code"]) == {"S3Bucket", "S3Key"}
    assert res["Plain"]["Properties"]["Code"]["S3Bucket"] == "run-bucket"
    assert res["Inline"] == TEMPLATE["Resources"]["Inline"]
    assert set(res["Machine"]["Properties"]["DefinitionS3Location"]) == {"Bucket", "Key"}
    assert res["Child"]["Properties"]["TemplateURL"].startswith("https://run-bucket.s3.us-east-1.amazonaws.com/artifacts/")
    # A directory is zipped with its files at the archive root; a definition file is uploaded as it is.
    code = stored[res["Fn"]["Properties"]["CodeUri"].split("/", 3)[3]]
    assert sorted(zipfile.ZipFile(io.BytesIO(code)).namelist()) == ["app.py", "util.py"]
    definition = stored[res["Machine"]["Properties"]["DefinitionS3Location"]["Key"]]
    assert json.loads(definition)["StartAt"] == "A"
    # The child template is packaged too: its own local Code is an S3 object in the uploaded child.
    child = json.loads(stored[res["Child"]["Properties"]["TemplateURL"].split("/", 3)[3]])
    assert child["Resources"]["Code"]["Properties"]["Code"]["S3Bucket"] == "run-bucket"
    packaged = {(a["logical_id"], a["local"]) for a in out.artifacts if a["local"]}
    assert {("Fn", "src/"), ("Plain", "src/app.py"), ("Machine", "statemachine/def.asl.json"), ("Child", "child.yaml")} <= packaged
    assert {"logical_id": "Remote", "resource_type": "AWS::Lambda::Function", "property": "Resources.Remote.Properties.Code",
            "s3": "s3://some-bucket/code/fn.zip", "local": None} in out.artifacts
    assert out.missing == []


def test_zips_are_deterministic(tmp_path: Path) -> None:
    base = project(tmp_path)
    first = zip_bytes(base / "src")
    (base / "src" / "app.py").touch()  # a new mtime must not change the key
    assert zip_bytes(base / "src") == first


def test_a_missing_local_path_is_reported_with_its_property(tmp_path: Path) -> None:
    out = package({"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "nowhere/"}}}}, tmp_path, None)
    assert out.missing == [{"logical_id": "Fn", "resource_type": "AWS::Serverless::Function",
                            "property": "Resources.Fn.Properties.CodeUri", "what": "local path nowhere/",
                            "reason": "nowhere/ does not exist beside the template"}]


def test_s3_location_forms() -> None:
    assert s3_location("s3://b/k/x.zip", "s3url") == ("b", "k/x.zip")
    assert s3_location("https://s3.amazonaws.com/b/t.yaml", "https") == ("b", "t.yaml")
    assert s3_location("https://b.s3.us-west-2.amazonaws.com/t.yaml", "https") == ("b", "t.yaml")
    assert s3_location({"S3Bucket": "b", "S3Key": "k"}, ("S3Bucket", "S3Key")) == ("b", "k")
    assert s3_location({"S3Bucket": {"Ref": "B"}, "S3Key": "k"}, ("S3Bucket", "S3Key")) is None


SAM = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
"""


def test_sam_function_with_local_code_deploys_packaged(tmp_path: Path, sandbox) -> None:
    base = project(tmp_path)
    (base / "template.yaml").write_text(SAM)
    result = deploy_with_autofix(base / "template.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 report_json=tmp_path / "report.json")
    assert result.status == "succeeded", result.report["stop_reason"]
    [artifact] = [a for a in result.report["artifacts"] if a["local"]]
    assert artifact["property"] == "Resources.Fn.Properties.CodeUri" and artifact["local"] == "src/"
    bucket, _, key = artifact["s3"][5:].partition("/")
    s3 = boto3.client("s3", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert "app.py" in zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert (base / "template.yaml").read_text() == SAM


MISSING_OBJECT = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Role: !GetAtt Role.Arn
      Code:
        S3Bucket: !Ref CodeBucket
        S3Key: builds/fn.zip
Parameters:
  CodeBucket:
    Type: String
    Default: team-artifacts
"""


def test_an_s3_object_that_does_not_exist_is_prerequisite_missing_never_repaired(tmp_path: Path) -> None:
    path = tmp_path / "fn.yaml"
    path.write_text(MISSING_OBJECT)
    result = deploy_with_autofix(path, target="embedded", region="us-east-1", report_json=tmp_path / "r.json")
    assert result.status == "failed" and result.exit_code == 1
    assert result.deployments == 0 and result.attempts == [] and result.repaired_template is None
    assert result.report["stop_reason"] == "prerequisite-missing: s3://team-artifacts/builds/fn.zip (Resources.Fn.Properties.Code)"
    [missing] = result.report["prerequisites_missing"]
    assert missing["class"] == "prerequisite-missing" and missing["logical_id"] == "Fn"


GLOBAL_CODE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: src/
    Runtime: python3.12
Resources:
  First:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
  Second:
    Type: AWS::Serverless::Function
    Properties:
      Handler: util.handler
"""


def test_globals_function_code_uri_is_packaged_for_each_function_without_its_own(tmp_path: Path) -> None:
    base = project(tmp_path)
    (base / "other").mkdir()
    (base / "other" / "main.py").write_text("def handler(event, context):\n    return 2\n")
    document = loads_template(GLOBAL_CODE).document
    document["Resources"]["Own"] = {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "other/", "Handler": "main.handler"}}
    document["Resources"]["Inline"] = {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "def handler(e, c): pass", "Handler": "index.handler"}}
    original = copy.deepcopy(document)
    uploader, stored = recorder()
    out = package(document, base, uploader)
    assert document == original
    res = out.document["Resources"]
    shared = res["First"]["Properties"]["CodeUri"]
    assert shared.startswith("s3://run-bucket/artifacts/") and res["Second"]["Properties"]["CodeUri"] == shared
    assert shared == f"s3://run-bucket/artifacts/{hashlib.sha256(zip_bytes(base / 'src')).hexdigest()}.zip"
    assert res["Own"]["Properties"]["CodeUri"] not in (shared, "other/") and "CodeUri" not in res["Inline"]["Properties"]
    assert out.document["Globals"]["Function"]["CodeUri"] == shared  # no local path left in the deployed copy
    assert len(stored) == 2  # src/ zipped once for both functions, other/ once
    credited = sorted(a["logical_id"] for a in out.artifacts if a.get("from") == "Globals.Function.CodeUri")
    assert credited == ["First", "Second"]


def test_a_missing_globals_code_uri_is_reported_once_where_the_template_names_it(tmp_path: Path) -> None:
    out = package(loads_template(GLOBAL_CODE).document, tmp_path, None)
    assert [(m["property"], m["what"]) for m in out.missing] == [("Globals.Function.CodeUri", "local path src/")]


# A role naming the CodeDeploy policy without its path: one failed deployment and a repair, so the
# packaging is redone for the second deployment and the repaired template is written.
BROKEN_ROLE = """  DeployRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: codedeploy.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AWSCodeDeployRole
"""


def test_sam_functions_sharing_globals_code_uri_deploy_packaged(tmp_path: Path, sandbox) -> None:
    base = project(tmp_path)
    text = GLOBAL_CODE + BROKEN_ROLE
    (base / "template.yaml").write_text(text)
    result = deploy_with_autofix(base / "template.yaml", target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials, region="us-east-1", keep_stack=True,
                                 forecast=False, report_json=tmp_path / "report.json")
    assert result.status == "succeeded", result.report["stop_reason"]
    assert result.deployments == 2 and result.repaired_template == base / "template.fixed.yaml"
    shipped = {a["logical_id"]: a for a in result.report["artifacts"] if a["local"]}
    assert set(shipped) == {"First", "Second"} and {a["local"] for a in shipped.values()} == {"src/"}
    assert {a["from"] for a in shipped.values()} == {"Globals.Function.CodeUri"}
    cfn = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    lam = boto3.client("lambda", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    s3 = boto3.client("s3", endpoint_url=sandbox.endpoint_url, **sandbox.credentials)
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.describe_stack_resources(StackName=result.stack_name)["StackResources"]}
    for lid, artifact in shipped.items():
        bucket, _, key = artifact["s3"][5:].partition("/")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert {"app.py", "util.py"} <= set(zipfile.ZipFile(io.BytesIO(body)).namelist())
        code = lam.get_function(FunctionName=physical[lid])["Configuration"]
        assert code["Handler"] == {"First": "app.handler", "Second": "util.handler"}[lid]
    assert (base / "template.yaml").read_text() == text
    repaired = load_template(result.repaired_template).document
    assert repaired["Globals"]["Function"]["CodeUri"] == "src/"
    assert "CodeUri" not in repaired["Resources"]["First"]["Properties"]
    assert repaired["Resources"]["DeployRole"] != load_template(base / "template.yaml").document["Resources"]["DeployRole"]

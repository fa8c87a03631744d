"""A correct web tier with Tags on every resource that takes them goes green in one deployment (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator import deploy_with_autofix
from orchestrator.sandbox.names import resource_schema
from orchestrator.template.load import load_template

EXAMPLE = Path(__file__).parent.parent / "examples" / "webtier-broken.yaml"
LOGS_STATEMENT = {
    "Sid": "AllowCloudWatchLogs", "Effect": "Allow",
    "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
    "Resource": "*",
    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}},
}
TAGS = [{"Key": "team", "Value": "web"}, {"Key": "cost-center", "Value": "1234"}]


def correct_tagged_webtier() -> tuple[dict, list[str]]:
    """The example with its three defects fixed by hand, and Tags on every resource whose schema has them."""
    document = load_template(EXAMPLE).document
    resources = document["Resources"]
    resources["CodeDeployServiceRole"]["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"]
    resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"].append(LOGS_STATEMENT)
    resources["PublicRoute"]["DependsOn"] = "AttachGateway"
    tagged = []
    for lid, resource in resources.items():
        spec = (resource_schema(resource["Type"]).get("properties") or {}).get("Tags")
        if not spec:
            continue
        properties = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::AutoScaling::AutoScalingGroup":
            properties["Tags"] = [{**t, "PropagateAtLaunch": True} for t in TAGS]
        elif spec.get("type") == "object" or "patternProperties" in spec:
            properties["Tags"] = {t["Key"]: t["Value"] for t in TAGS}
        else:
            properties["Tags"] = [dict(t) for t in TAGS]
        tagged.append(lid)
    return document, tagged


def test_a_correct_template_with_tags_everywhere_is_green_in_one_deployment(tmp_path):
    document, tagged = correct_tagged_webtier()
    assert {"EncryptionKey", "VPC", "AppBucket", "AppRole", "AccessLogGroup"} <= set(tagged) or len(tagged) >= 20
    template = tmp_path / "webtier-tagged.json"
    template.write_text(json.dumps(document, indent=1))
    result = deploy_with_autofix(template, forecast=False, region="us-east-1")
    assert result.status == "succeeded", result.report["stop_reason"]
    assert result.deployments == 1 and result.report["failed_deployments"] == 0
    fidelity = result.report["fidelity"]
    assert fidelity["sandbox_limitations"] == []
    assert "EncryptionKey" not in fidelity["stand_in"] and "VPC" not in fidelity["stand_in"]

"""Imports CloudFormation never evaluates (a false Condition, an untaken Fn::If branch) are no prerequisite."""

from __future__ import annotations

from orchestrator.deploy.prereqs import import_names

IMPORT = {"Fn::ImportValue": {"Fn::Sub": "${ParentAlertStack}-TopicARN"}}
DOCUMENT = {
    "Parameters": {"ParentAlertStack": {"Type": "String", "Default": ""}},
    "Conditions": {"HasAlertTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ParentAlertStack"}, ""]}]}},
    "Resources": {
        # widdix/aws-cf-templates security/kms-key.yaml: the rule exists only with a parent alert stack.
        "DeletionNotification": {"Type": "AWS::Events::Rule", "Condition": "HasAlertTopic",
                                 "Properties": {"Targets": [{"Arn": IMPORT, "Id": "rule"}]}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmActions": [{"Fn::If": ["HasAlertTopic", IMPORT, {"Ref": "AWS::NoValue"}]}]}},
    },
}


def test_imports_under_a_false_condition_are_not_prerequisites():
    assert import_names(DOCUMENT, {"ParentAlertStack": ""}) == []


def test_with_the_parent_given_both_imports_are_needed():
    names = import_names(DOCUMENT, {"ParentAlertStack": "alert"})
    assert [(lid, name) for lid, name, _ in names] == [("DeletionNotification", "alert-TopicARN"),
                                                       ("Alarm", "alert-TopicARN")]
    assert names[1][2] == "Resources.Alarm.Properties.AlarmActions.0.Fn::If.1"


def test_an_undecidable_condition_keeps_the_import():
    document = {**DOCUMENT, "Parameters": {"ParentAlertStack": {"Type": "String"}}}
    assert [lid for lid, _, _ in import_names(document, {})] == []  # the name itself is unknown
    assert len(import_names({**document, "Conditions": {"HasAlertTopic": {"Fn::Equals": [
        {"Ref": "AWS::StackName"}, "x"]}}}, {"ParentAlertStack": "p"})) == 2

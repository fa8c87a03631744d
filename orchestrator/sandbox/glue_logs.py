"""CloudFormation model for AWS::CloudTrail::Trail, which moto's CloudTrail backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _BackendModel


def _flag(value: Any, default: bool = False) -> bool:
    return default if value is None else str(value).lower() == "true"


class Trail(_BackendModel):
    """AWS::CloudTrail::Trail: CloudTrail CreateTrail (the bucket must exist, the SNS topic too), then
    PutEventSelectors and StartLogging when IsLogging; Ref is the trail name, GetAtt Arn and SnsTopicArn."""

    resource_type = "AWS::CloudTrail::Trail"
    service = "cloudtrail"
    attributes = {"Arn": "arn", "SnsTopicArn": "sns_topic_arn"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        name = props.get("TrailName") or name
        topic = props.get("SnsTopicName")
        if isinstance(topic, str) and topic.startswith("arn:"):
            topic = topic.rsplit(":", 1)[-1]  # CloudTrail takes the topic's name or its ARN
        trail = backend.create_trail(
            name, props.get("S3BucketName"), props.get("S3KeyPrefix"), topic,
            _flag(props.get("IncludeGlobalServiceEvents"), True), _flag(props.get("IsMultiRegionTrail")),
            _flag(props.get("EnableLogFileValidation")), _flag(props.get("IsOrganizationTrail")),
            props.get("CloudWatchLogsLogGroupArn"), props.get("CloudWatchLogsRoleArn"), props.get("KMSKeyId"),
            list(props.get("Tags") or []))
        if props.get("EventSelectors") or props.get("AdvancedEventSelectors"):
            backend.put_event_selectors(name, props.get("EventSelectors") or [], props.get("AdvancedEventSelectors") or [])
        if _flag(props.get("IsLogging")):
            backend.start_logging(name)
        self.arn, self.sns_topic_arn = trail.arn, trail.topic_arn
        return name

    def _delete(self, backend: Any) -> None:
        backend.delete_trail(self.physical_resource_id)


MODELS = (Trail,)

"""CloudFormation models that link an RDS database to other services: RDS event subscriptions (to an SNS topic) and
Secrets Manager secret target attachments, which moto's rds and secretsmanager backends serve but its CloudFormation lacks."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.sandbox.glue import _BackendModel, _tags


class RdsEventSubscription(_BackendModel):
    """AWS::RDS::EventSubscription: RDS CreateEventSubscription to an SNS topic that must exist
    (SNSTopicArnNotFound otherwise, as RDS answers); Ref is the subscription name."""

    resource_type = "AWS::RDS::EventSubscription"
    service = "rds"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.rds.exceptions import RDSClientError
        from moto.sns.models import sns_backends

        topic = props["SnsTopicArn"]
        if topic not in sns_backends[self.account_id][self.region].topics:
            raise RDSClientError("SNSTopicArnNotFound", f"The SNS topic ARN {topic} does not exist.")
        subscription = backend.create_event_subscription({
            "subscription_name": props.get("SubscriptionName") or name, "sns_topic_arn": topic,
            "source_type": props.get("SourceType"), "event_categories": list(props.get("EventCategories") or []),
            "source_ids": list(props.get("SourceIds") or []),
            "enabled": str(props.get("Enabled", True)).lower() == "true",
            "tags": [{"Key": k, "Value": v} for k, v in _tags(props).items()]})
        return subscription.subscription_name

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.event_subscriptions:
            backend.delete_event_subscription(self.physical_resource_id)


class SecretTargetAttachment(_BackendModel):
    """AWS::SecretsManager::SecretTargetAttachment: adds the database's connection details (engine, host, port,
    dbInstanceIdentifier or dbClusterIdentifier) to the secret's JSON as a new version (PutSecretValue), as
    CloudFormation's handler does; Ref is the secret's ARN. The database must exist (DBInstanceNotFound /
    DBClusterNotFound otherwise). Targets other than RDS instances and clusters are not modelled and fail as a
    sandbox limitation."""

    resource_type = "AWS::SecretsManager::SecretTargetAttachment"
    service = "secretsmanager"
    _TARGETS = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.rds.models import rds_backends
        from moto.secretsmanager.exceptions import InvalidRequestException

        kind, target = props["TargetType"], props["TargetId"]
        if kind not in self._TARGETS:
            raise NotImplementedError(f"the sandbox attaches secrets to {', '.join(self._TARGETS)} only, not {kind}")
        rds = rds_backends[self.account_id][self.region]
        if kind == "AWS::RDS::DBInstance":
            db = rds.describe_db_instances(target)[0]
            details = {"engine": db.engine, "host": db.address, "port": db.port, "dbInstanceIdentifier": target}
        else:
            db = rds.describe_db_clusters(target)[0]
            details = {"engine": db.engine, "host": db.endpoint, "port": db.port, "dbClusterIdentifier": target}
        secret = backend.describe_secret(props["SecretId"])
        current = backend.get_secret_value(secret.arn, None, None).get("SecretString") or "{}"
        try:
            value = json.loads(current)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise InvalidRequestException("The secret value of a secret target attachment must be a JSON object.")
        backend.put_secret_value(secret.arn, json.dumps({**value, **details}), None, None, ["AWSCURRENT"])
        return secret.arn

    def _delete(self, backend: Any) -> None:
        return None


MODELS = (RdsEventSubscription, SecretTargetAttachment)

"""CloudFormation models for types moto has a service backend for but no CloudFormation support.

Each class creates the resource through moto's own backend (so DescribeX/GetX answer as on AWS), returns
the physical id CloudFormation's Ref returns, answers the documented Fn::GetAtt attributes, and deletes
through the backend. Registered explicitly in MODELS.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable


def _props(cloudformation_json: dict) -> dict:
    return cloudformation_json.get("Properties") or {}


def _tags(props: dict) -> dict[str, str]:
    return {t["Key"]: str(t.get("Value", "")) for t in props.get("Tags") or [] if isinstance(t, dict) and "Key" in t}


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_LEADING_ACRONYM = re.compile(r"^[A-Z]+?(?=[A-Z][a-z]|\d|$)")


def camel(node: Any, opaque: frozenset[str] = frozenset({"Configuration"})) -> Any:
    """CloudFormation's PascalCase property structure in the camelCase of JSON APIs (CodePipeline,
    CodeBuild, CodeDeploy, Config): RoleArn -> roleArn, ECSServices -> ecsServices, S3BucketName ->
    s3BucketName. Values under an `opaque` key (user-defined maps such as an action's Configuration) keep
    their keys."""
    if isinstance(node, list):
        return [camel(item, opaque) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        match = _LEADING_ACRONYM.match(key) if len(key) > 1 and key[1].isupper() else None
        new_key = key[:match.end()].lower() + key[match.end():] if match else key[:1].lower() + key[1:]
        out[new_key] = value if key in opaque else camel(value, opaque)
    return out


class _GlueModel:
    """Common shape: physical_resource_id, get_cfn_attribute, delete(account, region)."""

    resource_type = ""
    attributes: dict[str, str] = {}  # GetAtt name -> instance attribute

    def __init__(self, physical_id: str, account_id: str, region: str):
        self.physical_resource_id = physical_id
        self.account_id = account_id
        self.region = region
        self.stack_id = ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise NotImplementedError(attribute_name)
        return getattr(self, self.attributes[attribute_name])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict, account_id: str, region_name: str) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError


class PropertiesInvalid(Exception):
    """CloudFormation's pre-deployment schema validation failed (AWS's plain text, no handler wrapper)."""

    code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _BackendModel(_GlueModel):
    """A glue model over one moto service backend: subclasses say which backend (`service`, keyed by
    partition for global services) and implement `_create` (returning the physical id) and `_delete`."""

    service = ""
    global_service = False

    def backend(self) -> Any:
        from moto.backends import get_backend
        from moto.utilities.utils import get_partition

        backends = get_backend(self.service)  # type: ignore[call-overload]
        return backends[self.account_id][get_partition(self.region) if self.global_service else self.region]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        model = cls("", account_id, region_name)
        model.stack_id = str(kwargs.get("StackId") or "")
        model.physical_resource_id = model._create(model.backend(), _props(cloudformation_json), resource_name)
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete(self.backend())

    def _create(self, backend: Any, props: dict, name: str) -> str:
        raise NotImplementedError

    def _delete(self, backend: Any) -> None:
        raise NotImplementedError


class IamGroup(_BackendModel):
    """AWS::IAM::Group: Ref is the group name; GetAtt Arn. Inline Policies and ManagedPolicyArns as IAM
    PutGroupPolicy/AttachGroupPolicy (attachment of managed policies is done by the sandbox's rules)."""

    resource_type = "AWS::IAM::Group"
    service, global_service = "iam", True
    attributes = {"Arn": "arn"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        group = backend.create_group(props.get("GroupName") or name, path=props.get("Path") or "/")
        for policy in props.get("Policies") or []:
            backend.put_group_policy(group.name, policy["PolicyName"], _document(policy["PolicyDocument"]))
        self.name, self.arn = group.name, group.arn
        self.managed_policies = group.managed_policies
        return group.name

    def _delete(self, backend: Any) -> None:
        group = backend.get_group(self.physical_resource_id)
        for policy in list(group.managed_policies.values()):
            policy.detach_from(group)
        for name in list(group.policies):
            backend.delete_group_policy(group.name, name)
        for user in list(group.users):
            backend.remove_user_from_group(group.name, user.name)
        backend.delete_group(group.name)


class UserToGroupAddition(_BackendModel):
    """AWS::IAM::UserToGroupAddition: IAM AddUserToGroup for each user; Ref is a generated id."""

    resource_type = "AWS::IAM::UserToGroupAddition"
    service, global_service = "iam", True

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.group, self.users = props["GroupName"], list(props.get("Users") or [])
        for user in self.users:
            backend.add_user_to_group(self.group, user)
        return name

    def _delete(self, backend: Any) -> None:
        for user in self.users:
            backend.remove_user_from_group(self.group, user)


class EgressOnlyInternetGateway(_BackendModel):
    """AWS::EC2::EgressOnlyInternetGateway: EC2 CreateEgressOnlyInternetGateway; Ref and GetAtt Id are eigw-."""

    resource_type = "AWS::EC2::EgressOnlyInternetGateway"
    service = "ec2"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        return backend.create_egress_only_internet_gateway(props["VpcId"]).id

    def _delete(self, backend: Any) -> None:
        backend.delete_egress_only_internet_gateway(self.physical_resource_id)


class CloudWatchAlarm(_BackendModel):
    """AWS::CloudWatch::Alarm: CloudWatch PutMetricAlarm; Ref is the alarm name, GetAtt Arn."""

    resource_type = "AWS::CloudWatch::Alarm"
    service = "cloudwatch"
    attributes = {"Arn": "arn"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        name = props.get("AlarmName") or name
        alarm = backend.put_metric_alarm(
            name=name, namespace=props.get("Namespace"), metric_name=props.get("MetricName"),
            comparison_operator=props.get("ComparisonOperator"),
            evaluation_periods=int(props.get("EvaluationPeriods") or 1), period=int(props.get("Period") or 60),
            threshold=float(props["Threshold"]) if props.get("Threshold") is not None else None,
            statistic=props.get("Statistic"), description=props.get("AlarmDescription"),
            dimensions=[{"Name": d.get("Name"), "Value": d.get("Value")} for d in props.get("Dimensions") or []],
            alarm_actions=list(props.get("AlarmActions") or []), ok_actions=list(props.get("OKActions") or []),
            insufficient_data_actions=list(props.get("InsufficientDataActions") or []),
            extended_statistic=props.get("ExtendedStatistic"), unit=props.get("Unit"),
            datapoints_to_alarm=int(props["DatapointsToAlarm"]) if props.get("DatapointsToAlarm") else None,
            treat_missing_data=props.get("TreatMissingData"),
            actions_enabled=str(props.get("ActionsEnabled", True)).lower() != "false",
            evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
            tags=[{"Key": k, "Value": v} for k, v in _tags(props).items()],
        )
        self.arn = alarm.alarm_arn
        return name

    def _delete(self, backend: Any) -> None:
        backend.delete_alarms([self.physical_resource_id])


class S3BucketPolicy(_BackendModel):
    """AWS::S3::BucketPolicy: S3 PutBucketPolicy on the bucket (which must exist: NoSuchBucket otherwise)."""

    resource_type = "AWS::S3::BucketPolicy"
    service, global_service = "s3", True

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.bucket = props["Bucket"]
        backend.put_bucket_policy(self.bucket, _document(props["PolicyDocument"]).encode())
        return self.bucket

    def _delete(self, backend: Any) -> None:
        if self.bucket in backend.buckets:
            backend.delete_bucket_policy(self.bucket)


class SnsSubscription(_BackendModel):
    """AWS::SNS::Subscription: SNS Subscribe (the topic must exist); Ref is the subscription ARN."""

    resource_type = "AWS::SNS::Subscription"
    service = "sns"
    attributes = {"Arn": "physical_resource_id"}
    _ATTRIBUTES = {"RawMessageDelivery", "DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        subscription = backend.subscribe(props["TopicArn"], props.get("Endpoint") or "", props["Protocol"])
        for key in self._ATTRIBUTES & set(props):
            value = props[key]
            backend.set_subscription_attributes(subscription.arn, key,
                                                value if isinstance(value, str) else json.dumps(value))
        return subscription.arn

    def _delete(self, backend: Any) -> None:
        backend.unsubscribe(self.physical_resource_id)


class SnsTopicPolicy(_BackendModel):
    """AWS::SNS::TopicPolicy: SNS SetTopicAttributes(Policy) on each topic; deleting restores the default policy."""

    resource_type = "AWS::SNS::TopicPolicy"
    service = "sns"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.topics = list(props.get("Topics") or [])
        for topic in self.topics:
            backend.set_topic_attribute(topic, "policy", _document(props["PolicyDocument"]))
        return name

    def _delete(self, backend: Any) -> None:
        for arn in self.topics:
            topic = backend.topics.get(arn)
            if topic is not None:
                topic._policy_json = topic._create_default_topic_policy(self.region, self.account_id, topic.name)


class SqsQueuePolicy(_BackendModel):
    """AWS::SQS::QueuePolicy: SQS SetQueueAttributes(Policy) on each queue URL."""

    resource_type = "AWS::SQS::QueuePolicy"
    service = "sqs"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.queues = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in props.get("Queues") or []]
        for queue in self.queues:
            backend.set_queue_attributes(queue, {"Policy": _document(props["PolicyDocument"])})
        return name

    def _delete(self, backend: Any) -> None:
        for queue in self.queues:
            if queue in backend.queues:
                backend.queues[queue].policy = None


class IamRolePolicy(_BackendModel):
    """AWS::IAM::RolePolicy: IAM PutRolePolicy on the named role."""

    resource_type = "AWS::IAM::RolePolicy"
    service, global_service = "iam", True

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.role, self.policy = props["RoleName"], props["PolicyName"]
        backend.put_role_policy(self.role, self.policy, _document(props["PolicyDocument"]))
        return name

    def _delete(self, backend: Any) -> None:
        backend.delete_role_policy(self.role, self.policy)


class SecretsManagerSecret(_BackendModel):
    """AWS::SecretsManager::Secret: CreateSecret, with GenerateSecretString as GetRandomPassword makes it;
    Ref and GetAtt Id are the secret's ARN."""

    resource_type = "AWS::SecretsManager::Secret"
    service = "secretsmanager"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        secret = props.get("SecretString")
        spec = props.get("GenerateSecretString")
        if isinstance(spec, dict):
            def flag(key: str, default: bool = False) -> bool:
                return str(spec.get(key, default)).lower() == "true"

            password = json.loads(backend.get_random_password(
                password_length=int(spec.get("PasswordLength", 32)),
                exclude_characters=spec.get("ExcludeCharacters", ""), exclude_numbers=flag("ExcludeNumbers"),
                exclude_punctuation=flag("ExcludePunctuation"), exclude_uppercase=flag("ExcludeUppercase"),
                exclude_lowercase=flag("ExcludeLowercase"), include_space=flag("IncludeSpace"),
                require_each_included_type=flag("RequireEachIncludedType", True),
            ))["RandomPassword"]
            if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
                secret = json.dumps({**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: password})
            else:
                secret = password
        self.name = props.get("Name") or name
        backend.create_secret(name=self.name, secret_string=secret, secret_binary=None,
                              description=props.get("Description"), tags=props.get("Tags") or [],
                              kms_key_id=props.get("KmsKeyId"), client_request_token=None, replica_regions=[],
                              force_overwrite=False)
        return backend.secrets[self.name].arn

    def _delete(self, backend: Any) -> None:
        backend.delete_secret(self.name, recovery_window_in_days=None, force_delete_without_recovery=True)


def _all_models() -> dict[str, type[_GlueModel]]:
    from orchestrator.sandbox import (
        glue_backup, glue_data, glue_delivery, glue_logs, glue_network, glue_scaling, glue_serverless)
    from orchestrator.sandbox import glue_edge, glue_identity, glue_ipv6, glue_messaging, glue_rds_links

    found = (IamGroup, UserToGroupAddition, EgressOnlyInternetGateway, CloudWatchAlarm, S3BucketPolicy,
             SnsSubscription, SnsTopicPolicy, SqsQueuePolicy, IamRolePolicy, SecretsManagerSecret,
             *glue_logs.MODELS, *glue_serverless.MODELS, *glue_backup.MODELS,
             *glue_network.MODELS, *glue_scaling.MODELS, *glue_delivery.MODELS, *glue_data.MODELS,
             *glue_messaging.MODELS, *glue_identity.MODELS, *glue_edge.MODELS, *glue_rds_links.MODELS,
             *glue_ipv6.MODELS)
    return {model.resource_type: model for model in found}


MODELS: dict[str, type[_GlueModel]] = {}


def model_for(resource_type: str) -> Callable[..., Any] | None:
    if not MODELS:
        MODELS.update(_all_models())
    return MODELS.get(resource_type)

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


def _iam(account_id: str, region: str) -> Any:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region)]


class IamGroup(_GlueModel):
    """AWS::IAM::Group: Ref is the group name; GetAtt Arn. Inline Policies and ManagedPolicyArns as IAM
    PutGroupPolicy/AttachGroupPolicy (attachment of managed policies is done by the sandbox's rules)."""

    resource_type = "AWS::IAM::Group"
    attributes = {"Arn": "arn"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "IamGroup":
        props = _props(cloudformation_json)
        backend = _iam(account_id, region_name)
        group = backend.create_group(props.get("GroupName") or resource_name, path=props.get("Path") or "/")
        for policy in props.get("Policies") or []:
            backend.put_group_policy(group.name, policy["PolicyName"], _document(policy["PolicyDocument"]))
        model = cls(group.name, account_id, region_name)
        model.name, model.arn = group.name, group.arn
        model.managed_policies = group.managed_policies
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _iam(account_id, region_name)
        group = backend.get_group(self.physical_resource_id)
        for policy in list(group.managed_policies.values()):
            policy.detach_from(group)
        for name in list(group.policies):
            backend.delete_group_policy(group.name, name)
        for user in list(group.users):
            backend.remove_user_from_group(group.name, user.name)
        backend.delete_group(group.name)


class UserToGroupAddition(_GlueModel):
    """AWS::IAM::UserToGroupAddition: IAM AddUserToGroup for each user; Ref is a generated id."""

    resource_type = "AWS::IAM::UserToGroupAddition"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "UserToGroupAddition":
        props = _props(cloudformation_json)
        backend = _iam(account_id, region_name)
        for user in props.get("Users") or []:
            backend.add_user_to_group(props["GroupName"], user)
        model = cls(resource_name, account_id, region_name)
        model.group, model.users = props["GroupName"], list(props.get("Users") or [])
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _iam(account_id, region_name)
        for user in self.users:
            backend.remove_user_from_group(self.group, user)


class EgressOnlyInternetGateway(_GlueModel):
    """AWS::EC2::EgressOnlyInternetGateway: EC2 CreateEgressOnlyInternetGateway; Ref and GetAtt Id are eigw-."""

    resource_type = "AWS::EC2::EgressOnlyInternetGateway"
    attributes = {"Id": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "EgressOnlyInternetGateway":
        from moto.ec2.models import ec2_backends

        props = _props(cloudformation_json)
        gateway = ec2_backends[account_id][region_name].create_egress_only_internet_gateway(props["VpcId"])
        return cls(gateway.id, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.ec2.models import ec2_backends

        ec2_backends[account_id][region_name].delete_egress_only_internet_gateway(self.physical_resource_id)


class CloudWatchAlarm(_GlueModel):
    """AWS::CloudWatch::Alarm: CloudWatch PutMetricAlarm; Ref is the alarm name, GetAtt Arn."""

    resource_type = "AWS::CloudWatch::Alarm"
    attributes = {"Arn": "arn"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "CloudWatchAlarm":
        from moto.cloudwatch.models import cloudwatch_backends

        props = _props(cloudformation_json)
        name = props.get("AlarmName") or resource_name
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
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
        model = cls(name, account_id, region_name)
        model.arn = alarm.alarm_arn
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])


class S3BucketPolicy(_GlueModel):
    """AWS::S3::BucketPolicy: S3 PutBucketPolicy on the bucket (which must exist: NoSuchBucket otherwise)."""

    resource_type = "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "S3BucketPolicy":
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        props = _props(cloudformation_json)
        backend = s3_backends[account_id][get_partition(region_name)]
        backend.put_bucket_policy(props["Bucket"], _document(props["PolicyDocument"]).encode())
        model = cls(props["Bucket"], account_id, region_name)
        model.bucket = props["Bucket"]
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        if self.bucket in backend.buckets:
            backend.delete_bucket_policy(self.bucket)


def _sns(account_id: str, region: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account_id][region]


class SnsSubscription(_GlueModel):
    """AWS::SNS::Subscription: SNS Subscribe (the topic must exist); Ref is the subscription ARN."""

    resource_type = "AWS::SNS::Subscription"
    attributes = {"Arn": "physical_resource_id"}
    _ATTRIBUTES = {"RawMessageDelivery", "DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "SnsSubscription":
        props = _props(cloudformation_json)
        backend = _sns(account_id, region_name)
        subscription = backend.subscribe(props["TopicArn"], props.get("Endpoint") or "", props["Protocol"])
        for name in cls._ATTRIBUTES & set(props):
            value = props[name]
            backend.set_subscription_attributes(subscription.arn, name,
                                                value if isinstance(value, str) else json.dumps(value))
        return cls(subscription.arn, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        _sns(account_id, region_name).unsubscribe(self.physical_resource_id)


class SnsTopicPolicy(_GlueModel):
    """AWS::SNS::TopicPolicy: SNS SetTopicAttributes(Policy) on each topic."""

    resource_type = "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "SnsTopicPolicy":
        props = _props(cloudformation_json)
        backend = _sns(account_id, region_name)
        for topic in props.get("Topics") or []:
            backend.set_topic_attribute(topic, "policy", _document(props["PolicyDocument"]))
        model = cls(resource_name, account_id, region_name)
        model.topics = list(props.get("Topics") or [])
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _sns(account_id, region_name)
        for topic in self.topics:
            if topic in backend.topics:
                backend.topics[topic]._policy_json = backend.topics[topic]._create_default_topic_policy(
                    region_name, account_id, backend.topics[topic].name)


class SqsQueuePolicy(_GlueModel):
    """AWS::SQS::QueuePolicy: SQS SetQueueAttributes(Policy) on each queue URL."""

    resource_type = "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "SqsQueuePolicy":
        from moto.sqs.models import sqs_backends

        props = _props(cloudformation_json)
        backend = sqs_backends[account_id][region_name]
        names = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in props.get("Queues") or []]
        for name in names:
            backend.set_queue_attributes(name, {"Policy": _document(props["PolicyDocument"])})
        model = cls(resource_name, account_id, region_name)
        model.queues = names
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[account_id][region_name]
        for name in self.queues:
            if name in backend.queues:
                backend.queues[name].policy = None


class IamRolePolicy(_GlueModel):
    """AWS::IAM::RolePolicy: IAM PutRolePolicy on the named role."""

    resource_type = "AWS::IAM::RolePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "IamRolePolicy":
        props = _props(cloudformation_json)
        _iam(account_id, region_name).put_role_policy(props["RoleName"], props["PolicyName"],
                                                      _document(props["PolicyDocument"]))
        model = cls(resource_name, account_id, region_name)
        model.role, model.policy = props["RoleName"], props["PolicyName"]
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        _iam(account_id, region_name).delete_role_policy(self.role, self.policy)


class SecretsManagerSecret(_GlueModel):
    """AWS::SecretsManager::Secret: CreateSecret, with GenerateSecretString as GetRandomPassword makes it;
    Ref and GetAtt Id are the secret's ARN."""

    resource_type = "AWS::SecretsManager::Secret"
    attributes = {"Id": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "SecretsManagerSecret":
        from moto.secretsmanager.models import secretsmanager_backends

        props = _props(cloudformation_json)
        backend = secretsmanager_backends[account_id][region_name]
        secret = props.get("SecretString")
        spec = props.get("GenerateSecretString")
        if isinstance(spec, dict):
            password = json.loads(backend.get_random_password(
                password_length=int(spec.get("PasswordLength", 32)),
                exclude_characters=spec.get("ExcludeCharacters", ""),
                exclude_numbers=str(spec.get("ExcludeNumbers", False)).lower() == "true",
                exclude_punctuation=str(spec.get("ExcludePunctuation", False)).lower() == "true",
                exclude_uppercase=str(spec.get("ExcludeUppercase", False)).lower() == "true",
                exclude_lowercase=str(spec.get("ExcludeLowercase", False)).lower() == "true",
                include_space=str(spec.get("IncludeSpace", False)).lower() == "true",
                require_each_included_type=str(spec.get("RequireEachIncludedType", True)).lower() == "true",
            ))["RandomPassword"]
            if spec.get("SecretStringTemplate") and spec.get("GenerateStringKey"):
                secret = json.dumps({**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: password})
            else:
                secret = password
        name = props.get("Name") or resource_name
        backend.create_secret(name=name, secret_string=secret, secret_binary=None,
                              description=props.get("Description"), tags=props.get("Tags") or [],
                              kms_key_id=props.get("KmsKeyId"), client_request_token=None, replica_regions=[],
                              force_overwrite=False)
        model = cls(backend.secrets[name].arn, account_id, region_name)
        model.name = name
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[account_id][region_name].delete_secret(
            self.name, recovery_window_in_days=None, force_delete_without_recovery=True)


def _all_models() -> dict[str, type[_GlueModel]]:
    from orchestrator.sandbox import glue_data, glue_delivery, glue_network, glue_scaling

    found = (IamGroup, UserToGroupAddition, EgressOnlyInternetGateway, CloudWatchAlarm, S3BucketPolicy,
             SnsSubscription, SnsTopicPolicy, SqsQueuePolicy, IamRolePolicy, SecretsManagerSecret,
             *glue_network.MODELS, *glue_scaling.MODELS, *glue_delivery.MODELS, *glue_data.MODELS)
    return {model.resource_type: model for model in found}


MODELS: dict[str, type[_GlueModel]] = {}


def model_for(resource_type: str) -> Callable[..., Any] | None:
    if not MODELS:
        MODELS.update(_all_models())
    return MODELS.get(resource_type)

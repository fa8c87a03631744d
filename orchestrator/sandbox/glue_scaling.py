"""CloudFormation models for scaling: EC2 Auto Scaling policies and hooks, Application Auto Scaling targets and policies.

moto's autoscaling and applicationautoscaling backends implement the APIs; its CloudFormation has no
model of these types. Ref and GetAtt follow the CloudFormation resource reference.
"""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _BackendModel


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _group_must_exist(backend: Any, group_name: str) -> None:
    from moto.autoscaling.exceptions import ValidationError

    if group_name not in backend.autoscaling_groups:
        # AWS's PutScalingPolicy/PutLifecycleHook text for an unknown group.
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup '{group_name}' not found")


class AutoScalingScalingPolicy(_BackendModel):
    """AWS::AutoScaling::ScalingPolicy: PutScalingPolicy on an existing group; Ref and GetAtt Arn are
    the policy ARN, GetAtt PolicyName the generated name."""

    resource_type = "AWS::AutoScaling::ScalingPolicy"
    service = "autoscaling"
    attributes = {"Arn": "physical_resource_id", "PolicyName": "name"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.group = props["AutoScalingGroupName"]
        _group_must_exist(backend, self.group)
        self.name = name
        policy = backend.put_scaling_policy(
            name=name, policy_type=props.get("PolicyType") or "SimpleScaling",
            metric_aggregation_type=props.get("MetricAggregationType"), adjustment_type=props.get("AdjustmentType"),
            as_name=self.group, min_adjustment_magnitude=props.get("MinAdjustmentMagnitude"),
            scaling_adjustment=_int(props.get("ScalingAdjustment")), cooldown=_int(props.get("Cooldown")),
            target_tracking_config=props.get("TargetTrackingConfiguration"),
            step_adjustments=props.get("StepAdjustments"),
            estimated_instance_warmup=props.get("EstimatedInstanceWarmup"),
            predictive_scaling_configuration=props.get("PredictiveScalingConfiguration"),
        )
        return policy.arn

    def _delete(self, backend: Any) -> None:
        backend.delete_policy(self.name)


class AutoScalingLifecycleHook(_BackendModel):
    """AWS::AutoScaling::LifecycleHook: PutLifecycleHook on an existing group; Ref is the hook's name."""

    resource_type = "AWS::AutoScaling::LifecycleHook"
    service = "autoscaling"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.group = props["AutoScalingGroupName"]
        _group_must_exist(backend, self.group)
        hook = backend.create_lifecycle_hook(
            name=name, as_name=self.group, transition=props["LifecycleTransition"],
            timeout=_int(props.get("HeartbeatTimeout")), result=props.get("DefaultResult") or "ABANDON")
        return hook.name

    def _delete(self, backend: Any) -> None:
        backend.delete_lifecycle_hook(self.group, self.physical_resource_id)


class ScalableTarget(_BackendModel):
    """AWS::ApplicationAutoScaling::ScalableTarget: RegisterScalableTarget (the ECS service, DynamoDB table,
    ... must exist where moto checks it); Ref and GetAtt Id are `<ResourceId>|<ScalableDimension>|<ServiceNamespace>`."""

    resource_type = "AWS::ApplicationAutoScaling::ScalableTarget"
    service = "applicationautoscaling"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.key = (props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"])
        suspended = props.get("SuspendedState")
        backend.register_scalable_target(
            *self.key, min_capacity=_int(props.get("MinCapacity")), max_capacity=_int(props.get("MaxCapacity")),
            role_arn=props.get("RoleARN") or "", suspended_state=suspended)
        for action in props.get("ScheduledActions") or []:
            backend.put_scheduled_action(
                service_namespace=self.key[0], schedule=action.get("Schedule"), timezone=action.get("Timezone"),
                scheduled_action_name=action.get("ScheduledActionName"), resource_id=self.key[1],
                scalable_dimension=self.key[2], start_time=action.get("StartTime"), end_time=action.get("EndTime"),
                scalable_target_action=action.get("ScalableTargetAction"))
        namespace, resource_id, dimension = self.key
        return f"{resource_id}|{dimension}|{namespace}"

    def _delete(self, backend: Any) -> None:
        namespace, resource_id, dimension = self.key
        if backend._scalable_target_exists(resource_id, dimension):
            backend.deregister_scalable_target(namespace, resource_id, dimension)


class ApplicationScalingPolicy(_BackendModel):
    """AWS::ApplicationAutoScaling::ScalingPolicy: PutScalingPolicy on a registered scalable target (given
    by ScalingTargetId or by its three keys); Ref and GetAtt Arn are the policy ARN."""

    resource_type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    service = "applicationautoscaling"
    attributes = {"Arn": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.applicationautoscaling.exceptions import AWSValidationException

        target = str(props.get("ScalingTargetId") or "")
        if target.count("|") == 2:
            resource_id, dimension, namespace = target.split("|")
        else:
            namespace, resource_id, dimension = (props.get("ServiceNamespace"), props.get("ResourceId"),
                                                 props.get("ScalableDimension"))
        if not backend._scalable_target_exists(resource_id, dimension):
            raise AWSValidationException(f"No scalable target registered for service namespace: {namespace}, "
                                         f"resource ID: {resource_id}, scalable dimension: {dimension}")
        policy_type = props.get("PolicyType")
        body = (props.get("TargetTrackingScalingPolicyConfiguration") if policy_type == "TargetTrackingScaling"
                else props.get("StepScalingPolicyConfiguration"))
        self.key = (props.get("PolicyName") or name, namespace, resource_id, dimension)
        policy = backend.put_scaling_policy(*self.key, policy_body=body or {}, policy_type=policy_type)
        return policy.policy_arn

    def _delete(self, backend: Any) -> None:
        from moto.applicationautoscaling.models import FakeApplicationAutoscalingPolicy

        name, namespace, resource_id, dimension = self.key
        if FakeApplicationAutoscalingPolicy.formulate_key(namespace, resource_id, dimension, name) in backend.policies:
            backend.delete_scaling_policy(*self.key)


MODELS = (AutoScalingScalingPolicy, AutoScalingLifecycleHook, ScalableTarget, ApplicationScalingPolicy)

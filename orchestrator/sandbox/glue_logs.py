"""CloudFormation model for AWS::Logs::MetricFilter, which moto's CloudWatch Logs backend has (PutMetricFilter) but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _GlueModel, _props

# CloudFormation's MetricTransformation keys -> the PutMetricFilter API's.
_TRANSFORMATION_KEYS = {"MetricName": "metricName", "MetricNamespace": "metricNamespace",
                        "MetricValue": "metricValue", "DefaultValue": "defaultValue", "Unit": "unit",
                        "Dimensions": "dimensions"}


def _logs(account_id: str, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region]


class MetricFilter(_GlueModel):
    """AWS::Logs::MetricFilter: CloudWatch Logs PutMetricFilter on an existing log group (else
    ResourceNotFoundException "The specified log group does not exist."); Ref is the filter name."""

    resource_type = "AWS::Logs::MetricFilter"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "MetricFilter":
        from moto.logs.exceptions import ResourceNotFoundException

        props = _props(cloudformation_json)
        backend = _logs(account_id, region_name)
        group = props["LogGroupName"]
        if group not in backend.groups:
            raise ResourceNotFoundException()
        name = props.get("FilterName") or resource_name
        transformations = [{_TRANSFORMATION_KEYS.get(k, k): v for k, v in t.items()}
                           for t in props.get("MetricTransformations") or [] if isinstance(t, dict)]
        backend.put_metric_filter(name, props.get("FilterPattern", ""), group, transformations)
        model = cls(name, account_id, region_name)
        model.log_group = group
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        _logs(account_id, region_name).delete_metric_filter(self.physical_resource_id, self.log_group)


MODELS = (MetricFilter,)

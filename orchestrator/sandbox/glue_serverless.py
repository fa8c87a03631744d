"""CloudFormation model for AWS::ApiGateway::Account (the region's API Gateway settings), which moto's backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _GlueModel, _props


class ApiGatewayAccount(_GlueModel):
    """AWS::ApiGateway::Account: API Gateway UpdateAccount (the region's CloudWatch Logs role); Ref and GetAtt
    Id are a generated id. Deleting leaves the setting, as CloudFormation does."""

    resource_type = "AWS::ApiGateway::Account"
    attributes = {"Id": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "ApiGatewayAccount":
        from moto.apigateway.models import apigateway_backends

        role = _props(cloudformation_json).get("CloudWatchRoleArn")
        if role:
            apigateway_backends[account_id][region_name].update_account(
                [{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
        return cls(resource_name, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        return None


MODELS = (ApiGatewayAccount,)

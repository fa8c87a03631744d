"""CloudFormation model for AWS::ApiGateway::Account (the region's API Gateway settings), which moto's backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _BackendModel


class ApiGatewayAccount(_BackendModel):
    """AWS::ApiGateway::Account: API Gateway UpdateAccount (the region's CloudWatch Logs role); Ref and GetAtt
    Id are a generated id. Deleting leaves the setting, as CloudFormation does."""

    resource_type = "AWS::ApiGateway::Account"
    service = "apigateway"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        if props.get("CloudWatchRoleArn"):
            backend.update_account([{"op": "replace", "path": "/cloudwatchRoleArn", "value": props["CloudWatchRoleArn"]}])
        return name

    def _delete(self, backend: Any) -> None:
        return None


MODELS = (ApiGatewayAccount,)

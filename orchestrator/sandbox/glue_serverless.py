"""CloudFormation models for Lambda function URLs and API Gateway's account settings, which moto's backends have but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _GlueModel, _props


class LambdaUrl(_GlueModel):
    """AWS::Lambda::Url: Lambda CreateFunctionUrlConfig on an existing function (by name or ARN); Ref and
    GetAtt FunctionArn are the function's ARN, GetAtt FunctionUrl the https://<id>.lambda-url.<region>.on.aws/ URL."""

    resource_type = "AWS::Lambda::Url"
    attributes = {"FunctionArn": "physical_resource_id", "FunctionUrl": "url"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "LambdaUrl":
        from moto.awslambda.models import lambda_backends

        props = _props(cloudformation_json)
        config = {key: props[key] for key in ("AuthType", "Cors", "InvokeMode") if key in props}
        url = lambda_backends[account_id][region_name].create_function_url_config(props["TargetFunctionArn"], config)
        model = cls(url.function.function_arn, account_id, region_name)
        model.url = url.url.rstrip("/") + "/"
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[account_id][region_name]
        try:
            backend.delete_function_url_config(self.physical_resource_id)
        except Exception:  # noqa: BLE001 - the function went first (a rollback deletes in any order it may)
            pass


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


MODELS = (LambdaUrl, ApiGatewayAccount)

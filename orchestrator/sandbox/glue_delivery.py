"""CloudFormation models for delivery and API types moto serves but cannot build from a template.

CodeDeploy applications and deployment groups, CodePipeline pipelines, CodeBuild projects, API Gateway
stages, HTTP APIs, Lambda function URLs, CloudWatch Logs metric filters and AWS Config: each built through
moto's service backend (so the service's own Get/List/Describe answers as on AWS), with Ref and GetAtt as
the CloudFormation reference documents.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.sandbox.glue import _BackendModel, _tags, camel


def _api_tags(props: dict, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in _tags(props).items()]


class CodeDeployApplication(_BackendModel):
    """AWS::CodeDeploy::Application: CreateApplication; Ref is the application name."""

    resource_type = "AWS::CodeDeploy::Application"
    service = "codedeploy"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        backend.create_application(name, props.get("ComputePlatform") or "Server", _api_tags(props))
        return name

    def _delete(self, backend: Any) -> None:
        backend.applications.pop(self.physical_resource_id, None)
        backend.deployment_groups.pop(self.physical_resource_id, None)


class CodeDeployDeploymentGroup(_BackendModel):
    """AWS::CodeDeploy::DeploymentGroup: CreateDeploymentGroup in an existing application (else AWS's
    ApplicationDoesNotExistException); Ref is the deployment group name."""

    resource_type = "AWS::CodeDeploy::DeploymentGroup"
    service = "codedeploy"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.application = props["ApplicationName"]
        api = camel(props)
        # Tag filters keep EC2's Key/Value/Type in the API too.
        backend.create_deployment_group(
            application_name=self.application, deployment_group_name=name,
            deployment_config_name=props.get("DeploymentConfigName"),
            ec2_tag_filters=props.get("Ec2TagFilters"),
            on_premises_instance_tag_filters=props.get("OnPremisesInstanceTagFilters"),
            auto_scaling_groups=props.get("AutoScalingGroups"), service_role_arn=props["ServiceRoleArn"],
            trigger_configurations=api.get("triggerConfigurations"),
            alarm_configuration=api.get("alarmConfiguration"),
            auto_rollback_configuration=api.get("autoRollbackConfiguration"),
            outdated_instances_strategy=props.get("OutdatedInstancesStrategy"),
            deployment_style=api.get("deploymentStyle"),
            blue_green_deployment_configuration=api.get("blueGreenDeploymentConfiguration"),
            load_balancer_info=api.get("loadBalancerInfo"), ec2_tag_set=props.get("Ec2TagSet"),
            ecs_services=api.get("ecsServices"), on_premises_tag_set=props.get("OnPremisesTagSet"),
            tags=_api_tags(props) or None,
            termination_hook_enabled=props.get("TerminationHookEnabled"),
        )
        return name

    def _delete(self, backend: Any) -> None:
        backend.deployment_groups.get(self.application, {}).pop(self.physical_resource_id, None)


class CodePipelinePipeline(_BackendModel):
    """AWS::CodePipeline::Pipeline: CreatePipeline, which checks what AWS checks (the role must trust
    codepipeline.amazonaws.com, at least two stages); Ref is the name, GetAtt Version the version."""

    resource_type = "AWS::CodePipeline::Pipeline"
    service = "codepipeline"
    attributes = {"Version": "version"}
    _NOT_STRUCTURE = ("Name", "Tags", "RestartExecutionOnUpdate", "DisableInboundStageTransitions")

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.codepipeline.exceptions import InvalidStructureException
        from moto.codepipeline.models import CodePipeline

        structure = camel({k: v for k, v in props.items() if k not in self._NOT_STRUCTURE})
        structure["name"] = name
        # CreatePipeline's checks, made here because moto's trust check misses a Principal.Service list.
        if name in backend.pipelines:
            raise InvalidStructureException(
                f"A pipeline with the name '{name}' already exists in account '{backend.account_id}'")
        if not _trusts(backend.iam_backend, str(structure.get("roleArn") or ""), "codepipeline.amazonaws.com"):
            raise InvalidStructureException(
                f"CodePipeline is not authorized to perform AssumeRole on role {structure.get('roleArn')}")
        if len(structure.get("stages") or []) < 2:
            raise InvalidStructureException(f"Pipeline has only {len(structure.get('stages') or [])} stage(s). "
                                            "There should be a minimum of 2 stages in a pipeline")
        pipeline = backend.pipelines[name] = CodePipeline(backend.account_id, backend.region_name, structure)
        pipeline.tags.update(_tags(props))
        self.version = str(pipeline.pipeline.get("version", 1))
        return name

    def _delete(self, backend: Any) -> None:
        backend.delete_pipeline(self.physical_resource_id)


def _trusts(iam: Any, role_arn: str, service: str) -> bool:
    """Whether the role's trust policy lets `service` assume it (Principal.Service a string or a list)."""
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - an unknown role is an untrusted one, as CodePipeline reports it
        return False
    document = role.assume_role_policy_document
    statements = (json.loads(document) if isinstance(document, str) else document or {}).get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal") if statement.get("Effect") == "Allow" else None
        services = principal.get("Service") if isinstance(principal, dict) else None
        if principal == "*" or service in (services if isinstance(services, list) else [services]):
            return True
    return False


class CodeBuildProject(_BackendModel):
    """AWS::CodeBuild::Project: CreateProject; Ref is the project name, GetAtt Arn its ARN."""

    resource_type = "AWS::CodeBuild::Project"
    service = "codebuild"
    attributes = {"Arn": "arn", "Id": "arn"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        timeout = props.get("TimeoutInMinutes")
        queued = props.get("QueuedTimeoutInMinutes")
        backend.create_project(
            project_name=name, description=props.get("Description"), project_source=camel(props["Source"]),
            artifacts=camel(props["Artifacts"]), environment=camel(props["Environment"]),
            service_role=props["ServiceRole"], tags=_api_tags(props, "key", "value"),
            cache=camel(props.get("Cache")), timeout=int(timeout) if timeout else None,
            queued_timeout=int(queued) if queued else None, source_version=props.get("SourceVersion"),
            logs_config=camel(props.get("LogsConfig")), vpc_config=camel(props.get("VpcConfig")),
        )
        self.arn = backend.codebuild_projects[name].arn
        return name

    def _delete(self, backend: Any) -> None:
        backend.delete_project(self.physical_resource_id)


class ApiGatewayStage(_BackendModel):
    """AWS::ApiGateway::Stage: CreateStage on an existing deployment of the REST API (else AWS's "Invalid
    Deployment identifier specified"); Ref is the stage name."""

    resource_type = "AWS::ApiGateway::Stage"
    service = "apigateway"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.apigateway.exceptions import DeploymentNotFoundException

        self.api_id = props["RestApiId"]
        deployment = props.get("DeploymentId")
        if not deployment or deployment not in backend.get_rest_api(self.api_id).deployments:
            raise DeploymentNotFoundException()
        stage_name = props.get("StageName") or name
        truthy = {"true", "True", True}
        backend.create_stage(
            self.api_id, stage_name, deployment, variables=props.get("Variables") or {},
            description=props.get("Description") or "", cacheClusterEnabled=props.get("CacheClusterEnabled") in truthy,
            cacheClusterSize=props.get("CacheClusterSize"), tags=_tags(props) or None,
            tracing_enabled=props.get("TracingEnabled") in truthy)
        return stage_name

    def _delete(self, backend: Any) -> None:
        if self.api_id in backend.apis and self.physical_resource_id in backend.apis[self.api_id].stages:
            backend.delete_stage(self.api_id, self.physical_resource_id)


class HttpApi(_BackendModel):
    """AWS::ApiGatewayV2::Api: CreateApi, or ImportApi when the template gives an OpenAPI Body (as SAM's
    HttpApi does); Ref and GetAtt ApiId are the id, GetAtt ApiEndpoint its execute-api URL."""

    resource_type = "AWS::ApiGatewayV2::Api"
    service = "apigatewayv2"
    attributes = {"ApiId": "physical_resource_id", "ApiEndpoint": "endpoint"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        body = props.get("Body")
        title = (body.get("info") or {}).get("title") if isinstance(body, dict) else None
        api = backend.create_api(
            api_key_selection_expression=props.get("ApiKeySelectionExpression"),
            cors_configuration=props.get("CorsConfiguration"), description=props.get("Description"),
            disable_schema_validation=props.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=props.get("DisableExecuteApiEndpoint"), name=props.get("Name") or title or name,
            protocol_type=props.get("ProtocolType") or "HTTP",
            route_selection_expression=props.get("RouteSelectionExpression"), tags=props.get("Tags") or {},
            version=props.get("Version"))
        if isinstance(body, dict):
            backend.reimport_api(api.api_id, json.dumps(body), fail_on_warnings=False)
        self.endpoint = api.api_endpoint
        return api.api_id

    def _delete(self, backend: Any) -> None:
        backend.delete_api(self.physical_resource_id)


class HttpApiStage(_BackendModel):
    """AWS::ApiGatewayV2::Stage: CreateStage on an existing API (else AWS's NotFoundException); Ref is the stage name."""

    resource_type = "AWS::ApiGatewayV2::Stage"
    service = "apigatewayv2"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.api_id = props["ApiId"]
        config = camel({k: v for k, v in props.items() if k not in ("ApiId", "Tags")},
                       opaque=frozenset({"StageVariables", "RouteSettings"}))
        config["stageName"] = props.get("StageName") or name
        backend.create_stage(self.api_id, config)
        return config["stageName"]

    def _delete(self, backend: Any) -> None:
        if self.api_id in backend.apis:
            backend.apis[self.api_id].delete_stage(self.physical_resource_id)


class LambdaUrl(_BackendModel):
    """AWS::Lambda::Url: CreateFunctionUrlConfig on an existing function; Ref and GetAtt FunctionArn are the
    function's ARN, GetAtt FunctionUrl its https://<id>.lambda-url.<region>.on.aws/ URL."""

    resource_type = "AWS::Lambda::Url"
    service = "lambda"
    attributes = {"FunctionArn": "physical_resource_id", "FunctionUrl": "url"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.target = props["TargetFunctionArn"]
        made = backend.create_function_url_config(
            self.target, {k: v for k, v in props.items() if k in ("AuthType", "Cors", "InvokeMode")})
        self.url = made.url.rstrip("/") + "/"
        return made.function.function_arn

    def _delete(self, backend: Any) -> None:
        from moto.awslambda.exceptions import UnknownFunctionException

        try:
            backend.delete_function_url_config(self.target)
        except UnknownFunctionException:
            pass  # the function went first: its URL went with it, as on AWS


class LogsMetricFilter(_BackendModel):
    """AWS::Logs::MetricFilter: PutMetricFilter on an existing log group (else AWS's "The specified log
    group does not exist."); Ref is the filter name."""

    resource_type = "AWS::Logs::MetricFilter"
    service = "logs"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.logs.exceptions import ResourceNotFoundException

        self.group = props["LogGroupName"]
        if self.group not in backend.groups:
            raise ResourceNotFoundException()
        filter_name = props.get("FilterName") or name
        backend.put_metric_filter(filter_name, props.get("FilterPattern", ""), self.group,
                                  camel(props.get("MetricTransformations") or []))
        return filter_name

    def _delete(self, backend: Any) -> None:
        backend.delete_metric_filter(self.physical_resource_id, self.group)


def _json_text(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


class ConfigRule(_BackendModel):
    """AWS::Config::ConfigRule: PutConfigRule; Ref is the rule name, GetAtt Arn, ConfigRuleId and
    Compliance.Type (INSUFFICIENT_DATA until an evaluation has run, as on AWS)."""

    resource_type = "AWS::Config::ConfigRule"
    service = "config"
    attributes = {"Arn": "arn", "ConfigRuleId": "rule_id", "Compliance.Type": "compliance"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        rule = {k: v for k, v in props.items() if k not in ("Compliance", "EvaluationModes")}
        rule["ConfigRuleName"] = name
        if "InputParameters" in rule:
            rule["InputParameters"] = _json_text(rule["InputParameters"])
        backend.put_config_rule(rule, _api_tags(props) or None)
        made = backend.config_rules[name]
        self.arn, self.rule_id, self.compliance = made.config_rule_arn, made.config_rule_id, "INSUFFICIENT_DATA"
        return name

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.config_rules:
            backend.delete_config_rule(self.physical_resource_id)


class ConfigurationRecorder(_BackendModel):
    """AWS::Config::ConfigurationRecorder: PutConfigurationRecorder (one per region, as AWS allows); Ref is its name."""

    resource_type = "AWS::Config::ConfigurationRecorder"
    service = "config"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        recorder = {"name": props.get("Name") or name, "roleARN": props.get("RoleARN")}
        if props.get("RecordingGroup") is not None:
            recorder["recordingGroup"] = camel(props["RecordingGroup"])
        backend.put_configuration_recorder(recorder)
        if backend.delivery_channels:
            # CloudFormation's recorder starts recording once a delivery channel exists.
            backend.start_configuration_recorder(recorder["name"])
        return recorder["name"]

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.recorders:
            backend.stop_configuration_recorder(self.physical_resource_id)
            backend.delete_configuration_recorder(self.physical_resource_id)


def _stack_declares(account_id: str, region: str, stack_id: str, resource_type: str) -> bool:
    from moto.cloudformation.models import cloudformation_backends

    stack = cloudformation_backends[account_id][region].stacks.get(stack_id)
    resources = (getattr(stack, "template_dict", None) or {}).get("Resources") or {}
    return any(isinstance(r, dict) and r.get("Type") == resource_type for r in resources.values())


class DeliveryChannel(_BackendModel):
    """AWS::Config::DeliveryChannel: PutDeliveryChannel (needs a configuration recorder, as on AWS); Ref is its name."""

    resource_type = "AWS::Config::DeliveryChannel"
    service = "config"
    _PENDING_RECORDER = "\0pending-recorder"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        channel = camel({k: v for k, v in props.items() if k != "Name"})
        channel["name"] = props.get("Name") or name
        if "snsTopicARN" not in channel and "snsTopicArn" in channel:
            channel["snsTopicARN"] = channel.pop("snsTopicArn")
        # AWS documents recorder and channel in one template with no dependency between them: the channel's
        # handler waits for the stack's recorder. Without any recorder, PutDeliveryChannel fails as on AWS.
        waits = not backend.recorders and _stack_declares(self.account_id, self.region, self.stack_id,
                                                          ConfigurationRecorder.resource_type)
        if waits:
            backend.recorders[self._PENDING_RECORDER] = None
        try:
            backend.put_delivery_channel(channel)
        finally:
            backend.recorders.pop(self._PENDING_RECORDER, None)
        for recorder_name, recorder in backend.recorders.items():
            if not recorder.status.recording:
                backend.start_configuration_recorder(recorder_name)
        return channel["name"]

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.delivery_channels:
            for recorder in backend.recorders.values():
                recorder.status.recording = False
            backend.delete_delivery_channel(self.physical_resource_id)


MODELS = (CodeDeployApplication, CodeDeployDeploymentGroup, CodePipelinePipeline, CodeBuildProject, ApiGatewayStage,
          HttpApi, HttpApiStage, LambdaUrl, LogsMetricFilter, ConfigRule, ConfigurationRecorder, DeliveryChannel)

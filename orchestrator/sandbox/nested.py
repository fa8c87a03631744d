"""Nested stacks on the sandbox: an AWS::CloudFormation::Stack resource creates a real child stack through the engine.

AWS: the child is a stack of its own (events, rollback, outputs read as `Fn::GetAtt Child.Outputs.X`);
when it fails, the parent's resource fails with "Embedded stack <arn> was not successfully created:
<the child's reason>", and deleting (or rolling back) the parent deletes the child.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-nested-stacks.html
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Callable

import structlog
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudformation.models import Stack, cloudformation_backends
from moto.cloudformation.utils import generate_stack_id

from orchestrator.sandbox.context import SandboxContext

log = structlog.get_logger(__name__)

STACK_TYPE = "AWS::CloudFormation::Stack"
_S3_URL = (re.compile(r"^https?://s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?/([^/]+)/(.+)$"),
           re.compile(r"^https?://([^./]+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?/(.+)$"))


class EmbeddedFailure:
    """The parent resource's failure: the child's own reason behind AWS's "Embedded stack" prefix."""

    def __init__(self, text: str):
        self.text = text

    def reason(self, new_id: Callable[[], str]) -> str:
        return self.text


class NestedStack:
    """The parent's model of a child stack: Ref is its ARN, GetAtt Outputs.X its outputs."""

    cf_resource_type = STACK_TYPE

    def __init__(self, child: Stack, ctx: SandboxContext, backend: Any):
        self.child, self.ctx, self.backend = child, ctx, backend
        self.physical_resource_id = child.stack_id

    def get_cfn_attribute(self, name: str) -> Any:
        if name.startswith("Outputs."):
            output = self.child.output_map[name[len("Outputs."):]]
            if output is not None:
                return output.value
        raise UnformattedGetAttTemplateException()

    def delete(self, account_id: str = "", region: str = "") -> None:
        from orchestrator.sandbox import engine

        engine.delete(self.child, self.ctx, self.backend)


def parameter_strings(parameters: Any) -> dict[str, str]:
    """The child's parameters as CloudFormation passes them: every value a string, booleans as `true`/`false`.

    A value resolved from YAML or a condition (`!If [C, true, false]`, `Size: 5`) is a JSON scalar in the
    parent's template; CloudFormation renders it as its JSON text, never Python's `True`.
    """
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)

    return {str(k): text(v) for k, v in (parameters or {}).items()}


def _template_from_s3(url: str, account_id: str) -> str | None:
    for pattern in _S3_URL:
        match = pattern.match(url.strip())
        if match:
            try:
                from moto.s3.models import s3_backends

                key = s3_backends[account_id]["aws"].get_object(match.group(1), match.group(2))
            except Exception:  # NoSuchBucket / NoSuchKey: the child's template is not there
                return None
            return key.value.decode("utf-8") if key is not None else None
    return None


class NestedStackFailed(Exception):
    """Raised from a model call: the engine records `failure` as the parent resource's reason."""

    code = 400

    def __init__(self, failure: EmbeddedFailure):
        super().__init__(failure.text)
        self.message = failure.text
        self.failure = failure


def create_model(parent: Stack, ctx: SandboxContext, logical_id: str, properties: dict) -> NestedStack:
    """The child stack, created; NestedStackFailed (the child kept for the parent's rollback) when it is not green."""
    model, failure = create_child(parent, ctx, logical_id, properties)
    if model is not None:
        parent.resource_map._parsed_resources[logical_id] = model
    if failure is not None:
        raise NestedStackFailed(failure)
    return model


def update_model(current: NestedStack, properties: dict) -> NestedStack:
    """UpdateStack of the child with the parent's new TemplateURL and parameters."""
    from orchestrator.sandbox import engine

    child = current.child
    body = _template_from_s3(str(properties.get("TemplateURL") or ""), child.account_id)
    if body is None:
        raise NestedStackFailed(EmbeddedFailure("TemplateURL must reference a valid S3 object to which you have access"))
    parameters = parameter_strings(properties.get("Parameters"))
    if body == child.template and parameters == dict(child.parameters):
        return current
    engine.update(child, current.ctx, body, parameters, backend=current.backend)
    if child.status not in ("UPDATE_COMPLETE", "CREATE_COMPLETE"):
        reason = next((e.resource_status_reason for e in reversed(child.events)
                       if e.logical_resource_id == child.name and e.resource_status_reason), "") or child.status
        raise NestedStackFailed(EmbeddedFailure(f"Embedded stack {child.stack_id} was not successfully updated. "
                                                f"Currently in {child.status} with reason: {reason}"))
    return current


def create_child(parent: Stack, ctx: SandboxContext, logical_id: str, properties: dict) -> tuple[Any, Any]:
    """Create the child stack; returns (model, None) when it is green, (model or None, EmbeddedFailure) when not."""
    from orchestrator.sandbox import engine

    url = str(properties.get("TemplateURL") or "")
    body = _template_from_s3(url, parent.account_id)
    if body is None:
        return None, EmbeddedFailure(f"TemplateURL must reference a valid S3 object to which you have access: {url}")
    backend = cloudformation_backends[parent.account_id][parent.region_name]
    name = f"{parent.name}-{logical_id}-{uuid.uuid4().hex[:12].upper()}"[:128]
    parameters = parameter_strings(properties.get("Parameters"))
    try:
        child = Stack(stack_id=generate_stack_id(name, parent.region_name, parent.account_id), name=name, template=body,
                      parameters=parameters, account_id=parent.account_id, region_name=parent.region_name,
                      notification_arns=[], tags=dict(parent.tags or {}), cross_stack_resources=backend.exports)
    except Exception as exc:  # a child that does not parse fails the parent's resource, as in AWS
        return None, EmbeddedFailure(f"Template format error: {exc}")
    child.parent_id = parent.stack_id
    child.root_id = getattr(parent, "root_id", None) or parent.stack_id
    backend.stacks[child.stack_id] = child
    engine.create(child, ctx, disable_rollback=bool(parent.disable_rollback), backend=backend)
    model = NestedStack(child, ctx, backend)
    log.info("nested_stack_created", parent=parent.name, logical_id=logical_id, child=name, status=child.status)
    if child.status == "CREATE_COMPLETE":
        return model, None
    reason = next((e.resource_status_reason for e in reversed(child.events)
                   if e.logical_resource_id == child.name and e.resource_status_reason
                   and "failed to create" in e.resource_status_reason), "") or child.status
    reason = reason.replace(" Rollback requested by user.", "").strip()
    return model, EmbeddedFailure(f"Embedded stack {child.stack_id} was not successfully created: {reason}")

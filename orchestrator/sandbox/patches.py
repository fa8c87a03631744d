"""The only place the sandbox patches moto: class-level seams, active for sandbox accounts only, plus a self-test."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from types import SimpleNamespace
from typing import Any, Callable

import moto
from moto.cloudformation import parsing
from moto.core.base_backend import BackendDict
from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.core.common_models import BaseModel
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import generate_stack_id
from moto.core.responses import ActionResult, EmptyResult
from moto.iam.policy_validation import IAMPolicyDocumentValidator
from moto.kms import models as kms_models

from orchestrator.sandbox import (bootstrap, engine, inventory, moto_backup, moto_cloudfront, moto_cloudfront_policies,
                                  patches_ec2, patches_route53)
from orchestrator.sandbox.accounts import drop_account_state
from orchestrator.sandbox.keys import lazy_private_key
from orchestrator.sandbox.context import context_for
from orchestrator.sandbox.patches_template import ORIGINALS as _ORIGINALS
from orchestrator.sandbox.patches_template import TEMPLATE_SEAMS, availability_zones, parse_template_text

from orchestrator.sandbox.lazy_models import MOTO_VERSION
from orchestrator.sandbox.lazy_models import problems as lazy_model_problems

_INSTALL_LOCK = threading.Lock()


class SandboxSelfTestError(RuntimeError):
    """A moto seam the sandbox relies on changed (usually after a moto upgrade)."""


# ---------------------------------------------------------------------------------------------- ResourceMap seams


def _getitem(self: ResourceMap, key: str) -> Any:
    """Sandbox stacks never create a resource as a side effect of reading it (moto's map is lazy)."""
    if context_for(self._account_id) is None:
        return _ORIGINALS["getitem"](self, key)
    if key in self._parsed_resources:
        return self._parsed_resources[key]
    if key in self._resource_json_map:
        return None
    raise KeyError(key)


def _validate_outputs(self: ResourceMap) -> None:
    """Outputs may use GetAtt on types moto does not model: they are emulated in the sandbox."""
    if context_for(self._account_id) is None:
        return _ORIGINALS["validate_outputs"](self)
    for value in (self._template.get("Outputs") or {}).values():
        getatt = (value.get("Value") or {}).get("Fn::GetAtt") if isinstance(value.get("Value"), dict) else None
        if getatt and isinstance(getatt, list) and getatt[0] not in self._resource_json_map:
            raise ValidationError(message=f"Template format error: Unresolved resource dependencies [{getatt[0]}] in the Outputs block of the template")
    return None


# ---------------------------------------------------------------------------------------------- API seams


def _validate_parameter_types(template: dict, parameters: dict[str, Any], region: str) -> None:
    """AWS::EC2::AvailabilityZone::Name (and List<...>) parameters must name zones of the region."""
    zones: set[str] | None = None  # read from moto's EC2 only when needed: importing it costs ~0.5 s CPU
    for name, slot in (template.get("Parameters") or {}).items():
        kind = str(slot.get("Type", ""))
        if "AWS::EC2::AvailabilityZone::Name" not in kind:
            continue
        if zones is None:
            zones = set(availability_zones(region))
        value = parameters.get(name, slot.get("Default"))
        values = value.split(",") if isinstance(value, str) else list(value or [])
        for item in values:
            if item.strip() and item.strip() not in zones:
                raise ValidationError(message=f"Parameter validation failed: parameter value {item.strip()} for parameter name {name} does not exist. Rule evaluation failed.")


def _template_body(self: CloudFormationResponse) -> str:
    body = self._get_param("TemplateBody")
    url = self._get_param("TemplateURL")
    if not body and url:
        body = self._get_stack_from_s3_url(url)
    return body


def _find_active(backend: Any, name_or_id: str) -> Stack | None:
    for stack in backend.stacks.values():
        if name_or_id in (stack.name, stack.stack_id):
            return stack
    return None


def _create_stack(self: CloudFormationResponse) -> ActionResult:
    """CreateStack with DisableRollback/OnFailure, per-resource events, waves and rollback (see engine)."""
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["create_stack"](self)
    name = self._get_param("StackName")
    body = _template_body(self)
    parameters = self._get_params_from_list(self._get_param("Parameters", []))
    tags = {item["Key"]: item["Value"] for item in self._get_param("Tags", [])}
    backend = self.cloudformation_backend
    with ctx.lock:
        if _find_active(backend, name) is not None:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        try:
            stack = Stack(
                stack_id=generate_stack_id(name, self.region, self.current_account), name=name, template=body,
                parameters=parameters, account_id=self.current_account, region_name=self.region,
                notification_arns=self._get_param("NotificationARNs", []), tags=tags, role_arn=self._get_param("RoleARN"),
                cross_stack_resources=backend.exports,
                enable_termination_protection=self._get_param("EnableTerminationProtection"),
                timeout_in_mins=self._get_param("TimeoutInMinutes"), stack_policy_body=self._get_param("StackPolicyBody"),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            # AWS answers a template it cannot parse with a ValidationError, never a server error.
            raise ValidationError(message=f"Template format error: {exc}") from None
        if not isinstance(stack.template_dict, dict) or not stack.template_dict.get("Resources"):
            raise ValidationError(message="Template format error: At least one Resources member must be defined.")
        _validate_parameter_types(stack.template_dict, parameters, self.region)
        backend.stacks[stack.stack_id] = stack
        engine.create(stack, ctx, disable_rollback=self._get_bool_param("DisableRollback", False),
                      on_failure=self._get_param("OnFailure"), backend=backend)
    return ActionResult({"StackId": stack.stack_id})


def _update_stack(self: CloudFormationResponse) -> ActionResult:
    """UpdateStack from CREATE_FAILED/… per the engine; AWS's ValidationError for non-updatable states."""
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["update_stack"](self)
    backend = self.cloudformation_backend
    with ctx.lock:
        stack = backend.get_stack(self._get_param("StackName"))
        engine.check_updatable(stack)
        body = stack.template if self._get_bool_param("UsePreviousTemplate", False) else _template_body(self)
        incoming = self._get_param("Parameters", [])
        parameters = backend._resolve_update_parameters(instance=stack, incoming_params=incoming)
        tags = {item["Key"]: item["Value"] for item in self._get_param("Tags", [])} or None
        template_dict = Stack.parse_template(body)
        _validate_parameter_types(template_dict if isinstance(template_dict, dict) else {}, parameters, self.region)
        disable = self._get_param("DisableRollback")
        engine.update(stack, ctx, body, parameters, backend=backend, tags=tags,
                      disable_rollback=None if disable is None else str(disable).lower() == "true")
    return ActionResult({"StackId": stack.stack_id})


def _delete_stack(self: CloudFormationResponse) -> EmptyResult:
    """DeleteStack works from every state and deletes what the stack holds."""
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["delete_stack"](self)
    backend = self.cloudformation_backend
    with ctx.lock:
        stack = _find_active(backend, self._get_param("StackName"))
        if stack is not None:
            engine.delete(stack, ctx, backend)
        for stack_id in list(backend.deleted_stacks)[: max(0, len(backend.deleted_stacks) - DELETED_STACKS_KEPT)]:
            backend.deleted_stacks.pop(stack_id, None)
    return EmptyResult()


def _execute_change_set(self: CloudFormationResponse) -> EmptyResult:
    """ExecuteChangeSet follows the same creation/update model as CreateStack/UpdateStack."""
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["execute_change_set"](self)
    backend = self.cloudformation_backend
    with ctx.lock:
        change_set = backend.describe_change_set(self._get_param("ChangeSetName"))
        stack = backend.stacks[change_set.stack_id]
        disable = self._get_bool_param("DisableRollback", False)
        if change_set.change_set_type == "CREATE":
            stack.template = change_set.template
            stack._parse_template()
            stack.parameters = change_set.parameters
            stack.description = stack.template_dict.get("Description")
            stack.resource_map = stack._create_resource_map()
            stack.output_map = stack._create_output_map()
            _validate_parameter_types(stack.template_dict, change_set.parameters, self.region)
            change_set.execution_status = "EXECUTE_COMPLETE"
            engine.create(stack, ctx, disable_rollback=disable, backend=backend)
        else:
            change_set.execution_status = "EXECUTE_COMPLETE"
            engine.update(stack, ctx, change_set.template, change_set.parameters, backend=backend,
                          disable_rollback=disable or None)
    return EmptyResult()


# ---------------------------------------------------------------------------------------------- concurrency, memory

# Deleted stacks stay answerable by id as on AWS, but only the newest: moto keeps every one forever.
DELETED_STACKS_KEPT = 200
# moto records every model it ever made for its dashboard (/moto-api/data.json): off unless that is served.
_tracking = {"servers": 0}


def track_instances(enabled: bool) -> None:
    """A sandbox serving /moto-api starts (True) or stops (False): models are recorded while any one runs."""
    with _INSTALL_LOCK:
        _tracking["servers"] = max(0, _tracking["servers"] + (1 if enabled else -1))


def _model_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    instance = object.__new__(cls)
    if _tracking["servers"]:
        cls.instances_tracked.append(instance)  # type: ignore[attr-defined]
    return instance


def _describe_stacks(self: Any, name_or_stack_id: str) -> list[Stack]:
    """moto's search of the live dicts races concurrent creates/deletes (an HTTP 500): search an atomic copy."""
    snapshot = SimpleNamespace(stacks=dict(self.stacks), deleted_stacks=dict(self.deleted_stacks))
    return _ORIGINALS["describe_stacks"](snapshot, name_or_stack_id)


def _list_stack_resources(self: CloudFormationResponse) -> ActionResult:
    """Statuses come from the sandbox's events; reading never creates resources (moto's lazy map does)."""
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["list_stack_resources"](self)
    with ctx.lock:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        keys = ("LogicalResourceId", "PhysicalResourceId", "ResourceType", "LastUpdatedTimestamp", "ResourceStatus",
                "ResourceStatusReason", "DriftInformation")
        rows = [{k: row[k] for k in keys if row.get(k) is not None} for row in inventory.stack_resources(stack)]
    return ActionResult({"StackResourceSummaries": rows})


EVENTS_PAGE = 100  # DescribeStackEvents' page size on AWS


def _describe_stack_events(self: CloudFormationResponse) -> ActionResult:
    """Pages of 100 events, newest first, as AWS answers (moto sends every event in one page): a reader that
    stops at the last event it has seen then costs what is new, not the stack's whole history per poll.
    The token is a position counted from the oldest event, so events added between two pages shift nothing."""
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["describe_stack_events"](self)
    events = self.cloudformation_backend.describe_stack_events(self._get_param("StackName"))
    token = self._get_param("NextToken")
    if token is not None and not (str(token).isdigit() and 0 < int(token) <= len(events)):
        raise ValidationError(message="Invalid NextToken")
    end = int(token) if token is not None else len(events)
    start = max(0, end - EVENTS_PAGE)
    result: dict[str, Any] = {"StackEvents": events[start:end][::-1]}
    if start > 0:
        result["NextToken"] = str(start)
    return ActionResult(result)


def _describe_stack_resources(self: CloudFormationResponse) -> ActionResult:
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["describe_stack_resources"](self)
    logical = self._get_param("LogicalResourceId")
    physical = self._get_param("PhysicalResourceId")
    backend = self.cloudformation_backend
    with ctx.lock:
        stacks = [backend.get_stack(self._get_param("StackName"))] if self._get_param("StackName") else \
            list(backend.stacks.values())
        keys = ("StackName", "StackId", "LogicalResourceId", "PhysicalResourceId", "ResourceType", "Timestamp",
                "ResourceStatus", "ResourceStatusReason", "DriftInformation")
        rows = [
            {k: row[k] for k in keys if row.get(k) is not None}
            for stack in stacks for row in inventory.stack_resources(stack)
            if (not logical or row["LogicalResourceId"] == logical)
            and (not physical or row["PhysicalResourceId"] == physical)
        ]
    return ActionResult({"StackResources": rows})


def _describe_stack_resource(self: CloudFormationResponse) -> ActionResult:
    ctx = context_for(self.current_account)
    if ctx is None:
        return _ORIGINALS["describe_stack_resource"](self)
    name, logical = self._get_param("StackName"), self._get_param("LogicalResourceId")
    with ctx.lock:
        stack = self.cloudformation_backend.get_stack(name)
        for row in inventory.stack_resources(stack):
            if row["LogicalResourceId"] == logical:
                detail = {k: v for k, v in row.items() if v is not None and k != "Timestamp"}
                definition = (stack.template_dict.get("Resources") or {}).get(logical) or {}
                if "Metadata" in definition:
                    detail["Metadata"] = json.dumps(definition["Metadata"])
                return ActionResult({"StackResourceDetail": detail})
    raise ValidationError(name, message=f"Resource {logical} does not exist for stack {name}")


# ---------------------------------------------------------------------------------------------- KMS key material


# ---------------------------------------------------------------------------------------------- install


_SEAMS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    *TEMPLATE_SEAMS,
    ("create_stack", CloudFormationResponse, "create_stack", _create_stack),
    ("update_stack", CloudFormationResponse, "update_stack", _update_stack),
    ("delete_stack", CloudFormationResponse, "delete_stack", _delete_stack),
    ("execute_change_set", CloudFormationResponse, "execute_change_set", _execute_change_set),
    ("describe_stacks", CloudFormationBackend, "describe_stacks", _describe_stacks),
    ("model_new", BaseModel, "__new__", staticmethod(_model_new)),
    ("list_stack_resources", CloudFormationResponse, "list_stack_resources", _list_stack_resources),
    ("describe_stack_events", CloudFormationResponse, "describe_stack_events", _describe_stack_events),
    ("describe_stack_resources", CloudFormationResponse, "describe_stack_resources", _describe_stack_resources),
    ("describe_stack_resource", CloudFormationResponse, "describe_stack_resource", _describe_stack_resource),
    ("getitem", ResourceMap, "__getitem__", _getitem),
    ("validate_outputs", ResourceMap, "validate_outputs", _validate_outputs),
    ("kms_private_key", kms_models, "generate_private_key", lazy_private_key),
    *moto_backup.SEAMS,
]

# Operations moto lacks, added to its classes (or URL tables): each must still be absent (moto's own would win).
_ADDITIONS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    *moto_backup.ADDITIONS, *moto_cloudfront.ADDITIONS, *moto_cloudfront_policies.ADDITIONS]


def _present(owner: Any, attribute: str) -> Any:
    return owner.get(attribute) if isinstance(owner, dict) else getattr(owner, attribute, None)

_installed = False


def install() -> None:
    """Apply every seam once per process, after the self-test confirms moto still has them."""
    global _installed
    with _INSTALL_LOCK:
        if _installed:
            return
        check_seams()
        for key, owner, attribute, replacement in _SEAMS:
            _ORIGINALS[key] = getattr(owner, attribute)
            setattr(owner, attribute, replacement)
        patches_ec2.install()
        patches_route53.install()
        for _, owner, attribute, addition in _ADDITIONS:
            if isinstance(owner, dict):
                owner[attribute] = addition
            else:
                setattr(owner, attribute, addition)
        _installed = True


def check_seams() -> None:
    """Fail loudly when moto no longer has what the rules patch or read."""
    problems = []
    if moto.__version__ != MOTO_VERSION:
        problems.append(f"moto {moto.__version__} installed, the sandbox is built against {MOTO_VERSION}")
    for key, owner, attribute, _ in _SEAMS:
        if not callable(getattr(owner, attribute, None)):
            problems.append(f"{getattr(owner, '__name__', owner)}.{attribute} is missing")
    for key, owner, attribute, addition in _ADDITIONS:
        if _present(owner, attribute) not in (None, addition):
            problems.append(f"{getattr(owner, '__name__', key)}.{attribute} now exists in moto; drop the sandbox's addition")
    needed = [
        (parsing, "parse_resource_and_generate_name"), (parsing, "generate_resource_name"), (parsing, "Export"),
        (parsing, "get_model_map"), (parsing, "NULL_MODELS"), (parsing, "get_references_from_template"),
        (ResourceMap, "_delete_resource"), (ResourceMap, "load_parameters"), (ResourceMap, "load_conditions"),
        (ResourceMap, "load_mapping"), (Stack, "_create_output_map"), (Stack, "_create_resource_map"),
        (Stack, "parse_template"), (CloudFormationResponse, "_get_params_from_list"),
        (CloudFormationResponse, "_get_stack_from_s3_url"),
    ]
    for owner, attribute in needed:
        if not hasattr(owner, attribute):
            problems.append(f"{owner.__name__}.{attribute} is missing")
    from moto.iam.models import AWSManagedPolicy, IAMBackend
    from moto.kms.models import KmsBackend

    for owner, attribute in ((AWSManagedPolicy, "from_data"), (KmsBackend, "any_id_to_key_id")):
        if not hasattr(owner, attribute):
            problems.append(f"{owner.__name__}.{attribute} is missing")
    if not hasattr(IAMBackend, "get_role"):
        problems.append("IAMBackend.get_role is missing")
    from moto.core.base_backend import BackendDict
    from moto.iam.models import AccessKey
    from moto.moto_server import werkzeug_app

    if not isinstance(getattr(BackendDict, "_instances", None), list):
        problems.append("BackendDict._instances (per-account reset) is missing")
    if "user_name" not in AccessKey.__init__.__code__.co_varnames:
        problems.append("AccessKey(user_name, prefix, account_id) changed")
    for name in ("DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app"):
        if not hasattr(werkzeug_app, name):
            problems.append(f"moto.moto_server.werkzeug_app.{name} is missing")
    problems.extend(lazy_model_problems())
    problems.extend(patches_ec2.problems())
    problems.extend(patches_route53.problems())
    if problems:
        raise SandboxSelfTestError("embedded sandbox self-test failed: " + "; ".join(problems))


def installed() -> bool:
    return _installed


_self_tested = False


def self_test(*, use_cache: bool = True) -> bool:
    """Install the seams and prove the rules still work on this moto: a bad managed-policy ARN and a key
    the logs principal may not use fail with AWS's texts, the stack rolls back, nothing is left.
    Raises SandboxSelfTestError otherwise. Runs once per process, and once per machine while moto's
    version, the seam table and the sandbox's sources stay the same (the verdict is cached; the seams
    themselves are checked on every install). Returns whether the stack test ran."""
    global _self_tested
    install()
    with _INSTALL_LOCK:
        if _self_tested:
            return False
        key = bootstrap.self_test_key(moto.__version__, [f"{k}:{getattr(o, '__name__', type(o).__name__)}.{a}" for k, o, a, _ in (*_SEAMS, *_ADDITIONS)])
        if use_cache and bootstrap.self_test_passed_before(key):
            _self_tested = True
            return False
        from importlib import resources

        from orchestrator.sandbox.config import SandboxConfig
        from orchestrator.sandbox.context import SandboxContext, register, unregister

        account = "000000000042"
        ctx = SandboxContext(account_id=account, region="us-east-1", config=SandboxConfig())
        register(ctx)
        try:
            stack = Stack(stack_id=generate_stack_id("self-test", "us-east-1", account), name="self-test",
                          template=resources.files("orchestrator.data").joinpath("sandbox_self_test.json").read_text(encoding="utf-8"), parameters={}, account_id=account,
                          region_name="us-east-1")
            engine.create(stack, ctx)
            reasons = {e.logical_resource_id: e.resource_status_reason for e in stack.events
                       if e.resource_status == "CREATE_FAILED"}
            problems = []
            if stack.status != "ROLLBACK_COMPLETE":
                problems.append(f"stack ended {stack.status}, expected ROLLBACK_COMPLETE")
            if "does not exist or is not attachable" not in (reasons.get("Role") or ""):
                problems.append(f"managed-policy rule did not fire (Role: {reasons.get('Role')})")
            if "is not allowed to be used with Arn" not in (reasons.get("Group") or ""):
                problems.append(f"logs KMS rule did not fire (Group: {reasons.get('Group')})")
            if stack.resource_map._parsed_resources.get("App") is not None:
                problems.append("rollback left the emulated resource behind")
            completed = {e.logical_resource_id for e in stack.events if e.resource_status == "CREATE_COMPLETE"}
            if "Tagged" not in completed:
                problems.append("template processing or the KMS tag form broke (Tagged was not created)")
            parsed = parse_template_text("Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Metadata: {V: 2012-10-17}\n")
            if parsed["Resources"]["T"]["Metadata"] != {"V": "2012-10-17"}:
                problems.append("YAML dates are no longer read as strings")
            try:
                IAMPolicyDocumentValidator(json.dumps({"Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})).validate()
            except Exception as exc:  # noqa: BLE001 - any refusal means the seam no longer works
                problems.append(f"a policy without Version is refused ({exc})")
            if problems:
                raise SandboxSelfTestError("embedded sandbox self-test failed: " + "; ".join(problems))
        finally:
            unregister(account)
            drop_account_state(account)
        _self_tested = True
        bootstrap.remember_self_test(key)
        return True

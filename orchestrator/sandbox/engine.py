"""CloudFormation's stack model for sandbox accounts: waves, per-resource events, failure, rollback, update, delete."""

from __future__ import annotations

import copy
import heapq
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack
from moto.core.utils import utcnow
from moto.utilities.utils import get_partition

from orchestrator.sandbox import deletion, models, outputs, rules, schema_check, transforms
from orchestrator.sandbox import properties as property_forms
from orchestrator.sandbox.context import SandboxContext

log = structlog.get_logger(__name__)

STACK_TYPE = "AWS::CloudFormation::Stack"
# Typical CloudFormation durations in simulated seconds; only their ratios matter (they decide which
# resources are still in progress, hence cancelled, when another one fails).
DURATIONS = {
    "AWS::IAM::Role": 15, "AWS::IAM::Policy": 16, "AWS::IAM::ManagedPolicy": 12, "AWS::IAM::InstanceProfile": 120,
    "AWS::IAM::User": 8, "AWS::KMS::Key": 4, "AWS::KMS::Alias": 2, "AWS::Logs::LogGroup": 2,
    "AWS::EC2::VPC": 12, "AWS::EC2::Subnet": 5, "AWS::EC2::InternetGateway": 3, "AWS::EC2::VPCGatewayAttachment": 17,
    "AWS::EC2::RouteTable": 3, "AWS::EC2::Route": 3, "AWS::EC2::SubnetRouteTableAssociation": 2,
    "AWS::EC2::EIP": 3, "AWS::EC2::NatGateway": 95, "AWS::EC2::SecurityGroup": 6, "AWS::EC2::LaunchTemplate": 2,
    "AWS::EC2::Instance": 35, "AWS::AutoScaling::AutoScalingGroup": 70,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": 150, "AWS::ElasticLoadBalancingV2::TargetGroup": 2,
    "AWS::ElasticLoadBalancingV2::Listener": 2, "AWS::S3::Bucket": 22, "AWS::S3::BucketPolicy": 2,
    "AWS::Lambda::Function": 8, "AWS::CodeBuild::Project": 3,
}
DEFAULT_DURATION = 4
FAILURE_DURATION = 2  # handlers fail on their first API call
CANCEL_DELAY = 1  # in-progress resources completing within this window finish; later ones are cancelled


@dataclass
class ResourceState:
    """CloudFormation's view of one resource of a stack."""

    logical_id: str
    resource_type: str
    status: str = ""
    reason: str = ""
    physical_id: str = ""
    timestamp: datetime | None = None
    emulated: bool = False
    emulation_reason: str = ""
    limitation: str = ""  # why the sandbox's model of the type could not build it (not an AWS failure)


@dataclass
class StackRuntime:
    """Sandbox state attached to a moto Stack (stack.sbx)."""

    ctx: SandboxContext
    resources: dict[str, ResourceState] = field(default_factory=dict)
    last_time: datetime | None = None
    skipped_by_condition: list[str] = field(default_factory=list)

    def state(self, logical_id: str, resource_type: str) -> ResourceState:
        if logical_id not in self.resources:
            self.resources[logical_id] = ResourceState(logical_id, resource_type)
        state = self.resources[logical_id]
        state.resource_type = resource_type
        return state


class Clock:
    """Simulated seconds mapped onto timestamps; strictly increasing so event order is unambiguous."""

    def __init__(self, runtime: StackRuntime, scale: float):
        now = utcnow()
        if runtime.last_time and runtime.last_time >= now:
            now = runtime.last_time + timedelta(milliseconds=1)
        self.base = now
        self.scale = scale
        self.runtime = runtime

    def at(self, seconds: float) -> datetime:
        stamp = self.base + timedelta(seconds=seconds * self.scale)
        last = self.runtime.last_time
        if last is not None and stamp <= last:
            stamp = last + timedelta(microseconds=1000)
        self.runtime.last_time = stamp
        return stamp


def runtime_of(stack: Stack, ctx: SandboxContext) -> StackRuntime:
    if getattr(stack, "sbx", None) is None:
        stack.sbx = StackRuntime(ctx)
    return stack.sbx


# ---------------------------------------------------------------------------------------------- events


def _event(stack: Stack, clock: Clock, t: float, resource: tuple[str, str], status: str, **fields: Any) -> datetime:
    """Append one event; `resource` is (logical id, type), `fields` may hold reason, physical_id, properties."""
    logical_id, resource_type = resource
    reason, properties = fields.get("reason"), fields.get("properties")
    physical_id = fields.get("physical_id") or ""
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=json.dumps(properties) if properties is not None else None,
    )
    event.timestamp = clock.at(t)
    stack.events.append(event)
    return event.timestamp


def stack_event(stack: Stack, clock: Clock, t: float, status: str, reason: str | None = None) -> None:
    _event(stack, clock, t, (stack.name, STACK_TYPE), status, reason=reason, physical_id=stack.stack_id)
    stack.status = status
    stack.stack_status_reason = reason
    log.debug("stack_event", stack=stack.name, status=status, reason=reason)


def resource_event(stack: Stack, rt: StackRuntime, clock: Clock, t: float, logical_id: str, resource_type: str,
                   status: str, **fields: Any) -> None:
    """Record a resource's new status and its event; `fields` may hold reason, physical_id, properties."""
    reason, physical_id = fields.get("reason") or "", fields.get("physical_id")
    state = rt.state(logical_id, resource_type)
    if physical_id is not None:
        state.physical_id = physical_id
    state.status, state.reason = status, reason
    state.timestamp = _event(stack, clock, t, (logical_id, resource_type), status, reason=reason or None,
                             physical_id=state.physical_id, properties=fields.get("properties"))


# ---------------------------------------------------------------------------------------------- simulation


@dataclass(order=True)
class _Pending:
    time: float
    seq: int
    logical_id: str = field(compare=False)
    reason: str | None = field(compare=False, default=None)  # None: success


def _duration(resource_type: str) -> float:
    return DURATIONS.get(resource_type, DEFAULT_DURATION)


def _apply(stack: Stack, rt: StackRuntime, clock: Clock, actions: dict[str, str], graph: rules.TemplateGraph,
           t: float) -> tuple[float, list[str]]:
    """Run create/update actions in CloudFormation's order; returns (end time, failed logical ids).

    A resource starts as soon as everything it depends on is complete; when one fails, the others in
    progress are cancelled and nothing new starts.
    """
    ctx = rt.ctx
    new_id = rules.request_id_factory(ctx)
    resources = graph.resources
    waiting = dict(actions)
    satisfied = {lid for lid in resources if lid not in actions}
    heap: list[_Pending] = []
    seq = itertools.count()
    failed: list[str] = []
    failing = False

    def start(lid: str, now: float) -> None:
        definition = resources[lid]
        rtype = definition["Type"]
        verb = actions[lid]
        progress = "CREATE_IN_PROGRESS" if verb == "create" else "UPDATE_IN_PROGRESS"
        if verb == "create":
            resource_event(stack, rt, clock, now, lid, rtype, progress, physical_id="",
                           properties=definition.get("Properties"))
        else:
            resource_event(stack, rt, clock, now, lid, rtype, progress, properties=definition.get("Properties"))
        failure = None
        rt.state(lid, rtype).limitation = ""
        try:
            try:
                cls, resolved, name = models.prepare(stack, lid, definition)
            except Exception as exc:
                if models.is_client_error(exc):
                    raise
                log.warning("moto_resolve_failed", logical_id=lid, resource_type=rtype, error=repr(exc))
                raise models.SandboxLimitation(rtype, "resolving the resource's properties", exc) from exc
            check = rules.Check(ctx=ctx, logical_id=lid, resource_type=rtype, definition=definition,
                                properties=resolved.setdefault("Properties", {}), physical_name=name, graph=graph,
                                lookup=lambda other: stack.resource_map._parsed_resources.get(other),
                                status_of=lambda other: (rt.resources[other].status if other in rt.resources else ""),
                                account_id=stack.account_id, region=stack.region_name,
                                partition=get_partition(stack.region_name))
            for fixup in rules.PRE_CREATE_FIXUPS:
                fixup(check)
            property_forms.apply(rtype, check.properties)
            failure = rules.run_checks(check)
            if failure is None and cls is None:
                invalid = schema_check.message(rtype, lid, check.properties)
                failure = rules.RuleFailure(invalid, "InvalidRequest", form="plain") if invalid else None
            if failure is None:
                if verb == "create":
                    # A resource cancelled earlier may exist half-made; CloudFormation replaces it.
                    models.delete_model(stack, lid, definition)
                    model, emulated, why = models.create_model(stack, ctx, lid, definition, cls, resolved, name)
                else:
                    model, emulated, why = models.update_model(stack, ctx, lid, definition, cls, resolved, name)
                stack.resource_map._parsed_resources[lid] = model
                for fixup in rules.POST_CREATE_FIXUPS:
                    if not emulated:
                        fixup(check, model)
                state = rt.state(lid, rtype)
                state.emulated, state.emulation_reason = emulated, why
                physical = getattr(model, "physical_resource_id", None) or name
                if verb == "create":
                    resource_event(stack, rt, clock, now, lid, rtype, progress, reason="Resource creation Initiated",
                                   physical_id=str(physical), properties=definition.get("Properties"))
                else:
                    rt.state(lid, rtype).physical_id = str(physical)
        except models.SandboxLimitation as exc:
            rt.state(lid, rtype).limitation = str(exc)
            failure = rules.RuleFailure(str(exc), "InternalFailure", form="plain")
        except Exception as exc:
            if not models.is_client_error(exc):
                # Never an HTTP 500: whatever else broke is the sandbox's, and reported as its limitation.
                log.warning("sandbox_step_failed", logical_id=lid, resource_type=rtype, error=repr(exc))
                limitation = models.SandboxLimitation(rtype, "applying the sandbox's rules", exc)
                rt.state(lid, rtype).limitation = str(limitation)
                failure = rules.RuleFailure(str(limitation), "InternalFailure", form="plain")
            else:
                failure = models.client_error_failure(exc, rtype)
        if failure is not None:
            reason = failure.reason(new_id)
            heapq.heappush(heap, _Pending(now + min(FAILURE_DURATION, _duration(rtype)), next(seq), lid, reason))
        else:
            heapq.heappush(heap, _Pending(now + _duration(rtype), next(seq), lid))

    def start_ready(now: float) -> None:
        for lid in sorted(waiting):
            if graph.deps[lid] <= satisfied:
                del waiting[lid]
                start(lid, now)

    start_ready(t)
    deadline = 0.0
    while heap:
        item = heapq.heappop(heap)
        if failing and item.time > deadline:
            # Everything still in progress when the failure is acted on is cancelled.
            for other in [item, *sorted(heap)]:
                other_type = resources[other.logical_id]["Type"]
                other_verb = actions[other.logical_id]
                resource_event(stack, rt, clock, deadline, other.logical_id, other_type,
                               "CREATE_FAILED" if other_verb == "create" else "UPDATE_FAILED",
                               reason="Resource creation cancelled" if other_verb == "create" else "Resource update cancelled")
                failed.append(other.logical_id)
            heap.clear()
            break
        t = max(t, item.time)
        lid = item.logical_id
        rtype = resources[lid]["Type"]
        verb = actions[lid]
        if item.reason is None:
            resource_event(stack, rt, clock, t, lid, rtype, "CREATE_COMPLETE" if verb == "create" else "UPDATE_COMPLETE")
            satisfied.add(lid)
            if not failing:
                start_ready(t)
            continue
        resource_event(stack, rt, clock, t, lid, rtype, "CREATE_FAILED" if verb == "create" else "UPDATE_FAILED",
                       reason=item.reason)
        failed.append(lid)
        log.debug("resource_failed", stack=stack.name, logical_id=lid, reason=item.reason)
        if not failing:
            failing = True
            deadline = t + CANCEL_DELAY
    return t, failed


def _delete_resources(stack: Stack, rt: StackRuntime, clock: Clock, logical_ids: list[str], graph_deps: dict[str, set[str]],
                      t: float, definitions: dict[str, dict], *, rolling_back_creation: bool = False) -> tuple[float, list[str]]:
    return deletion.delete_resources(stack, rt, clock, logical_ids, graph_deps, t, definitions,
                                     rolling_back_creation=rolling_back_creation)


def _failure_list(failed: list[str]) -> str:
    return ", ".join(sorted(set(failed)))


# ---------------------------------------------------------------------------------------------- operations


def create(stack: Stack, ctx: SandboxContext, *, disable_rollback: bool = False, on_failure: str | None = None,
           backend: Any = None) -> None:
    """CreateStack / ExecuteChangeSet(CREATE): events, waves, then CREATE_COMPLETE, rollback or CREATE_FAILED."""
    if on_failure == "DO_NOTHING":
        disable_rollback = True
    stack.disable_rollback = disable_rollback
    rt = runtime_of(stack, ctx)
    clock = Clock(rt, ctx.config.time_scale)
    stack_event(stack, clock, 0, "CREATE_IN_PROGRESS", "User Initiated")
    active = models.active_resources(stack.template_dict, stack.resource_map, rt)
    graph = rules.TemplateGraph.build(active)
    t, failed = _apply(stack, rt, clock, {lid: "create" for lid in active}, graph, 0)
    stack.resource_map._sbx_created = True
    outputs_error = None if failed else outputs.evaluate(stack)
    if not failed and outputs_error is None:
        stack_event(stack, clock, t, "CREATE_COMPLETE")
        _refresh_exports(stack, backend)
        return
    stack.output_map = outputs.FrozenOutputs()
    reason = outputs_error + " " if outputs_error else f"The following resource(s) failed to create: [{_failure_list(failed)}]. "
    if disable_rollback:
        stack_event(stack, clock, t + 0.5, "CREATE_FAILED", reason)
        return
    stack_event(stack, clock, t + 0.5, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
    t, undeleted = _delete_resources(stack, rt, clock, deletion.existing(rt), graph.deps, t + 1, active, rolling_back_creation=True)
    if undeleted:
        stack_event(stack, clock, t + 0.5, "ROLLBACK_FAILED", f"The following resource(s) failed to delete: [{_failure_list(undeleted)}]. ")
        return
    stack_event(stack, clock, t + 0.5, "ROLLBACK_COMPLETE")
    if on_failure == "DELETE" and backend is not None:
        delete(stack, ctx, backend)


UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "CREATE_FAILED", "UPDATE_FAILED"}


def check_updatable(stack: Stack) -> None:
    """AWS refuses UpdateStack outside a stable, updatable state with exactly this text."""
    if stack.status not in UPDATABLE or (stack.status in ("CREATE_FAILED", "UPDATE_FAILED") and not stack.disable_rollback):
        raise ValidationError(stack.stack_id,
                              message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def update(stack: Stack, ctx: SandboxContext, template: str, parameters: dict[str, Any], *,
           disable_rollback: bool | None = None, backend: Any = None, tags: dict | None = None) -> None:
    """UpdateStack / ExecuteChangeSet(UPDATE): create what is missing, update what changed, delete what left.

    From CREATE_FAILED (rollback disabled) resources that failed or never started are created, as AWS
    does when an update resumes a stack whose creation was not rolled back.
    """
    check_updatable(stack)
    rt = runtime_of(stack, ctx)
    if disable_rollback is not None:
        stack.disable_rollback = disable_rollback
    old_template, old_parameters = stack.template, dict(stack.parameters)
    old_resources = copy.deepcopy(stack.template_dict.get("Resources") or {})
    old_resolved = dict(stack.resource_map.resolved_parameters)

    new_dict = transforms.expand(Stack.parse_template(template), parameters, stack.region_name)
    if not isinstance(new_dict, dict) or not new_dict.get("Resources"):
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    rmap = stack.resource_map
    rmap._template = new_dict
    rmap._resource_json_map = new_dict["Resources"]
    rmap.input_parameters = parameters
    rmap.load_mapping()
    rmap.load_parameters()
    rmap.load_conditions()
    active = models.active_resources(new_dict, rmap, rt)
    param_changed = {k for k in set(old_resolved) | set(rmap.resolved_parameters)
                     if old_resolved.get(k) != rmap.resolved_parameters.get(k)}

    actions: dict[str, str] = {}
    for lid, definition in active.items():
        state = rt.resources.get(lid)
        if state is None or not state.status or state.status.startswith("DELETE_") or state.status in (
                "CREATE_FAILED", "CREATE_IN_PROGRESS") or lid not in rmap._parsed_resources:
            actions[lid] = "create"
        elif old_resources.get(lid) != definition or (param_changed & set(parsing.get_references_from_template(definition))):
            actions[lid] = "update"
        elif state.status == "UPDATE_FAILED":
            actions[lid] = "update"
    removed = [lid for lid in deletion.existing(rt) if lid not in active]
    if not actions and not removed and old_template == template:
        raise ValidationError(stack.name, message="No updates are to be performed.")

    stack.template = template
    stack.template_dict = new_dict
    stack.parameters = parameters
    stack.description = new_dict.get("Description")
    if tags is not None:
        stack.tags = tags
    stack.output_map = stack._create_output_map()
    stack.last_updated_time = utcnow()
    clock = Clock(rt, ctx.config.time_scale)
    stack_event(stack, clock, 0, "UPDATE_IN_PROGRESS", "User Initiated")
    graph = rules.TemplateGraph.build(active)
    t, failed = _apply(stack, rt, clock, actions, graph, 0)
    outputs_error = None if failed else outputs.evaluate(stack)
    if not failed and outputs_error is None:
        if removed:
            stack_event(stack, clock, t + 0.5, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            old_graph = rules.TemplateGraph.build(old_resources)
            t, _ = _delete_resources(stack, rt, clock, removed, old_graph.deps, t + 1, old_resources)
        stack_event(stack, clock, t + 0.5, "UPDATE_COMPLETE")
        _refresh_exports(stack, backend)
        return
    creates = [lid for lid in failed if actions.get(lid) == "create"]
    verb = "create" if len(creates) == len(set(failed)) else "update"
    reason = outputs_error + " " if outputs_error else \
        f"The following resource(s) failed to {verb}: [{_failure_list(failed)}]. "
    if stack.disable_rollback:
        stack.output_map = outputs.FrozenOutputs()
        stack_event(stack, clock, t + 0.5, "UPDATE_FAILED", reason)
        return
    # Rollback: remove what this update created, restore the previous template.
    stack_event(stack, clock, t + 0.5, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    created_now = [lid for lid, verb_ in actions.items() if verb_ == "create" and lid not in old_resources
                   and rt.resources.get(lid) and rt.resources[lid].status and not rt.resources[lid].status.startswith("DELETE_")]
    for lid in [lid for lid, verb_ in actions.items() if verb_ == "update"]:
        state = rt.resources[lid]
        resource_event(stack, rt, clock, t + 1, lid, state.resource_type, "UPDATE_IN_PROGRESS")
        resource_event(stack, rt, clock, t + 2, lid, state.resource_type, "UPDATE_COMPLETE")
    stack.template, stack.parameters = old_template, old_parameters
    stack.template_dict = Stack.parse_template(old_template) if isinstance(old_template, str) else old_template
    rmap._template = stack.template_dict
    rmap._resource_json_map = stack.template_dict.get("Resources") or {}
    rmap.input_parameters = old_parameters
    rmap.load_parameters()
    rmap.load_conditions()
    outputs.evaluate(stack)
    stack_event(stack, clock, t + 3, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    t, _ = _delete_resources(stack, rt, clock, created_now, graph.deps, t + 4, active, rolling_back_creation=True)
    stack_event(stack, clock, t + 0.5, "UPDATE_ROLLBACK_COMPLETE")


def delete(stack: Stack, ctx: SandboxContext, backend: Any) -> None:
    """DeleteStack from any state: resources deleted in reverse order, then DELETE_COMPLETE."""
    if stack.status == "DELETE_COMPLETE":
        return
    rt = runtime_of(stack, ctx)
    clock = Clock(rt, ctx.config.time_scale)
    stack_event(stack, clock, 0, "DELETE_IN_PROGRESS", "User Initiated")
    definitions = stack.template_dict.get("Resources") or {} if isinstance(stack.template_dict, dict) else {}
    existing = deletion.existing(rt)
    deps = rules.TemplateGraph.build({lid: definitions.get(lid, {"Type": rt.resources[lid].resource_type})
                                      for lid in existing}).deps
    t, undeleted = _delete_resources(stack, rt, clock, existing, deps, 1, definitions)
    if undeleted:  # the stack stays, DELETE_FAILED; a later DeleteStack tries those resources again
        stack_event(stack, clock, t + 0.5, "DELETE_FAILED", f"The following resource(s) failed to delete: [{_failure_list(undeleted)}]. ")
        return
    stack_event(stack, clock, t + 0.5, "DELETE_COMPLETE")
    for export in list(backend.exports.values()):
        if export.exporting_stack_id == stack.stack_id:
            backend.exports.pop(export.name, None)
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack


def _refresh_exports(stack: Stack, backend: Any) -> None:
    if backend is None:
        return
    for export in list(backend.exports.values()):
        if export.exporting_stack_id == stack.stack_id:
            backend.exports.pop(export.name, None)
    for export in stack.exports:
        backend.exports[export.name] = export

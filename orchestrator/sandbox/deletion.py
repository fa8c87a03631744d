"""How the sandbox deletes a stack's resources: reverse dependency order, DeletionPolicy, and the refusals of S3.

AWS keeps a resource whose DeletionPolicy is Retain (event DELETE_SKIPPED; RetainExceptOnCreate keeps it too,
unless the operation being rolled back created it), and S3 refuses to delete a bucket that still holds objects
or object versions: the resource ends DELETE_FAILED with S3's BucketNotEmpty text, what it depends on stays,
and the stack ends DELETE_FAILED (ROLLBACK_FAILED in a rollback) naming it. A later DeleteStack tries the
failed resources again. Sources: the DeletionPolicy attribute's page in the CloudFormation User Guide; S3's
DeleteBucket reference (BucketNotEmpty, 409); the stack and resource events quoted in aws/aws-cdk#21776 and
F5Networks/f5-aws-cloudformation#52.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from moto.cloudformation.models import Stack
from moto.utilities.utils import get_partition

from orchestrator.sandbox import models

DELETE_DURATION = 2


def retained(definition: dict | None, *, rolling_back_creation: bool) -> bool:
    """True when AWS keeps the resource: DeletionPolicy Retain, or RetainExceptOnCreate outside the rollback of
    the operation that created it."""
    policy = (definition or {}).get("DeletionPolicy")
    if policy == "Retain":
        return True
    return policy == "RetainExceptOnCreate" and not rolling_back_creation


def refusal(stack: Stack, resource_type: str, physical_id: str | None) -> str | None:
    """The service's own refusal to delete this resource, as CloudFormation reports it; None when it may go."""
    if resource_type != "AWS::S3::Bucket" or not physical_id:
        return None
    from moto.s3.models import s3_backends

    bucket = s3_backends[stack.account_id][get_partition(stack.region_name)].buckets.get(physical_id)
    if bucket is None or not bucket.keys:  # versions and delete markers live under their keys too
        return None
    request = hashlib.sha256(f"{stack.stack_id}/{physical_id}".encode()).hexdigest().upper()
    return (f"The bucket you tried to delete is not empty (Service: Amazon S3; Status Code: 409; Error Code: "
            f"BucketNotEmpty; Request ID: {request[:16]}; S3 Extended Request ID: {request[16:72]}; Proxy: null)")


def delete_resources(stack: Stack, rt: Any, clock: Any, logical_ids: list[str], graph_deps: dict[str, set[str]],
                     t: float, definitions: dict[str, dict], *, rolling_back_creation: bool = False) -> tuple[float, list[str]]:
    """Delete in reverse dependency order: a resource goes once everything depending on it is gone.

    Returns the time reached and the resources that failed to delete; what a failed resource depends on is left
    untouched, as CloudFormation leaves it.
    """
    from orchestrator.sandbox.engine import resource_event as emit  # the engine calls this module: no cycle at import

    remaining = set(logical_ids)
    # Dependents still to delete, counted once and kept current (not rescanned per wave: linear in size).
    deps = {lid: {d for d in graph_deps.get(lid, ()) if d in remaining and d != lid} for lid in remaining}
    dependents = Counter(d for ds in deps.values() for d in ds)
    failed: list[str] = []
    while remaining:
        wave = sorted(lid for lid in remaining if dependents[lid] == 0) or sorted(remaining)  # never loop forever
        kept = [lid for lid in wave if retained(definitions.get(lid), rolling_back_creation=rolling_back_creation)]
        for lid in wave:
            if lid not in kept:
                emit(stack, rt, clock, t, lid, rt.resources[lid].resource_type, "DELETE_IN_PROGRESS")
        t += DELETE_DURATION
        for lid in wave:
            state = rt.resources[lid]
            if lid in kept:
                models.forget_model(stack, lid)
                emit(stack, rt, clock, t, lid, state.resource_type, "DELETE_SKIPPED")
            # The service refuses before anything is deleted; a child stack refuses while it is being deleted.
            elif (reason := refusal(stack, state.resource_type, state.physical_id)
                  or models.delete_model(stack, lid, definitions.get(lid))) is not None:
                emit(stack, rt, clock, t, lid, state.resource_type, "DELETE_FAILED", reason=reason)
                failed.append(lid)
                continue  # still there: what it depends on stays too
            else:
                emit(stack, rt, clock, t, lid, state.resource_type, "DELETE_COMPLETE")
            dependents.subtract(deps[lid])
        remaining -= set(wave)
        remaining -= _needed_by(failed, deps, remaining)
    return t, failed


def _needed_by(failed: list[str], deps: dict[str, set[str]], remaining: set[str]) -> set[str]:
    """Everything the failed resources depend on, directly or not, among those not deleted yet."""
    found: set[str] = set()
    stack_ = [d for lid in failed for d in deps.get(lid, ())]
    while stack_:
        lid = stack_.pop()
        if lid in remaining and lid not in found:
            found.add(lid)
            stack_.extend(deps.get(lid, ()))
    return found


def existing(rt: Any) -> list[str]:
    """Resources that may hold something to delete: started, and neither deleted nor kept (a resource that
    failed to delete is tried again)."""
    return [lid for lid, s in rt.resources.items()
            if s.status and (not s.status.startswith("DELETE_") or s.status == "DELETE_FAILED")]

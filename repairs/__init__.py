"""The explicit registry of repairs: every built-in repair is registered here, third-party ones via entry points.

REGISTRY holds the built-in repairs and is never changed after import. `registry()` is what the tool
uses: the built-ins plus the repairs published under the `cfn_autofix.repairs` entry point group,
built once per process into a registry of its own (loading playbooks mutates nothing).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from orchestrator.errors import BadInput
from orchestrator.repairs.base import Repair, RepairRegistry
from orchestrator.repairs.depends_on import AddDependsOn
from orchestrator.repairs.logs_kms import LogsKmsKeyPolicy
from orchestrator.repairs.managed_policy import ManagedPolicyFixArn, ManagedPolicyInline
from orchestrator.repairs.availability_zone import AvailabilityZone
from orchestrator.repairs.iam_consistency import IamEventualConsistency
from orchestrator.repairs.lambda_runtime import LambdaRuntime
from orchestrator.repairs.names import NameAlreadyExists, NameInvalid
from orchestrator.repairs.needs_human import NeedsHuman
from orchestrator.repairs.policy_version import PolicyVersion
from orchestrator.repairs.retry import Retry

ENTRY_POINT_GROUP = "cfn_autofix.repairs"


def builtin_registry() -> RepairRegistry:
    """A new registry holding the built-in repairs."""
    found = RepairRegistry()
    for repair in (
        ManagedPolicyInline(), ManagedPolicyFixArn(), LogsKmsKeyPolicy(), AddDependsOn(), Retry(), NeedsHuman(),
        PolicyVersion(), LambdaRuntime(), NameInvalid(), NameAlreadyExists(), AvailabilityZone(),
        IamEventualConsistency(),
    ):
        found.register(repair)
    return found


REGISTRY = builtin_registry()


def entry_point_repairs() -> list[Repair]:
    """The repairs published under the `cfn_autofix.repairs` entry point group (a Repair class or instance)."""
    found: list[Repair] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = entry.load()
        except Exception as exc:  # a broken third-party package must be one clear line, not a traceback
            raise BadInput(f"entry point {entry.name} = {entry.value}: cannot be loaded: {exc}") from None
        repair = obj() if isinstance(obj, type) else obj
        if not isinstance(repair, Repair):
            raise BadInput(f"entry point {entry.name} = {entry.value}: is not an orchestrator.repairs.base.Repair")
        found.append(repair)
    return found


@lru_cache(maxsize=1)
def registry() -> RepairRegistry:
    """The built-ins plus the entry points' repairs; a duplicate id is a BadInput naming both classes."""
    found = builtin_registry()
    for repair in entry_point_repairs():
        found.register(repair)
    return found


__all__ = ["REGISTRY", "Repair", "RepairRegistry", "builtin_registry", "entry_point_repairs", "registry"]

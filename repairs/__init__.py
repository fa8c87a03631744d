"""The explicit registry of repairs: every built-in repair is registered here, third-party ones via entry points."""

from __future__ import annotations

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

REGISTRY = RepairRegistry()
REGISTRY.register(ManagedPolicyInline())
REGISTRY.register(ManagedPolicyFixArn())
REGISTRY.register(LogsKmsKeyPolicy())
REGISTRY.register(AddDependsOn())
REGISTRY.register(Retry())
REGISTRY.register(NeedsHuman())
REGISTRY.register(PolicyVersion())
REGISTRY.register(LambdaRuntime())
REGISTRY.register(NameInvalid())
REGISTRY.register(NameAlreadyExists())
REGISTRY.register(AvailabilityZone())
REGISTRY.register(IamEventualConsistency())

_loaded_entry_points: set[str] = set()


def load_entry_point_repairs() -> list[str]:
    """Register repairs published under the `cfn_autofix.repairs` entry point group (a Repair class or instance).

    Each entry point is loaded once per process; a duplicate id is a BadInput naming both classes.
    """
    added: list[str] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.value in _loaded_entry_points:
            continue
        try:
            obj = entry.load()
        except Exception as exc:  # a broken third-party package must be one clear line, not a traceback
            raise BadInput(f"entry point {entry.name} = {entry.value}: cannot be loaded: {exc}") from None
        repair = obj() if isinstance(obj, type) else obj
        if not isinstance(repair, Repair):
            raise BadInput(f"entry point {entry.name} = {entry.value}: is not a repairs.base.Repair")
        REGISTRY.register(repair)
        _loaded_entry_points.add(entry.value)
        added.append(repair.id)
    return added


__all__ = ["REGISTRY", "Repair", "RepairRegistry", "load_entry_point_repairs"]

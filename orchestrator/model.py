"""Shared value types: stack and resource statuses, failure kinds, events, patches, repairs, findings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class StackStatus(str, Enum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE_CLEANUP_IN_PROGRESS = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_ROLLBACK_IN_PROGRESS = "UPDATE_ROLLBACK_IN_PROGRESS"
    UPDATE_ROLLBACK_FAILED = "UPDATE_ROLLBACK_FAILED"
    UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
    UPDATE_ROLLBACK_COMPLETE = "UPDATE_ROLLBACK_COMPLETE"
    REVIEW_IN_PROGRESS = "REVIEW_IN_PROGRESS"
    IMPORT_IN_PROGRESS = "IMPORT_IN_PROGRESS"
    IMPORT_COMPLETE = "IMPORT_COMPLETE"
    IMPORT_ROLLBACK_IN_PROGRESS = "IMPORT_ROLLBACK_IN_PROGRESS"
    IMPORT_ROLLBACK_FAILED = "IMPORT_ROLLBACK_FAILED"
    IMPORT_ROLLBACK_COMPLETE = "IMPORT_ROLLBACK_COMPLETE"

    # Rollback statuses end in _COMPLETE too, so they are checked before the generic rule.
    @property
    def is_rollback(self) -> bool:
        return "ROLLBACK" in self.value

    @property
    def is_in_progress(self) -> bool:
        return self.value.endswith("_IN_PROGRESS")

    @property
    def is_terminal(self) -> bool:
        return not self.is_in_progress

    @property
    def is_green(self) -> bool:
        """CREATE/UPDATE/IMPORT_COMPLETE, never a *ROLLBACK*_COMPLETE."""
        if self.is_rollback:
            return False
        return self in (StackStatus.CREATE_COMPLETE, StackStatus.UPDATE_COMPLETE, StackStatus.IMPORT_COMPLETE)

    @property
    def is_failed(self) -> bool:
        if self.is_in_progress:
            return False
        return self.is_rollback or self.value.endswith("_FAILED")


class ResourceStatus(str, Enum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_FAILED = "CREATE_FAILED"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    DELETE_COMPLETE = "DELETE_COMPLETE"
    DELETE_SKIPPED = "DELETE_SKIPPED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_FAILED = "UPDATE_FAILED"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
    ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"

    @property
    def is_failed(self) -> bool:
        return self.value.endswith("_FAILED")


class FailureKind(str, Enum):
    """The failure classes every release handles; values are the playbook ids."""

    MANAGED_POLICY = "managed-policy-not-attachable"
    LOGS_KMS = "logs-kms-key-policy"
    DEPENDS_ON = "missing-depends-on"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


class Impact(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Texts CloudFormation writes on events that are consequences, not causes.
CASCADE_REASONS = (
    "Resource creation cancelled",
    "The following resource(s) failed to create",
    "The following resource(s) failed to update",
    "The following resource(s) failed to delete",
)


def is_cascade_reason(reason: str | None) -> bool:
    return bool(reason) and any(reason.startswith(text) for text in CASCADE_REASONS)


@dataclass(frozen=True)
class StackEvent:
    event_id: str
    stack_name: str
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""
    physical_id: str = ""
    timestamp: datetime | None = None

    @property
    def is_stack_event(self) -> bool:
        return self.resource_type == "AWS::CloudFormation::Stack"


@dataclass
class Failure:
    """One failed resource: a root cause (playbook set by diagnosis) or a forecast finding turned into one."""

    logical_id: str
    resource_type: str
    status_reason: str
    status: str = "CREATE_FAILED"
    playbook: str | None = None
    # Named groups captured by the playbook's reason regex, plus detector facts (e.g. policy_arn, key_id).
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "status_reason": self.status_reason,
            "playbook": self.playbook,
        }


@dataclass(frozen=True)
class PatchOp:
    """An RFC 6902 style operation on the long-form template document; `path` is a JSON pointer."""

    op: str  # "add" | "replace" | "remove"
    path: str
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        data = {"op": self.op, "path": self.path}
        if self.op != "remove":
            data["value"] = self.value
        return data


@dataclass
class PrivilegeDelta:
    """Permissions a repair adds and removes, as (effect, principal, action, resource) strings."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    widening: bool = False  # True when something added is not covered by what was removed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RepairPlan:
    """What a repair returns: operations to apply, why, which resources it touches, privilege delta."""

    repair: str
    operations: list[PatchOp]
    rationale: str
    resources: list[str] = field(default_factory=list)
    privilege: PrivilegeDelta | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def changes_nothing(self) -> bool:
        return not self.operations

    def to_json(self) -> dict[str, Any]:
        return {
            "repair": self.repair,
            "operations": [op.to_json() for op in self.operations],
            "rationale": self.rationale,
            "resources": list(self.resources),
            "privilege": self.privilege.to_json() if self.privilege else None,
            "notes": list(self.notes),
        }


@dataclass
class Finding:
    """A forecast finding: a deployment failure predicted from the template alone."""

    playbook: str
    logical_id: str
    resource_type: str
    message: str
    line: int | None = None
    fixable: bool = True
    severity: str = "error"  # "error" | "warning"
    details: dict[str, Any] = field(default_factory=dict)
    # Every edge or policy that contributes to this one (resource, class) finding: each a Finding of its own.
    contributing: list["Finding"] = field(default_factory=list)

    def parts(self) -> list["Finding"]:
        """The contributing findings (itself when nothing was merged into it)."""
        return list(self.contributing) or [self]

    def failures(self) -> list[Failure]:
        """One failure per fixable contributing finding: what the repairs plan from."""
        return [part.to_failure() for part in self.parts() if part.fixable]

    def to_failure(self) -> Failure:
        return Failure(
            logical_id=self.logical_id,
            resource_type=self.resource_type,
            status_reason=self.message,
            status="FORECAST",
            playbook=self.playbook,
            details=dict(self.details),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "message": self.message,
            "line": self.line,
            "fixable": self.fixable,
            "severity": self.severity,
            **({"contributing": [
                {"message": p.message, "line": p.line, "fixable": p.fixable, "severity": p.severity}
                for p in self.contributing]} if self.contributing else {}),
        }


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per (resource, class): findings of one playbook on one resource become one, listing
    each contributing finding; it is an error when any part is, fixable when any part is."""
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        grouped.setdefault((finding.playbook, finding.logical_id), []).append(finding)
    merged = []
    for (playbook, lid), parts in grouped.items():
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        flat = [p for part in parts for p in part.parts()]
        lead = next((p for p in flat if p.severity == "error"), flat[0])
        lines = [p.line for p in flat if p.line]
        merged.append(Finding(
            playbook=playbook, logical_id=lid, resource_type=lead.resource_type,
            message=f"{lead.message} [+{len(flat) - 1} more: " + "; ".join(p.message for p in flat if p is not lead) + "]",
            line=min(lines) if lines else None, fixable=any(p.fixable for p in flat),
            severity="error" if any(p.severity == "error" for p in flat) else "warning",
            details=dict(lead.details), contributing=flat,
        ))
    return merged

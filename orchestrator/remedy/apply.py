"""Plan, guard and apply a round of repairs: one plan per repair id, privilege and cfn-lint checks, never in place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Sequence

import structlog

from orchestrator import template as template_io
from orchestrator.template.graph import build_graph
from orchestrator.model import Failure, RepairPlan
from orchestrator.template import Template

log = structlog.get_logger(__name__)


@dataclass
class RepairGroup:
    """The failures (or forecast findings as failures) one repair fixes together, with its playbook's params."""

    repair: str
    playbook: str
    failures: list[Failure]
    params: dict = field(default_factory=dict)


def group_failures(failures: Iterable[Failure], books: Mapping[str, Any], repair_params: Mapping[str, dict]) -> list[RepairGroup]:
    """Failures grouped by the repair their playbook names: one plan per repair covers the whole class.

    A failure whose playbook is unknown or names no repair is left out; `repair_params` (by repair id)
    override the playbooks' params; a group's playbook lists every playbook of its failures.
    """
    groups: dict[str, RepairGroup] = {}
    for failure in failures:
        book = books.get(failure.playbook or "")
        if book is None or not getattr(book, "repair", None):
            continue
        group = groups.setdefault(book.repair, RepairGroup(repair=book.repair, playbook=book.id, failures=[]))
        group.failures.append(failure)
        for key, value in (getattr(book, "params", None) or {}).items():
            group.params.setdefault(key, value)
    for group in groups.values():
        group.params.update(repair_params.get(group.repair, {}))
        named = sorted({f.playbook for f in group.failures if f.playbook})
        group.playbook = ",".join(named) or group.playbook
    return list(groups.values())


@dataclass
class AppliedRepair:
    plan: RepairPlan
    playbook: str
    before: Template
    after: Template
    # The group the plan was made for: a repair may hand off to another (inline -> fix-arn), so plan.repair
    # is not always the group's id.
    group: RepairGroup | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.plan.to_json()
        data["playbook"] = self.playbook
        data["diff"] = template_io.unified_diff(self.before, self.after) if self.plan.operations else ""
        return data


@dataclass
class RoundResult:
    template: Template
    applied: list[AppliedRepair] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    @property
    def plans(self) -> list[RepairPlan]:
        return [item.plan for item in self.applied]


def _rejection(group: RepairGroup, plan: RepairPlan, reason: str, **extra: Any) -> dict:
    return {
        "repair": group.repair,
        "playbook": group.playbook,
        "playbooks": sorted({f.playbook for f in group.failures if f.playbook}) or [group.playbook],
        "resources": list(plan.resources),
        "reason": reason,
        "privilege": plan.privilege.to_json() if plan.privilege else None,
        **extra,
    }


def apply_round(
    template: Template,
    groups: Sequence[RepairGroup],
    *,
    region: str,
    allow_widening: bool = False,
    lint: bool = True,
    registry: Any = None,
) -> RoundResult:
    """Plan each group's repair against the template the previous ones left, and apply what passes the guards.

    A plan that widens privileges is rejected unless `allow_widening`. cfn-lint runs once on the whole
    round's result; only when that shows new errors is each plan checked alone, so the usual round
    costs two cfn-lint runs whatever the number of repairs.
    """
    from orchestrator.remedy.lint_guard import check_repair

    if registry is None:
        from orchestrator.repairs import registry as default_registry

        registry = default_registry()

    result = RoundResult(template=template)
    current = template
    widening_rejected: list[tuple[RepairGroup, RepairPlan]] = []
    for group in groups:
        repair = registry.get(group.repair)
        plan = repair.plan(current, build_graph(current), list(group.failures), dict(group.params))
        if plan.changes_nothing:
            result.applied.append(AppliedRepair(plan, group.playbook, current, current, group))
            continue
        if plan.privilege is not None and plan.privilege.widening and not allow_widening:
            result.rejected.append(_rejection(group, plan, "grants more than it replaces (--allow-widening accepts it)"))
            log.warning("repair_rejected_widening", repair=group.repair, added=len(plan.privilege.added))
            widening_rejected.append((group, plan))
            continue
        try:
            after = template_io.apply_patch(current, plan.operations)
        except template_io.PatchError as exc:
            # The defect sits in a part of the template too malformed to patch (Properties: true): report, never crash.
            result.rejected.append(_rejection(group, plan, "does not fit the template", errors=[str(exc)]))
            log.warning("repair_rejected_patch", repair=group.repair, error=str(exc))
            continue
        result.applied.append(AppliedRepair(plan, group.playbook, current, after, group))
        current = after
    if lint and current is not template and check_repair(template, current, region):
        current = _isolate_lint_failures(template, result, region)
    result.template = current
    for item in result.applied:
        if item.plan.operations:
            log.info("repair_applied", repair=item.plan.repair, playbook=item.playbook,
                     operations=len(item.plan.operations))
    return result


def _isolate_lint_failures(template: Template, result: RoundResult, region: str) -> Template:
    """Re-apply the round's plans one by one, dropping each one that introduces cfn-lint errors."""
    from orchestrator.remedy.lint_guard import check_repair

    kept: list[AppliedRepair] = []
    current = template
    for item in result.applied:
        if not item.plan.operations:
            kept.append(item)
            continue
        try:
            after = template_io.apply_patch(current, item.plan.operations)
        except Exception as exc:  # a plan made against an earlier state may not fit once a sibling is dropped
            result.rejected.append(_rejection(item.group, item.plan,
                                              "no longer applies after another repair was rejected",
                                              errors=[str(exc)]))
            continue
        errors = check_repair(current, after, region)
        if errors:
            result.rejected.append(_rejection(item.group, item.plan,
                                              "introduces cfn-lint errors", errors=errors))
            continue
        kept.append(AppliedRepair(item.plan, item.playbook, current, after, item.group))
        current = after
    result.applied = kept
    return current

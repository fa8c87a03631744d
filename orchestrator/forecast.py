"""Forecast: run the playbooks' static detectors on a template and repair what they find before deploying."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import structlog

from orchestrator import detectors
from orchestrator.errors import BadInput
from orchestrator.model import Finding, RepairPlan

log = structlog.get_logger()


def _load_playbooks(playbooks: Sequence[Any] | None) -> list[Any]:
    if playbooks is not None:
        return list(playbooks)
    from orchestrator.playbooks import load_playbooks

    return load_playbooks()


def _detector_spec(value: Any) -> tuple[str, list[str] | None]:
    """A playbook's `forecast:` value: a detector name, or "name:case,case" to limit a detector to some cases."""
    text = str(value).strip()
    name, _, cases = text.partition(":")
    return name.strip(), [c.strip() for c in cases.split(",") if c.strip()] or None


def forecast(
    template: Any,
    *,
    region: str = "us-east-1",
    partition: str | None = None,
    playbooks: Sequence[Any] | None = None,
    graph: Any = None,
    account_id: str | None = None,
    parameters: dict | None = None,
) -> list[Finding]:
    """Findings of every detector a playbook names, each labelled with that playbook's id, in template order."""
    from orchestrator.graph import build_graph

    books = _load_playbooks(playbooks)
    graph = graph if graph is not None else build_graph(template)
    ctx = detectors.DetectorContext(
        template=template,
        graph=graph,
        region=region,
        partition=partition or detectors.partition_for_region(region),
        account_id=account_id or detectors.PLACEHOLDER_ACCOUNT,
        parameters=dict(parameters or {}),
    )
    started = time.perf_counter()
    findings: list[Finding] = []
    seen: set[tuple] = set()
    # Several playbooks may share one detector (the DependsOn cases): it runs once, and each finding
    # goes to the playbook it names when that playbook is loaded, else to the first one naming the detector.
    runs: dict[tuple[str, tuple[str, ...] | None], list[str]] = {}
    for book in books:
        spec = getattr(book, "forecast", None)
        if spec:
            name, cases = _detector_spec(spec)
            if name not in detectors.DETECTORS:
                raise BadInput(
                    f"playbook {book.id}: forecast: no detector named {name!r} (known: {', '.join(sorted(detectors.DETECTORS))})",
                    file=getattr(book, "source", None),
                )
            runs.setdefault((name, tuple(cases) if cases else None), []).append(book.id)
    for (name, cases), book_ids in runs.items():
        detector = detectors.get(name)
        found = detector(ctx, cases=list(cases)) if cases else detector(ctx)
        for finding in found:
            if finding.playbook not in book_ids:
                finding.playbook = book_ids[0]
            key = (finding.playbook, finding.logical_id, finding.message)
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    findings.sort(key=lambda f: (f.line or 0, f.logical_id, f.playbook, f.message))
    log.debug("forecast_detectors_done", findings=len(findings), duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return findings


def _group_by_repair(findings: Iterable[Finding], books: dict[str, Any]) -> dict[str, tuple[list[Finding], dict]]:
    """Fixable findings grouped by the repair their playbook names (one plan per repair covers the class)."""
    groups: dict[str, tuple[list[Finding], dict]] = {}
    for finding in findings:
        book = books.get(finding.playbook)
        if not finding.fixable or book is None or not getattr(book, "repair", None):
            continue
        members, params = groups.setdefault(book.repair, ([], {}))
        members.append(finding)
        for key, value in (getattr(book, "params", None) or {}).items():
            params.setdefault(key, value)
    return groups


def forecast_and_fix(
    template: Any,
    *,
    region: str = "us-east-1",
    partition: str | None = None,
    playbooks: Sequence[Any] | None = None,
    account_id: str | None = None,
    parameters: dict | None = None,
    lint: bool = True,
    registry: Any = None,
) -> tuple[Any, list[Finding], list[RepairPlan], list[dict]]:
    """(repaired template, findings, applied plans, rejected plans); the input template is never modified.

    Each repair plans against the template as the previous repairs left it, and cfn-lint checks every
    plan: one that introduces a new cfn-lint error is rejected and its change is dropped.
    """
    from orchestrator.graph import build_graph
    from orchestrator.lint_guard import check_repair
    from orchestrator.template_io import apply_patch

    if registry is None:
        from repairs import REGISTRY as registry

    books_list = _load_playbooks(playbooks)
    books = {book.id: book for book in books_list}
    findings = forecast(
        template, region=region, partition=partition, playbooks=books_list, account_id=account_id, parameters=parameters
    )
    current = template
    plans: list[RepairPlan] = []
    rejected: list[dict] = []
    for repair_id, (members, params) in _group_by_repair(findings, books).items():
        repair = registry.get(repair_id)
        graph = build_graph(current)
        plan = repair.plan(current, graph, [f.to_failure() for f in members], dict(params))
        if plan.changes_nothing:
            plans.append(plan)
            continue
        candidate = apply_patch(current, plan.operations)
        errors = check_repair(current, candidate, region) if lint else []
        if errors:
            rejected.append(
                {
                    "repair": repair_id,
                    "playbooks": sorted({f.playbook for f in members}),
                    "resources": list(plan.resources),
                    "errors": errors,
                }
            )
            log.warning("forecast_repair_rejected", repair=repair_id, errors=len(errors))
            continue
        log.info("forecast_repair_applied", repair=repair_id, operations=len(plan.operations))
        plans.append(plan)
        current = candidate
    return current, findings, plans, rejected

"""Forecast: run the playbooks' static detectors on a template and repair what they find before deploying."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from orchestrator import detectors
from orchestrator.errors import BadInput
from orchestrator.template.intrinsics import PLACEHOLDER_ACCOUNT, partition_for_region
from orchestrator.model import Finding, RepairPlan


def _load_playbooks(playbooks: Sequence[Any] | None) -> list[Any]:
    if playbooks is not None:
        return list(playbooks)
    from orchestrator.catalog.playbooks import load_playbooks

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
    from orchestrator.template.graph import build_graph

    books = _load_playbooks(playbooks)
    graph = graph if graph is not None else build_graph(template)
    ctx = detectors.DetectorContext(
        template=template,
        graph=graph,
        region=region,
        partition=partition or partition_for_region(region),
        account_id=account_id or PLACEHOLDER_ACCOUNT,
        parameters=dict(parameters or {}),
    )
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
    return findings


def _groups(findings: Iterable[Finding], books: dict[str, Any], repair_params: dict[str, dict]) -> list[Any]:
    """Fixable findings grouped by the repair their playbook names (one plan per repair covers the class)."""
    from orchestrator.remedy.apply import RepairGroup

    groups: dict[str, RepairGroup] = {}
    for finding in findings:
        book = books.get(finding.playbook)
        if not finding.fixable or book is None or not getattr(book, "repair", None):
            continue
        group = groups.setdefault(book.repair, RepairGroup(repair=book.repair, playbook=book.id, failures=[]))
        group.failures.append(finding.to_failure())
        for key, value in (getattr(book, "params", None) or {}).items():
            group.params.setdefault(key, value)
    for group in groups.values():
        group.params.update(repair_params.get(group.repair, {}))
        named = sorted({f.playbook for f in group.failures if f.playbook})
        group.playbook = ",".join(named) or group.playbook
    return list(groups.values())


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
    allow_widening: bool = False,
    repair_params: dict[str, dict] | None = None,
    details: list | None = None,
) -> tuple[Any, list[Finding], list[RepairPlan], list[dict]]:
    """(repaired template, findings, applied plans, rejected plans); the input template is never modified.

    Each repair plans against the template as the previous repairs left it; widening plans and plans
    that introduce a new cfn-lint error are rejected and their change dropped (orchestrator.remedy.apply).
    `repair_params` overrides playbook params by repair id; `details`, when given, receives the
    AppliedRepair records (before/after templates, for diffs).
    """
    from orchestrator.remedy.apply import apply_round

    books_list = _load_playbooks(playbooks)
    books = {book.id: book for book in books_list}
    findings = forecast(
        template, region=region, partition=partition, playbooks=books_list, account_id=account_id, parameters=parameters
    )
    groups = _groups(findings, books, repair_params or {})
    if not groups:
        return template, findings, [], []
    round_ = apply_round(template, groups, region=region, allow_widening=allow_widening, lint=lint, registry=registry)
    if details is not None:
        details.extend(round_.applied)
    return round_.template, findings, round_.plans, round_.rejected

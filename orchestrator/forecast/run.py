"""Forecast: run the playbooks' static detectors on a template and repair what they find before deploying."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from orchestrator import detectors
from orchestrator.errors import BadInput
from orchestrator.template.intrinsics import PLACEHOLDER_ACCOUNT, partition_for_region
from orchestrator.model import Finding, RepairPlan, merge_findings
from orchestrator.options import RunOptions

log = structlog.get_logger(__name__)


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
    findings = merge_findings([f for f in (_conditioned(ctx, f) for f in findings) if f is not None])
    findings.sort(key=lambda f: (f.line or 0, f.logical_id, f.playbook, f.message))
    log.debug("forecast_detectors_done", findings=len(findings), duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return findings


def _conditioned(ctx: detectors.DetectorContext, finding: Finding) -> Finding | None:
    """No finding on a resource whose condition is false for the parameters; at most a warning, never
    repaired, on one whose condition is unknown without parameter values."""
    state = ctx.resolver.resource_condition(finding.logical_id)
    if state is False:
        return None
    if state is None and (finding.severity != "warning" or finding.fixable):
        condition = (ctx.resources.get(finding.logical_id) or {}).get("Condition")
        finding.severity, finding.fixable = "warning", False
        finding.message += f" (condition {condition} is unknown without parameter values: pass --param or --params-file; not repaired)"
        for part in finding.contributing:
            part.severity, part.fixable = "warning", False
    return finding


@dataclass
class ForecastResult:
    """What forecast_and_fix produced: the repaired template (the input is never modified), the findings,
    the repairs applied (with before/after templates, for diffs) and the repairs rejected."""

    template: Any
    findings: list[Finding]
    applied: list[Any] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    @property
    def plans(self) -> list[RepairPlan]:
        return [item.plan for item in self.applied]


def forecast_and_fix(
    template: Any,
    *,
    playbooks: Sequence[Any] | None = None,
    options: RunOptions | None = None,
    lint: bool = True,
    registry: Any = None,
    **target: Any,
) -> ForecastResult:
    """Forecast, then repair what is fixable; each repair plans against the template as the previous ones left it.

    Widening plans and plans that introduce a new cfn-lint error are rejected and their change dropped
    (orchestrator.remedy.apply). The target and repair choices come from `options` (a RunOptions), or from
    the keywords region, partition, account_id, parameters, allow_widening and repair_params (repair id ->
    params over the playbook's).
    """
    from orchestrator.remedy.apply import apply_round, group_failures

    if options is not None:
        target = {"region": options.region, "parameters": options.parameters, "allow_widening": options.allow_widening,
                  "repair_params": options.repair_params, **target}
    allowed = {"region", "partition", "account_id", "parameters", "allow_widening", "repair_params"}
    if set(target) - allowed:
        raise TypeError(f"unknown forecast_and_fix argument {sorted(set(target) - allowed)[0]!r}")
    region = target.get("region") or "us-east-1"
    books_list = _load_playbooks(playbooks)
    books = {book.id: book for book in books_list}
    findings = forecast(template, region=region, partition=target.get("partition"), playbooks=books_list,
                        account_id=target.get("account_id"), parameters=target.get("parameters"))
    fixable = [failure for finding in findings for failure in finding.failures()]
    groups = group_failures(fixable, books, target.get("repair_params") or {})
    if not groups:
        return ForecastResult(template, findings)
    round_ = apply_round(template, groups, region=region, allow_widening=bool(target.get("allow_widening")),
                         lint=lint, registry=registry)
    return ForecastResult(round_.template, findings, list(round_.applied), list(round_.rejected))

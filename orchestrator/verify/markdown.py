"""The verify run as Markdown: a summary table, then each cell that needed attention with its failures,
repairs (explained from the playbooks) and the neighbourhood of the failing resources."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.deploy.fidelity import summary as fidelity_summary
from orchestrator.verify.reports import ERROR, FAILED, GREEN, MISSING, REPAIRED, cell_name, classify, repair_diff, rollbacks, root_causes, summarize, template_repairs


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text: Any) -> str:
    text = str(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _pb_field(playbooks: Mapping[str, Any] | None, playbook_id: str | None, key: str) -> Any:
    if not playbooks or not playbook_id or playbook_id not in playbooks:
        return None
    entry = playbooks[playbook_id]
    value = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
    # Impact may be an Enum.
    return getattr(value, "value", value)


def _failure_info(failure: Mapping[str, Any], playbooks: Mapping[str, Any] | None, key: str) -> Any:
    return failure.get(key) or _pb_field(playbooks, failure.get("playbook"), key)


def render_markdown(
    run: Mapping[str, Any],
    *,
    playbooks: Mapping[str, Any] | None = None,
    graphs: Mapping[str, str] | None = None,
) -> str:
    """The human report: summary table, then an analysis of every repaired or failed cell.

    `playbooks` maps playbook id -> playbook (object or dict with impact, explanation, docs, title) for
    what the deploy report does not carry itself; `graphs` maps cell id -> Mermaid text of the failing
    resources and their neighbours (built by the caller from the template; derived from the report if absent).
    """
    summary = run.get("summary") or summarize(run.get("cells") or [])
    cells = sorted(run.get("cells") or [], key=lambda c: c["id"])
    out = ["# cfn-autofix sandbox verification", ""]
    meta = [f"Target: `{run.get('target') or '-'}`"]
    if run.get("matrix"):
        meta.append(f"matrix: `{run['matrix']}`")
    if run.get("shard"):
        meta.append(f"shard {run['shard']['index']}/{run['shard']['count']}")
    if run.get("merged_from"):
        meta.append(f"merged from {len(run['merged_from'])} shard file(s)")
    out += [", ".join(meta) + ".", ""]
    out += [
        "| Cells | Green at first try | Green after repair | Failed | Errors | Deployments | Time |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['cells']} | {summary['green_first_try']} | {summary['green_after_repair']} | "
        f"{summary['failed']} | {summary['errors'] + summary.get('missing', 0)} | {summary['deployments']} | "
        f"{_time_cell(summary)} |",
        "",
    ]
    out += ["| Template | Region | Parameters | Outcome | Attempts | Deployments | Time | Built |",
            "|---|---|---|---|---:|---:|---:|---|"]
    for cell in cells:
        report = cell.get("report") or {}
        built = fidelity_summary(report.get("fidelity")) or ("every resource modeled" if report.get("fidelity") else "-")
        out.append(
            f"| {_md(cell.get('template'))} | {_md(cell.get('region'))} | {_md(cell.get('parameter_set'))} | "
            f"{_outcome_label(classify(cell))} | {len(report.get('attempts') or [])} | {report.get('deployments', 0)} | "
            f"{float(cell.get('duration_s') or 0.0):.1f} s | {_md(built)} |"
        )
    out.append("")
    interesting = [c for c in cells if classify(c) != GREEN]
    if not interesting:
        out += ["Every cell reached green with the templates as written.", ""]
    for cell in interesting:
        out += _cell_section(cell, playbooks, (graphs or {}).get(cell["id"]))
    return "\n".join(out).rstrip("\n") + "\n"


def _time_cell(summary: Mapping[str, Any]) -> str:
    wall = summary.get("wall_s")
    total = f"{float(summary.get('cell_time_s') or 0.0):.1f} s in cells"
    return f"{float(wall):.1f} s wall, {total}" if wall is not None else total


def _outcome_label(outcome: str) -> str:
    return {
        GREEN: "green",
        REPAIRED: "green after repair",
        FAILED: "**failed**",
        ERROR: "**error**",
        MISSING: "**missing**",
    }[outcome]


def _cell_section(cell: Mapping[str, Any], playbooks: Mapping[str, Any] | None, graph: str | None) -> list[str]:
    outcome = classify(cell)
    report = cell.get("report") or {}
    out = [f"## {_outcome_label(outcome).strip('*')}: {cell.get('template')}, {cell_name(cell)}", ""]
    if outcome in (ERROR, MISSING):
        out += [f"The cell produced no deploy report: {_code(cell.get('error') or outcome)}", ""]
        return out
    attempts = report.get("attempts") or []
    out += [
        f"{len(attempts)} attempt(s), {rollbacks(report)} rollback(s), {report.get('deployments', 0)} deployment(s), "
        f"{float(cell.get('duration_s') or report.get('duration_s') or 0.0):.1f} s; stack `{report.get('stack_name')}`, "
        f"run `{report.get('run_id')}`.",
        "",
    ]
    if outcome == FAILED:
        out += [f"Root causes: {_md(root_causes(cell))}", ""]
    forecast = report.get("forecast") or []
    if forecast:
        out += ["### Predicted before the first deployment (forecast)", ""]
        for finding in forecast:
            impact = _failure_info(finding, playbooks, "impact") or "unknown"
            out.append(
                f"- `{finding.get('logical_id')}` ({finding.get('resource_type')}), impact **{impact}**: "
                f"{_md(finding.get('message'))} (playbook `{finding.get('playbook')}`)"
            )
            explanation = _failure_info(finding, playbooks, "explanation")
            if explanation:
                out.append(f"  - Root cause: {_md(explanation)}")
            docs = _failure_info(finding, playbooks, "docs")
            if docs:
                out.append(f"  - AWS documentation: {docs}")
        out.append("")
        shown = {f.get("playbook") for f in forecast}
        for repair in report.get("forecast_repairs") or []:
            out += _repair_lines(repair, shown, playbooks)
    for attempt in attempts:
        failures = attempt.get("failures") or []
        repairs = attempt.get("repairs") or []
        out += [
            f"### Attempt {attempt.get('number')}: {attempt.get('stack_status')} "
            f"({float(attempt.get('duration_s') or 0.0):.1f} s)",
            "",
        ]
        if not failures and not repairs:
            out += ["No failure.", ""]
        for failure in failures:
            impact = _failure_info(failure, playbooks, "impact") or "unknown"
            out.append(f"- **`{failure.get('logical_id')}`** ({failure.get('resource_type')}), impact **{impact}**")
            out.append(f"  - Error received: {_code(failure.get('status_reason'))}")
            explanation = _failure_info(failure, playbooks, "explanation")
            playbook = failure.get("playbook")
            if playbook:
                cause = _md(explanation) if explanation else "see the playbook"
                out.append(f"  - Root cause: {cause} (playbook `{playbook}`)")
            else:
                out.append("  - Root cause: unknown (no playbook matched; evidence kept, nothing guessed)")
            docs = _failure_info(failure, playbooks, "docs")
            if docs:
                out.append(f"  - AWS documentation: {docs}")
        if failures:
            out.append("")
        for repair in repairs:
            out += _repair_lines(repair, {f.get("playbook") for f in failures}, playbooks)
    for item in report.get("unknown") or []:
        out += ["### Unmatched failure (evidence)", "", "```json", json.dumps(item, indent=2, default=str), "```", ""]
    graph = graph or mermaid_from_report(report)
    if graph:
        out += ["### Failing resources and their neighbours", "", "```mermaid", graph.rstrip("\n"), "```", ""]
    return out


def _repair_lines(repair: Mapping[str, Any], explained: set, playbooks: Mapping[str, Any] | None) -> list[str]:
    resources = ", ".join(f"`{r}`" for r in repair.get("resources") or []) or "-"
    out = [f"Repair `{repair.get('repair')}` (playbook `{repair.get('playbook')}`) on {resources}:"]
    if repair.get("rationale"):
        out.append(f"{_md(repair['rationale'])}")
    # A repair of the whole class can cover a playbook no failure shown above named.
    if repair.get("playbook") not in explained:
        for key, label in (("explanation", "Root cause"), ("docs", "AWS documentation")):
            value = _pb_field(playbooks, repair.get("playbook"), key)
            if value:
                out.append(f"- {label}: {_md(value)}")
    diff = repair_diff(repair)
    if diff:
        out += ["", "```diff", diff, "```"]
    out.append("")
    return out


def failing_resources(report: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for finding in report.get("forecast") or []:
        seen.setdefault(str(finding.get("logical_id")), None)
    for attempt in report.get("attempts") or []:
        for failure in attempt.get("failures") or []:
            seen.setdefault(str(failure.get("logical_id")), None)
    return list(seen)


def _mermaid_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "node"


def mermaid_from_report(report: Mapping[str, Any]) -> str:
    """A Mermaid graph from the report alone: failing resources, resources the repairs touched,
    and the DependsOn edges the repairs added (used when the template is not at hand)."""
    failing = failing_resources(report)
    if not failing:
        return ""
    types: dict[str, str] = {}
    for attempt in report.get("attempts") or []:
        for failure in attempt.get("failures") or []:
            types[str(failure.get("logical_id"))] = str(failure.get("resource_type") or "")
    for finding in report.get("forecast") or []:
        types.setdefault(str(finding.get("logical_id")), str(finding.get("resource_type") or ""))
    nodes: dict[str, None] = dict.fromkeys(failing)
    edges: list[tuple[str, str]] = []
    for repair in template_repairs(report):
        for name in repair.get("resources") or []:
            nodes.setdefault(str(name), None)
        for op in repair.get("operations") or []:
            parts = str(op.get("path", "")).split("/")
            if len(parts) >= 4 and parts[1] == "Resources" and parts[3] == "DependsOn" and op.get("op") != "remove":
                values = op.get("value")
                for dep in values if isinstance(values, list) else [values]:
                    if isinstance(dep, str):
                        nodes.setdefault(parts[2], None)
                        nodes.setdefault(dep, None)
                        edges.append((parts[2], dep))
    lines = ["graph LR"]
    for name in nodes:
        label = f"{name}<br/>{types[name]}" if types.get(name) else name
        lines.append(f'  {_mermaid_id(name)}["{label}"]')
    for a, b in dict.fromkeys(edges):
        lines.append(f"  {_mermaid_id(a)} -->|DependsOn| {_mermaid_id(b)}")
    lines.append("  classDef failed fill:#fdd,stroke:#c00,stroke-width:2px")
    lines.append(f"  class {','.join(_mermaid_id(n) for n in failing)} failed")
    return "\n".join(lines)

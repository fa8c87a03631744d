"""The deploy report: the JSON document of one run and its short terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.termsafe import term_safe

REPORT_VERSION = 1


def build_report(run: Any, *, repaired_path: Path | None, duration_s: float) -> dict[str, Any]:
    """The JSON report of DESIGN.md's contract, plus run_id, template, strategy, evidence and refusals."""
    return {
        "version": REPORT_VERSION,
        "status": run.status,
        "run_id": run.run_id,
        "template": str(run.source.path) if run.source.path else None,
        "target": run.target,
        "region": run.region,
        "stack_name": run.stack_name,
        "strategy": run.strategy,
        "attempts": run.attempts,
        "forecast": run.forecast,
        "forecast_repairs": run.forecast_repairs,
        "repaired_template": str(repaired_path) if repaired_path else None,
        "deployments": run.deployments,
        "failed_deployments": sum(1 for a in run.attempts if a["stack_status"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE")),
        "duration_s": duration_s,
        "stop_reason": run.stop_reason,
        "unknown": run.unknown,
        "rejected_repairs": run.rejected,
        "privilege": _privilege_summary(run),
        "emulated_resources": run.emulated,
        "stack_deleted": run.stack_deleted,
        "stack_left": run.stack_left,
        "reconciled": run.reconciled,
    }


def _privilege_summary(run: Any) -> list[dict[str, Any]]:
    """Every IAM/KMS permission delta of the run's repairs, forecast and post-failure alike."""
    plans = list(run.forecast_repairs) + [r for a in run.attempts for r in a["repairs"]]
    return [
        {"repair": p["repair"], "resources": p["resources"], **p["privilege"]}
        for p in plans
        if p.get("privilege")
    ]


def escape(text: Any) -> str:
    """Text from templates and AWS as the console shows it: no rich markup read from it, no terminal control."""
    from rich.markup import escape as markup_escape

    return markup_escape(term_safe(str(text), keep_newlines=False))


def render_summary(report: dict[str, Any], console: Any) -> None:
    """A short summary for a person: each failure, its playbook, the repair's diff, attempts and time."""
    from rich.syntax import Syntax

    status = report["status"]
    colour = {"succeeded": "green", "interrupted": "yellow"}.get(status, "red")
    for finding in report["forecast"]:
        where = f":{finding['line']}" if finding.get("line") else ""
        console.print(f"[cyan]forecast[/] {escape(finding['logical_id'])}{where} "
                      f"[bold]{finding['playbook']}[/]: {escape(finding['message'])}")
    for plan in report["forecast_repairs"]:
        _print_repair(plan, console, Syntax)
    for attempt in report["attempts"]:
        console.print(f"[bold]attempt {attempt['number']}[/] ({attempt['operation']}): "
                      f"{attempt['stack_status']} in {attempt['duration_s']:.1f}s")
        for failure in attempt["failures"]:
            console.print(f"  [red]✗[/] {escape(failure['logical_id'])} ({escape(failure['resource_type'])}) "
                          f"[bold]{failure['playbook']}[/]")
            console.print(f"    {escape(failure['status_reason'])}", style="dim")
        for plan in attempt["repairs"]:
            _print_repair(plan, console, Syntax)
    for rejected in report["rejected_repairs"]:
        console.print(f"[yellow]repair rejected[/] {rejected['repair']}: {escape(rejected['reason'] if 'reason' in rejected else '; '.join(rejected.get('errors', [])))}")
    if report["emulated_resources"]:
        names = ", ".join(sorted(r["logical_id"] for r in report["emulated_resources"]))
        console.print(f"[dim]not emulated by the sandbox's service models (generic stand-ins): {escape(names)}[/]")
    line = (f"[{colour}]{status}[/] after {len(report['attempts'])} attempt(s), "
            f"{report['deployments']} deployment(s), {report['duration_s']:.1f}s")
    if report["stop_reason"] and status != "succeeded":
        line += f" — {escape(report['stop_reason'])}"
    console.print(line)
    if report["repaired_template"]:
        console.print(f"repaired template: {escape(report['repaired_template'])}")
    if report["stack_left"]:
        console.print(f"[yellow]stack {escape(report['stack_name'])} was left in place[/]")


def _print_repair(plan: dict[str, Any], console: Any, syntax: Any) -> None:
    console.print(f"  [green]repair[/] {plan['repair']} on {escape(', '.join(plan['resources']))}: "
                  f"{escape(plan['rationale'])}")
    if plan.get("diff"):
        console.print(syntax(term_safe(plan["diff"].rstrip("\n")), "diff", theme="ansi_dark", background_color="default"))
    privilege = plan.get("privilege")
    if privilege and (privilege.get("added") or privilege.get("removed")):
        console.print(f"    privileges: +{len(privilege['added'])} / -{len(privilege['removed'])}"
                      f"{' (widening)' if privilege.get('widening') else ''}", style="dim")

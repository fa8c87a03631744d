"""The deploy report: the JSON document of one run and its short terminal summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.deploy.fidelity import summary as fidelity_summary

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
        "needs_human": run.needs_human,
        "rejected_repairs": run.rejected,
        "privilege": _privilege_summary(run),
        "emulated_resources": run.emulated,
        "fidelity": run.fidelity,
        "sandbox_limitations": run.sandbox_limitations,
        "stack_deleted": run.stack_deleted,
        "stack_left": run.stack_left,
        "retained_resources": run.retained,
        "reconciled": run.reconciled,
        "fixtures": run.prerequisites.get("fixtures", []),
        "generated_values": run.prerequisites.get("generated_values", []),
        "artifacts": run.prerequisites.get("artifacts", []),
        "prerequisites_missing": run.prerequisites.get("prerequisites_missing", []),
        "with": run.companions,
    }

def _privilege_summary(run: Any) -> list[dict[str, Any]]:
    """Every IAM/KMS permission delta of the run's repairs, forecast and post-failure alike."""
    plans = list(run.forecast_repairs) + [r for a in run.attempts for r in a["repairs"]]
    return [
        {"repair": p["repair"], "resources": p["resources"], **p["privilege"]}
        for p in plans
        if p.get("privilege")
    ]

def render_summary(report: dict[str, Any], console: Any, *, forecast_shown: bool = False) -> None:
    """A short summary for a person: each failure, its playbook, the repair's diff (in full), attempts and time.

    Built from Text, never markup, so a `[...]` in a reason or a diff is printed as written. The console
    decides the wrapping: soft-wrapped at a terminal's width, never hard-wrapped in a pipe (make_console).
    forecast_shown: the live view already printed the findings as they were found.
    """
    from rich.text import Text

    from orchestrator.deploy.progress import forecast_lines
    from orchestrator.termsafe import term_safe as safe

    status = report["status"]
    colour = {"succeeded": "green", "interrupted": "yellow"}.get(status, "red")
    if not forecast_shown:
        for line in forecast_lines(report["forecast"]):
            console.print(line)
    for plan in report["forecast_repairs"]:
        _print_repair(plan, console)
    for attempt in report["attempts"]:
        console.print(Text.assemble((f"attempt {attempt['number']}", "bold"),
                                    safe(f" ({attempt['operation']}): {attempt['stack_status']} in {attempt['duration_s']:.1f}s")))
        for failure in attempt["failures"]:
            inside = f" in {failure['template']}" if failure.get("template") else ""
            console.print(_indent(Text.assemble(("✗", "red"), safe(f" {failure['logical_id']} ({failure['resource_type']}){inside} "),
                                                (safe(failure["playbook"]), "bold")), 2))
            console.print(_indent(Text(safe(failure["status_reason"]), style="dim"), 4))
        for plan in attempt["repairs"]:
            _print_repair(plan, console)
    for item in report.get("needs_human", []):
        console.print(Text.assemble(("needs a person", "red"), safe(f" {item['logical_id']} "), (safe(item["class"]), "bold"),
                                    safe(f": {item['explanation']} "), (safe(item["docs"]), f"link {item['docs']}")))
    for fixture in report.get("fixtures") or []:
        console.print(Text.assemble(("fixture", "cyan"), safe(f" {fixture['parameter']} = {fixture['value']} "),
                                    (safe(f"({fixture['resource']})"), "dim")))
    for missing in report.get("prerequisites_missing") or []:
        where = missing.get("property") or f"Resources.{missing['logical_id']}"
        console.print(Text.assemble(("✗", "red"), " ", (safe(missing["class"]), "bold"), safe(f": {missing['what']} ({where})")))
    for rejected in report["rejected_repairs"]:
        why = rejected["reason"] if "reason" in rejected else "; ".join(rejected.get("errors", []))
        console.print(Text.assemble(("repair rejected", "yellow"), safe(f" {rejected['repair']}: {why}")))
    built = fidelity_summary(report.get("fidelity"))
    word = "green" if status == "succeeded" else status
    line = Text.assemble((word, colour), safe(f" — {built}") if built else "",
                         f" after {len(report['attempts'])} attempt(s), "
                         f"{report['deployments']} deployment(s), {report['duration_s']:.1f}s")
    if report["stop_reason"] and status != "succeeded":
        line.append(safe(f" — {report['stop_reason']}"))
    console.print(line)
    if report["repaired_template"]:
        console.print(Text(safe(f"repaired template: {report['repaired_template']}")))
    for child in report.get("repaired_children") or []:
        console.print(Text(safe(f"repaired nested template: {child['template']} -> {child['repaired_template']}")))
    if report["stack_left"]:
        console.print(Text(safe(f"stack {report['stack_name']} was left in place"), style="yellow"))
    kept = report.get("retained_resources") or []
    if kept and report.get("target") != "embedded":  # a sandbox's leftovers go with the sandbox
        console.print(Text(safe("kept by their DeletionPolicy after the stack was deleted: "
                                + ", ".join(f"{r['logical_id']} ({r['physical_id']})" for r in kept)), style="yellow"))

_DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))

def _print_repair(plan: dict[str, Any], console: Any) -> None:
    from rich.text import Text

    from orchestrator.termsafe import term_safe as safe

    console.print(_indent(Text.assemble(("repair", "green"),
                                        safe(f" {plan['repair']} on {', '.join(plan['resources'])}: {plan['rationale']}")), 2))
    for diff_line in (plan.get("diff") or "").rstrip("\n").splitlines():
        # Every line in full: wrapped at a terminal's edge, never cut (an ARN or a condition must stay whole).
        style = next((s for prefix, s in _DIFF_STYLES if diff_line.startswith(prefix)), "")
        console.print(Text(safe(diff_line), style=style, overflow="fold"))
    privilege = plan.get("privilege")
    if privilege and (privilege.get("added") or privilege.get("removed")):
        console.print(_indent(Text(f"privileges: +{len(privilege['added'])} / -{len(privilege['removed'])}"
                                   f"{' (widening)' if privilege.get('widening') else ''}", style="dim"), 4))

def _indent(text: Any, spaces: int) -> Any:
    """Indented, with wrapped lines indented too (a left pad, never a right one: nothing padded in a pipe)."""
    from rich.padding import Padding

    return Padding(text, (0, 0, 0, spaces), expand=False)

"""Verification reports: JUnit XML, Markdown and merged JSON, rendered as pure functions of report dicts."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.deploy.fidelity import summary as fidelity_summary
from orchestrator.errors import BadInput

REPORT_KIND = "cfn-autofix-verify"
REPORT_VERSION = 1

GREEN = "green"  # succeeded with the template as written (transient retries allowed)
REPAIRED = "repaired"  # succeeded after at least one template repair (forecast or after a failure)
FAILED = "failed"  # the stack never reached green (or the run was interrupted)
ERROR = "error"  # the cell itself crashed: no deploy report
MISSING = "missing"  # merge only: no shard reported this cell

# A retry changes nothing in the template, so it is not a repair the template needed.
_NON_TEMPLATE_REPAIRS = {"retry"}
_TIME_KEYS = ("duration_s",)


# ---------------------------------------------------------------- classification and summary


def template_repairs(report: Mapping[str, Any]) -> list[dict]:
    """The repairs that changed the template, before the first deployment (forecast) and after each attempt.

    A plan with no operation changed nothing, and a retry never changes the template.
    """
    candidates = list(report.get("forecast_repairs") or [])
    candidates += [repair for attempt in report.get("attempts") or [] for repair in attempt.get("repairs") or []]
    return [r for r in candidates if r.get("repair") not in _NON_TEMPLATE_REPAIRS and r.get("operations")]


def needed_repair(report: Mapping[str, Any] | None) -> bool:
    if not report:
        return False
    return bool(report.get("forecast")) or bool(template_repairs(report))


def classify(cell: Mapping[str, Any]) -> str:
    """green / repaired / failed / error / missing for one cell record."""
    if cell.get("outcome") == MISSING:
        return MISSING
    report = cell.get("report")
    if not report:
        return ERROR
    if report.get("status") != "succeeded":
        return FAILED
    return REPAIRED if needed_repair(report) else GREEN


def rollbacks(report: Mapping[str, Any]) -> int:
    return sum(
        1
        for a in report.get("attempts") or []
        if a.get("rolled_back") or "ROLLBACK" in str(a.get("stack_status", ""))
    )


def summarize(cells: Iterable[Mapping[str, Any]], *, wall_s: float | None = None) -> dict[str, Any]:
    cells = list(cells)
    outcomes = [classify(c) for c in cells]
    return {
        "cells": len(cells),
        "green_first_try": outcomes.count(GREEN),
        "green_after_repair": outcomes.count(REPAIRED),
        "failed": outcomes.count(FAILED),
        "errors": outcomes.count(ERROR),
        "missing": outcomes.count(MISSING),
        "deployments": sum(int((c.get("report") or {}).get("deployments") or 0) for c in cells),
        "cell_time_s": round(sum(float(c.get("duration_s") or 0.0) for c in cells), 3),
        "wall_s": round(wall_s, 3) if wall_s is not None else None,
    }


def exit_code(run: Mapping[str, Any], *, fail_on_repair: bool = False) -> int:
    """0 when every cell of the matrix ended green; 1 otherwise (and, with fail_on_repair, after any repair)."""
    for cell in run.get("cells") or []:
        outcome = classify(cell)
        if outcome in (FAILED, ERROR, MISSING):
            return 1
        if fail_on_repair and outcome == REPAIRED:
            return 1
    return 0


def build_run(
    cells: list[dict],
    *,
    matrix_cells: list[str],
    matrix_digest: str,
    target: str,
    matrix: str | None,
    shard: tuple[int, int] | None,
    wall_s: float | None,
    started_at: str | None = None,
) -> dict[str, Any]:
    """The verify JSON document: every cell's record with its deploy report, plus the summary."""
    cells = sorted(cells, key=lambda c: c["id"])
    for cell in cells:
        cell["outcome"] = classify(cell)
    return {
        "kind": REPORT_KIND,
        "version": REPORT_VERSION,
        "target": target,
        "matrix": matrix,
        "matrix_digest": matrix_digest,
        "matrix_cells": sorted(matrix_cells),
        "shard": {"index": shard[0], "count": shard[1]} if shard else None,
        "merged_from": [],
        "started_at": started_at,
        "cells": cells,
        "summary": summarize(cells, wall_s=wall_s),
    }


# ---------------------------------------------------------------- merge


def load_run(path: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("kind") != REPORT_KIND:
        raise BadInput(f"not a verify report (expected \"kind\": \"{REPORT_KIND}\")", file=path)
    if data.get("version") != REPORT_VERSION:
        raise BadInput(f"unsupported verify report version {data.get('version')!r}", file=path)
    for key in ("cells", "matrix_cells", "matrix_digest"):
        if key not in data:
            raise BadInput(f"verify report lacks '{key}'", file=path)
    return data


def merge_runs(runs: list[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Merge shard results (name, run) into the document a single run over the whole matrix writes.

    Shards must come from the same matrix; a cell reported twice is an error; a cell no shard
    reported is kept as `missing`, so a lost shard job can never look green.
    """
    if not runs:
        raise BadInput("report merge needs at least one shard JSON file")
    first_name, first = runs[0]
    cells: dict[str, dict] = {}
    sources: dict[str, str] = {}
    merged_from = []
    wall = 0.0
    for name, run in runs:
        if run["matrix_digest"] != first["matrix_digest"]:
            raise BadInput(
                f"shard is from another matrix (digest {run['matrix_digest']} != {first['matrix_digest']} of {first_name})",
                file=name,
            )
        for cell in run["cells"]:
            if cell["id"] in cells:
                raise BadInput(f"cell '{cell['id']}' is also reported by {sources[cell['id']]}", file=name)
            cells[cell["id"]] = dict(cell)
            sources[cell["id"]] = name
        merged_from.append({"file": name, "shard": run.get("shard"), "cells": len(run["cells"])})
        wall = max(wall, float((run.get("summary") or {}).get("wall_s") or 0.0))
    for missing_id in first["matrix_cells"]:
        if missing_id not in cells:
            label, region, pset = _split_id(missing_id)
            cells[missing_id] = {
                "id": missing_id,
                "template": label,
                "region": region,
                "parameter_set": pset,
                "outcome": MISSING,
                "duration_s": 0.0,
                "error": "no shard reported this cell",
                "report": None,
            }
    merged = build_run(
        list(cells.values()),
        matrix_cells=list(first["matrix_cells"]),
        matrix_digest=first["matrix_digest"],
        target=first.get("target", ""),
        matrix=first.get("matrix"),
        shard=None,
        wall_s=wall,
        started_at=min((r.get("started_at") or "" for _, r in runs), default=None) or None,
    )
    merged["merged_from"] = merged_from
    merged["interrupted"] = any(bool(run.get("interrupted")) for _, run in runs)
    return merged


def _split_id(identifier: str) -> tuple[str, str, str]:
    label, _, rest = identifier.partition("|")
    region, _, pset = rest.partition("|")
    return label, region, pset


def render_json(run: Mapping[str, Any]) -> str:
    return json.dumps(run, indent=2, sort_keys=False, default=str) + "\n"


# ---------------------------------------------------------------- shared text helpers


def _failures_text(failures: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for f in failures:
        playbook = f.get("playbook") or "unknown"
        parts.append(f"{f.get('logical_id')} ({f.get('resource_type')}): {f.get('status_reason')} [{playbook}]")
    return "; ".join(parts)


def root_causes(cell: Mapping[str, Any]) -> str:
    """One line naming what made the cell fail: the last attempt's root causes, else the crash text."""
    report = cell.get("report")
    if not report:
        return str(cell.get("error") or "no deploy report")
    missing = report.get("prerequisites_missing") or []
    if missing and report.get("status") != "succeeded":  # something exists nowhere: named, not a deploy failure
        return "; ".join(f"{m.get('class')}: {m.get('what')} ({m.get('property') or 'Resources.' + str(m.get('logical_id'))})"
                         for m in missing)
    attempts = report.get("attempts") or []
    for attempt in reversed(attempts):
        if attempt.get("failures"):
            text = _failures_text(attempt["failures"])
            break
    else:
        text = ""
    if report.get("status") == "interrupted":
        text = ("interrupted; " + text) if text else "interrupted"
    if not text:
        last = attempts[-1].get("stack_status") if attempts else "no deployment"
        text = f"stack ended {last} after {len(attempts)} attempt(s)"
    return text


def _operation_lines(operations: Iterable[Mapping[str, Any]]) -> list[str]:
    lines = []
    for op in operations or []:
        kind = op.get("op")
        path = op.get("path")
        if kind == "remove":
            lines.append(f"- {path}")
            continue
        rendered = json.dumps(op.get("value"), indent=2, sort_keys=True, default=str).splitlines() or ["null"]
        mark = "+" if kind == "add" else "~"
        lines.append(f"{mark} {path}: {rendered[0]}")
        lines.extend(f"{mark} {line}" for line in rendered[1:])
    return lines


def repair_diff(repair: Mapping[str, Any]) -> str:
    """The repair as a diff: the unified diff the report carries, else its operations in diff form."""
    if repair.get("diff"):
        return str(repair["diff"]).rstrip("\n")
    return "\n".join(_operation_lines(repair.get("operations") or []))


def _repairs_text(report: Mapping[str, Any]) -> str:
    lines = []
    for finding in report.get("forecast") or []:
        lines.append(
            f"forecast: {finding.get('logical_id')} ({finding.get('resource_type')}): "
            f"{finding.get('message')} [{finding.get('playbook')}]"
        )
    for repair in report.get("forecast_repairs") or []:
        resources = ", ".join(repair.get("resources") or [])
        lines.append(f"before deploying: {repair.get('repair')} [{repair.get('playbook')}] on {resources or '-'}")
        diff = repair_diff(repair)
        if diff:
            lines.extend("    " + line for line in diff.splitlines())
    for attempt in report.get("attempts") or []:
        for repair in attempt.get("repairs") or []:
            resources = ", ".join(repair.get("resources") or [])
            lines.append(
                f"attempt {attempt.get('number')}: {repair.get('repair')} "
                f"[{repair.get('playbook')}] on {resources or '-'}"
            )
            diff = repair_diff(repair)
            if diff:
                lines.extend("    " + line for line in diff.splitlines())
    return "\n".join(lines)


def _fmt_time(seconds: Any) -> str:
    return f"{float(seconds or 0.0):.3f}"


def cell_name(cell: Mapping[str, Any]) -> str:
    return f"{cell.get('region')} [{cell.get('parameter_set')}]"


# ---------------------------------------------------------------- JUnit XML


def render_junit(run: Mapping[str, Any]) -> str:
    """JUnit XML: one testsuite per template, one testcase per region x parameter set.

    Failed cells carry a <failure> whose message is the root causes; crashed and missing cells an <error>;
    repairs go to <system-out>. Attributes follow the schema Jenkins and GitHub test reporters read.
    """
    by_template: dict[str, list[Mapping[str, Any]]] = {}
    for cell in sorted(run.get("cells") or [], key=lambda c: c["id"]):
        by_template.setdefault(str(cell.get("template")), []).append(cell)

    root = ET.Element("testsuites", name="cfn-autofix verify")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for template, cells in sorted(by_template.items()):
        suite = ET.SubElement(root, "testsuite", name=template)
        counts = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
        for cell in cells:
            outcome = classify(cell)
            case = ET.SubElement(
                suite, "testcase", classname=template, name=cell_name(cell), time=_fmt_time(cell.get("duration_s"))
            )
            counts["tests"] += 1
            counts["time"] += float(cell.get("duration_s") or 0.0)
            report = cell.get("report") or {}
            if outcome == FAILED:
                counts["failures"] += 1
                kind = "PrerequisiteMissing" if report.get("prerequisites_missing") else "DeployFailed"
                failure = ET.SubElement(case, "failure", message=root_causes(cell), type=kind)
                failure.text = _attempts_text(report)
            elif outcome in (ERROR, MISSING):
                counts["errors"] += 1
                error_type = "MissingResult" if outcome == MISSING else _error_type(cell.get("error"))
                error = ET.SubElement(case, "error", message=str(cell.get("error") or outcome), type=error_type)
                error.text = str(cell.get("traceback") or cell.get("error") or "")
            built = fidelity_summary(report.get("fidelity")) if report else ""
            if built:
                properties = ET.SubElement(case, "properties")
                ET.SubElement(properties, "property", name="fidelity", value=built)
            repairs = _repairs_text(report) if report else ""
            if repairs or built:
                ET.SubElement(case, "system-out").text = "\n".join(t for t in (built and f"fidelity: {built}", repairs) if t)
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("skipped", "0")
        suite.set("time", _fmt_time(counts["time"]))
        for key in ("tests", "failures", "errors", "time"):
            totals[key] += counts[key]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _fmt_time(totals["time"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _error_type(error: Any) -> str:
    found = re.match(r"^([A-Za-z_][A-Za-z0-9_.]*):", str(error or ""))
    return found.group(1) if found else "CellError"


def _attempts_text(report: Mapping[str, Any]) -> str:
    lines = []
    for attempt in report.get("attempts") or []:
        lines.append(f"attempt {attempt.get('number')}: {attempt.get('stack_status')}")
        for failure in attempt.get("failures") or []:
            lines.append(f"  {_failures_text([failure])}")
    for item in report.get("unknown") or []:
        lines.append(f"unknown: {json.dumps(item, sort_keys=True, default=str)}")
    return "\n".join(lines)


def strip_timings(value: Any) -> Any:
    """A copy without timing fields (time, duration_s, wall_s, started_at): to compare two runs."""
    if isinstance(value, Mapping):
        return {
            k: strip_timings(v)
            for k, v in value.items()
            if k not in _TIME_KEYS and k not in ("cell_time_s", "wall_s", "started_at")
        }
    if isinstance(value, list):
        return [strip_timings(v) for v in value]
    return value

"""Benchmark: forecast precision and recall per failure class over the real-template corpus.

Every manifest entry (tests/corpora/templates/manifest.json) is forecast with the parameters the
manifest records (the ones a real deployment uses) in the manifest's region. Each error-severity
finding is judged against the recorded expectation: a true positive when the entry is expected to fail
with the finding's class, a false positive otherwise. Where a bench_corpus results JSON is given
(--sandbox PATH, e.g. bench/results/corpus-before.json), the sandbox's outcome for the template is
shown beside each finding as a second opinion; the manifest's expectation decides.
Recall per class: of the entries expected to fail with a class, those the forecast reports with it. An
entry whose expectation says the failure is not statically knowable (expected.static.knowable false, with
its reason: the state of another account, not a fact of the template) is listed with that reason under
its class and left out of recall; it is never dropped silently.
Warnings (findings whose condition is unknown, or advisories) are not predictions of a failure: they
are counted and listed, not judged. A finding of another class on an entry expected to fail is
"unjudged": the expectation records only the deployment's first failure.

Races are graded as their own class, "<class>/race". A DependsOn finding (details.timing == "race") says
that two resources AWS documents as ordered have no Ref/GetAtt/DependsOn path, so CloudFormation creates
them in parallel and the create call fails when it loses; it does not say the deployment will fail. It is
judged against the races the manifest records (expected.races, each checked by hand and with cfn-lint's own
graph, bench/results/s18-precision.md): a true positive when the manifest records a race on that resource,
a false positive otherwise; recall is over the recorded races. The outcome view is printed beside it: how
many race findings sit on entries whose recorded likely outcome is that failure.

Nested children are forecast too (deploy/nested_forecast.py), read from the entry's repository snapshot
(--mirror-root, as bench_corpus stages it): a child finding counts for its parent entry, unless the child
file is itself a manifest entry, which judges its precision (the parent's recall still counts it). A child
under a parent condition the parameters leave unknown gives warnings only, so it is listed, not judged.

--oracle deploys the entries with findings (or every entry with --oracle-all) once on the embedded sandbox
with the forecast off and no repair (bench/forecast_oracle.py): the sandbox's own rules and simulated
clock decide, and each finding is compared with what the sandbox failed. --oracle-json caches that run.

Usage: python bench/bench_forecast_precision.py [--only ID] [--subset fast] [--sandbox PATH] [--json PATH]
                                                [--oracle] [--oracle-all] [--oracle-json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "corpora"))
sys.path.insert(0, str(ROOT / "bench"))
import corpus_files  # noqa: E402  (the manifest is committed; the template files are located, never committed)

# (repo, path) -> manifest id: a nested child that is itself an entry is judged there.
ENTRY_BY_FILE: dict[tuple[str, str], str] = {}


def failure_class(playbook: str) -> str:
    """The corpus failure class (issue 13 ids) of a playbook's findings: the class the playbook declares
    (the DependsOn playbooks share one; rds-engine-retired is invalid-property, rds-instance-class is
    capacity-unavailable)."""
    from orchestrator.catalog.playbooks import class_of, load_playbooks

    found = class_of(playbook, load_playbooks())
    return "missing-depends-on" if playbook.startswith("missing-depends-on") else playbook if found == "unknown" else found


def _row(f: Any) -> dict:
    return {"class": failure_class(f.playbook), "playbook": f.playbook, "resource": f.logical_id,
            "severity": getattr(f, "severity", "error") or "error", "message": f.message,
            "timing": (f.details or {}).get("timing", "")}


def forecast_entry(entry: dict, path: Path, region: str, mirror_root: Path | None = None) -> dict:
    """The entry's findings, its nested children's included (read from the repository's snapshot, as the
    CLI reads them from a checkout: deploy/nested_forecast.py). A child finding whose child file is itself
    a manifest entry is judged there, not twice."""
    import tempfile

    import structlog

    from bench_corpus import stage_artifacts
    from orchestrator.deploy.nested_forecast import forecast_children
    from orchestrator.errors import AutofixError
    from orchestrator.forecast.run import forecast
    from orchestrator.template import load_template

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    started = time.perf_counter()
    parameters = dict(entry.get("parameters") or {})
    try:
        template = load_template(path)
        rows = [_row(f) for f in forecast(template, region=region, parameters=parameters)]
        with tempfile.TemporaryDirectory() as stage:
            staged = stage_artifacts(entry, mirror_root, Path(stage)) if mirror_root else None
            for child in forecast_children(load_template(staged), region=region, parameters=parameters) if staged else []:
                relative = child.path.relative_to(Path(stage).resolve()).as_posix()
                own = ENTRY_BY_FILE.get((entry["repo"], relative))
                rows += [{**_row(f), "child": relative, **({"judged_in": own} if own else {})} for f in child.findings]
    except AutofixError as exc:
        return {"id": entry["id"], "error": str(exc).splitlines()[0][:200], "findings": [], "seconds": 0.0}
    return {"id": entry["id"], "findings": rows, "seconds": round(time.perf_counter() - started, 3)}


def _graded_class(finding: dict) -> str:
    return f"{finding['class']}/race" if finding.get("timing") == "race" else finding["class"]


def judge(entries: list[dict], results: dict[str, dict], sandbox: dict[str, dict]) -> dict:
    tp: Counter = Counter()
    fp: Counter = Counter()
    warnings: Counter = Counter()
    unjudged: Counter = Counter()
    on_expected_failure: Counter = Counter()  # outcome view of the races
    expected_by_class: dict[str, set[str]] = defaultdict(set)
    found_by_class: dict[str, set[str]] = defaultdict(set)
    judged: list[dict] = []
    not_static: dict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        exp = entry["expected"]
        if exp.get("outcome") == "failure" and (exp.get("static") or {}).get("knowable", True) is False:
            # The manifest records why this failure is not a fact of the template (another account's state):
            # listed with its reason and left out of recall, never dropped silently.
            not_static[exp["class"]].append({"id": entry["id"], "why": exp["static"]["why"]})
        elif exp.get("outcome") == "failure":
            expected_by_class[exp["class"]].add(entry["id"])
        recorded_races = {(race["resource"], race["class"]) for race in exp.get("races") or []}
        for race in exp.get("races") or []:
            expected_by_class[f"{race['class']}/race"].add(f"{entry['id']}:{race['resource']}")
        for f in results[entry["id"]]["findings"]:
            cls = _graded_class(f)
            box = sandbox.get(entry["id"], {})
            row = {**f, "id": entry["id"], "sandbox": box.get("status"), "sandbox_classes": box.get("failure_classes")}
            if f["severity"] != "error":
                warnings[cls] += 1
                judged.append({**row, "verdict": "warning"})
                continue
            if f.get("judged_in"):
                # That entry judges the finding (counted once for precision); this entry's forecast found it all
                # the same, so it counts for this entry's recall.
                if f.get("timing") != "race":
                    found_by_class[cls].add(entry["id"])
                judged.append({**row, "verdict": f"in {f['judged_in']}"})
                continue
            if f.get("timing") == "race":
                found_by_class[cls].add(f"{entry['id']}:{f['resource']}")
                ok = (f["resource"], f["class"]) in recorded_races
                on_expected_failure[cls] += exp.get("outcome") == "failure" and exp.get("class") == f["class"]
                (tp if ok else fp)[cls] += 1
                judged.append({**row, "verdict": "TP" if ok else "FP"})
                continue
            found_by_class[cls].add(entry["id"])
            if exp.get("outcome") == "failure" and exp.get("class") != f["class"]:
                # The expectation records the deployment's first failure only: another class on a template
                # that fails anyway can be neither confirmed nor refuted by it.
                unjudged[cls] += 1
                judged.append({**row, "verdict": "unjudged"})
                continue
            ok = exp.get("outcome") == "failure"
            (tp if ok else fp)[cls] += 1
            judged.append({**row, "verdict": "TP" if ok else "FP"})
    # A recorded race of a class is also a recorded failure of that class where it is the likely outcome.
    for cls in [c for c in expected_by_class if not c.endswith("/race")]:
        found_by_class[cls] |= {key.split(":")[0] for key in found_by_class.get(f"{cls}/race", set())}
    classes = sorted(set(tp) | set(fp) | set(expected_by_class) | set(warnings) | set(unjudged) | set(not_static))
    per_class = {}
    for cls in classes:
        n_found = tp[cls] + fp[cls] + unjudged[cls]
        expected = expected_by_class.get(cls, set())
        per_class[cls] = {
            "findings": n_found, "tp": tp[cls], "fp": fp[cls], "warnings": warnings[cls], "unjudged": unjudged[cls],
            "precision": round(tp[cls] / (tp[cls] + fp[cls]), 3) if tp[cls] + fp[cls] else None,
            "expected_failures": len(expected),
            "recalled": len(expected & found_by_class.get(cls, set())),
            "recall": round(len(expected & found_by_class.get(cls, set())) / len(expected), 3) if expected else None,
            **({"on_expected_failure": on_expected_failure[cls]} if cls.endswith("/race") else {}),
            "not_static": not_static.get(cls, []),
        }
    total = sum(tp.values()) + sum(fp.values()) + sum(unjudged.values())
    return {"per_class": per_class, "judged": judged,
            "overall": {"findings": total, "tp": sum(tp.values()), "fp": sum(fp.values()), "unjudged": sum(unjudged.values()),
                        "warnings": sum(warnings.values()),
                        "precision": round(sum(tp.values()) / (sum(tp.values()) + sum(fp.values())), 3) if sum(tp.values()) + sum(fp.values()) else None}}


def compare_with_oracle(summary: dict, oracle: dict[str, dict]) -> dict:
    """Each error finding against the sandbox's one forecast-free deployment of its entry."""
    rows = []
    counts: Counter = Counter()
    for row in summary["judged"]:
        if row["verdict"] == "warning" or row.get("judged_in") or row["id"] not in oracle:
            continue
        run = oracle[row["id"]]
        # The oracle records the playbook that named each failure; compare classes.
        failed = {f["resource"]: failure_class(f["class"]) for f in run.get("failures") or []}
        if row["resource"] in failed:
            verdict = "confirmed" if failed[row["resource"]] == row["class"] else f"fails as {failed[row['resource']]}"
        elif run.get("status") == "green":
            verdict = "sandbox green"
        elif failed:
            verdict = "not reached (failed first: " + ", ".join(sorted(failed)) + ")"
        elif run.get("prerequisites_missing"):
            verdict = "not deployed (prerequisite missing: " + ", ".join(run["prerequisites_missing"][:2]) + ")"
        else:
            verdict = f"sandbox {run.get('status')}"
        counts[verdict.split(" (")[0]] += 1
        rows.append({"id": row["id"], "resource": row["resource"], "class": _graded_class(row), "oracle": verdict})
    # Failures of classes the forecast has detectors for, that no finding names.
    named = {(r["id"], r["resource"]) for r in summary["judged"]}
    missed = [{"id": eid, **f} for eid, run in oracle.items() for f in run.get("failures") or []
              if (eid, f["resource"]) not in named and f["class"] != "unknown"]
    return {"rows": rows, "counts": dict(counts), "sandbox_only": missed}


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def print_report(summary: dict, results: dict[str, dict], detector_classes: set[str]) -> None:
    print("per-finding judgement (error findings against the manifest's expected outcome; sandbox = bench_corpus outcome)")
    for row in summary["judged"]:
        box = f"  [sandbox: {row.get('sandbox')} {','.join(row.get('sandbox_classes') or [])}]" if row.get("sandbox") else ""
        child = f" (nested: {row['child']})" if row.get("child") else ""
        print(f"  {row['verdict']:<8} {row['id']:<34}{row['class']:<24}{row['resource']}{child}{box}")
        print(f"          {row['message'][:160]}")
    errors = [r for r in results.values() if r.get("error")]
    for r in errors:
        print(f"  not forecast: {r['id']}: {r['error']}")
    print()
    head = f"{'class':<32}{'findings':>9}{'TP':>5}{'FP':>5}{'unj':>5}{'warn':>6}{'precision':>11}{'expected':>10}{'recalled':>10}{'recall':>8}"
    print(head)
    print("-" * len(head))
    for cls, row in summary["per_class"].items():
        note = "" if cls in detector_classes else "  (no detector for this class)"
        if row.get("not_static"):
            note += f"  (+{len(row['not_static'])} not statically knowable, listed below)"
        print(f"{cls:<32}{row['findings']:>9}{row['tp']:>5}{row['fp']:>5}{row['unjudged']:>5}{row['warnings']:>6}{_fmt(row['precision']):>11}"
              f"{row['expected_failures']:>10}{row['recalled']:>10}{_fmt(row['recall']):>8}{note}")
    for cls, row in summary["per_class"].items():
        for item in row.get("not_static") or []:
            print(f"  {cls}: {item['id']} is a recorded failure the template alone cannot show; not in recall: {item['why']}")
    for cls, row in summary["per_class"].items():
        if cls.endswith("/race") and row["tp"] + row["fp"]:
            print(f"  outcome view of {cls}: {row['on_expected_failure']} of {row['tp'] + row['fp']} race findings sit on entries "
                  f"whose recorded likely outcome is that failure; the others are races usually won")
    o = summary["overall"]
    print("-" * len(head))
    print(f"{'all classes':<32}{o['findings']:>9}{o['tp']:>5}{o['fp']:>5}{o['unjudged']:>5}{o['warnings']:>6}{_fmt(o['precision']):>11}")


def print_oracle(comparison: dict) -> None:
    print()
    print("forecast vs sandbox (one deployment, forecast off, no repair; the sandbox's own rules and clock decide)")
    for row in comparison["rows"]:
        print(f"  {row['id']:<34}{row['resource']:<44}{row['class']:<26}{row['oracle']}")
    for row in comparison["sandbox_only"]:
        print(f"  sandbox only: {row['id']} {row['resource']} {row['class']}: {row['reason'][:120]}")
    print("  " + ", ".join(f"{k}: {v}" for k, v in sorted(comparison["counts"].items())))


def detector_classes() -> set[str]:
    from orchestrator.catalog.playbooks import load_playbooks

    classes = {failure_class(b.id) for b in load_playbooks() if getattr(b, "forecast", None)}
    return classes | {f"{c}/race" for c in classes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="only this manifest id (repeatable)")
    parser.add_argument("--subset", help="a named subset of the manifest (e.g. fast)")
    parser.add_argument("--sandbox", type=Path, help="bench_corpus results JSON: the sandbox's outcome per template")
    parser.add_argument("--json", type=Path, help="write the judgement to this file")
    parser.add_argument("--oracle", action="store_true", help="compare with the sandbox: entries with findings")
    parser.add_argument("--oracle-all", action="store_true", help="compare with the sandbox on every entry")
    parser.add_argument("--oracle-json", type=Path, help="the sandbox run's results: read when present, else written")
    parser.add_argument("--mirror-root", type=Path, default=Path(os.environ.get("CFN_AUTOFIX_MIRRORS", "/work/.mirror")),
                        help="git snapshots (<owner>+<name>/repo): nested children are read from the entry's repository")
    args = parser.parse_args()
    manifest = corpus_files.manifest()
    entries = manifest["templates"]
    if args.subset:
        wanted = set(manifest.get("subsets", {}).get(args.subset) or [])
        if not wanted:
            sys.exit(f"unknown subset {args.subset!r}")
        entries = [e for e in entries if e["id"] in wanted]
    if args.only:
        entries = [e for e in entries if e["id"] in set(args.only)]
    found = corpus_files.available(entries)
    if len(found) < len(entries):
        sys.exit(f"{len(entries) - len(found)} corpus template(s) not found; materialize them first: "
                 "python tests/corpora/corpus_files.py --mirror-root DIR (see its docstring)")
    sandbox: dict[str, dict] = {}
    if args.sandbox:
        data = json.loads(args.sandbox.read_text())
        sandbox = {row["id"]: row.get("measured", {}) for row in data.get("rows", [])}
    region = manifest.get("region", "us-east-1")
    ENTRY_BY_FILE.update({(e["repo"], e["path"]): e["id"] for e in manifest["templates"]})
    results = {entry["id"]: forecast_entry(entry, path, region, args.mirror_root) for entry, path in found}
    summary = judge([e for e, _ in found], results, sandbox)
    print(f"forecast precision over {len(found)} corpus templates (region {region})")
    print_report(summary, results, detector_classes())
    comparison = None
    if args.oracle or args.oracle_all or args.oracle_json:
        from forecast_oracle import oracle

        ran: dict[str, dict] = {}
        if args.oracle_json and args.oracle_json.exists():
            ran = json.loads(args.oracle_json.read_text())
        wanted = [e for e, _ in found if (args.oracle_all or results[e["id"]]["findings"]) and e["id"] not in ran]
        if args.oracle or args.oracle_all:
            ran.update(oracle(wanted, mirror_root=args.mirror_root))
            if args.oracle_json:
                args.oracle_json.write_text(json.dumps(ran, indent=2) + "\n")
        comparison = compare_with_oracle(summary, ran)
        print_oracle(comparison)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "results": results, "oracle": comparison}, indent=2) + "\n")


if __name__ == "__main__":
    main()

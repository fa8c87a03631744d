"""Benchmark: deploy every template of the real-template corpus on the embedded sandbox and grade the outcome.

Each manifest entry (tests/corpora/templates/manifest.json) runs in its own subprocess with a
timeout, through the public API (`orchestrator.deploy_with_autofix`) against a sandbox the child
starts itself, so that after the run the stack's resources can be counted. Per template: status,
deployments, resources modeled / stand-ins / skipped by condition, stop reason, failure classes,
HTTP 5xx answers seen, seconds; and a verdict:

  substantive green      green with <= 10% of the built resources stand-ins
  hollow green           green, but more than 10% of the built resources stand-ins (or nothing built)

Resources a false Condition skips are not built by CloudFormation either: they are neither stand-ins nor
counted against the 10% (the share is stand-ins / (modeled + stand-ins)). They are still reported, per
template in the `skp` column and in the totals, so that a condition decided wrongly shows up; the sandbox
decides conditions with CloudFormation's coercions (a Number parameter's text, "true"/"false" strings).
  unexpected green       green where real CloudFormation fails (manifest `expected`)
  expected failure       failed with the class the manifest records (in a deployment; green after the
                         tool repaired it counts too: the sandbox refused as AWS does)
  repaired by forecast   green because the forecast predicted and repaired the recorded failure before
                         any deployment: the sandbox was not put to the test (run with --no-forecast)
  other failure          expected a failure, failed for another class
  false failure          expected green, failed with every prerequisite provided
  sandbox limitation     a failure classified `sandbox-limitation`
  prerequisite missing   failed (or refused) where the template needs something the tool did not provide
  bad input              refused as bad input (exit 2) with nothing missing
  crash/timeout          the child died, raised, or ran past --timeout

Usage: python bench/bench_corpus.py [--only ID] [--subset fast] [--timeout S] [--json PATH] [--no-forecast]

--no-forecast deploys without the forecast, so every failure has to come from the sandbox: the mode that
measures the sandbox as an oracle (the forecast otherwise repairs what it predicts before the first deployment).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "corpora"))
import corpus_files  # noqa: E402  (the manifest is committed; the template files are located, never committed)

MANIFEST = corpus_files.MANIFEST_PATH
HOLLOW_SHARE = 0.10
# Kinds CloudFormation resolves from AWS's own public data (public SSM parameters): no fixture needed.
_PUBLIC_KINDS = {"ssm-parameter"}
VERDICTS = ("substantive green", "hollow green", "unexpected green", "expected failure", "repaired by forecast",
            "other failure", "false failure", "sandbox limitation", "prerequisite missing", "bad input", "crash/timeout")


# ------------------------------------------------------------------------------------------ child


def _count_5xx() -> list[int]:
    """Count HTTP 5xx answers every botocore client in this process receives (the tool's and ours)."""
    import botocore.endpoint

    seen = [0]
    original = botocore.endpoint.Endpoint._send

    def _send(self: Any, request: Any) -> Any:
        response = original(self, request)
        if getattr(response, "status_code", 0) >= 500:
            seen[0] += 1
        return response

    botocore.endpoint.Endpoint._send = _send
    return seen


def _stack_resources(box: Any, stack_name: str) -> list[dict]:
    import boto3

    client = boto3.client("cloudformation", endpoint_url=box.endpoint_url, **box.credentials)
    try:
        return client.describe_stack_resources(StackName=stack_name)["StackResources"]
    except Exception:  # the stack may be gone (deleted after a failed create): nothing was kept
        return []


def run_child(entry_json: str) -> dict:
    """Deploy one manifest entry; print one JSON line with the measurements."""
    sys.path.insert(0, str(ROOT))
    entry = json.loads(entry_json)
    seen_5xx = _count_5xx()
    from orchestrator import deploy_with_autofix
    from orchestrator.deploy.values import AUTO
    from orchestrator.errors import BadInput
    from orchestrator.sandbox import Sandbox

    # "auto" in the manifest means "a prerequisite fixture provides it": the tool's own auto value.
    parameters = {k: (AUTO if v == "auto" else v) for k, v in (entry.get("parameters") or {}).items()}
    companions = [e.get("resolved_path") or corpus_files.template_path(e) for e in entry.get("exports_from_entries") or []]
    template_file = entry.get("staged_path") or entry.get("resolved_path") or corpus_files.template_path(entry)
    # The corpus and mirror locations are this bench's variables, not the tool's configuration: located
    # above, dropped before the run.
    for name in ("CFN_AUTOFIX_CORPUS", "CFN_AUTOFIX_MIRRORS"):
        os.environ.pop(name, None)

    out: dict[str, Any] = {"id": entry["id"]}
    started = time.perf_counter()
    box = Sandbox(region="us-east-1").start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                result = deploy_with_autofix(
                    template_file, target="endpoint", endpoint_url=box.endpoint_url,
                    credentials=box.credentials, region="us-east-1", parameters=parameters,
                    with_templates=tuple(companions), keep_stack=True, forecast=entry.get("forecast", True), out=Path(tmp) / "fixed", report_json=Path(tmp) / "report.json",
                )
            except BadInput as exc:
                out.update(status="bad-input", error=str(exc))
                return out
            report = result.report
            out.update(status=result.status, deployments=result.deployments, stop_reason=report.get("stop_reason", ""))
            failures = [f for a in result.attempts for f in a.get("failures", [])]
            missing = report.get("prerequisites_missing") or []
            from orchestrator.catalog.playbooks import class_of, load_playbooks

            books = load_playbooks()
            out["forecast_classes"] = sorted({class_of(f.get("playbook"), books) for f in report.get("forecast") or []})
            out["failure_classes"] = sorted({str(f.get("class") or class_of(f.get("playbook"), books)) for f in failures}
                                            | {str(m["class"]) for m in missing})
            out["failure_reasons"] = ([f.get("status_reason", "")[:300] for f in failures]
                                      + [f"{m['what']} ({m.get('property') or m['logical_id']})" for m in missing])[:5]
            out["fixtures"] = list(report.get("fixtures") or [])
            # Packaged local artifacts and --with stacks are provided prerequisites too.
            if any(a.get("local") and a.get("s3") for a in report.get("artifacts") or []):
                out["fixtures"].append({"kind": "local-artifact"})
            if any(a.get("served_for") and a.get("s3") for a in report.get("artifacts") or []):
                out["fixtures"].append({"kind": "s3-artifact"})  # served from the project (deploy/project.py)
            if report.get("with"):
                out["fixtures"].append({"kind": "import-value"})
            if any(a.get("local") and a.get("s3") and a.get("resource_type") == "AWS::CloudFormation::Stack"
                   for a in report.get("artifacts") or []):
                out["fixtures"].append({"kind": "nested-stack"})
            kinds: dict[str, int] = {}
            for row in report.get("emulated_resources") or []:
                kinds[row.get("resource_type", "?")] = kinds.get(row.get("resource_type", "?"), 0) + 1
            out["stand_in_types"] = kinds
            fidelity = report.get("fidelity")
            rows = _stack_resources(box, result.stack_name)
            if isinstance(fidelity, dict):
                out["limitations"] = [str(x)[:200] for x in fidelity.get("sandbox_limitations") or []][:5]
                out["stand_in"] = len(fidelity.get("stand_in") or [])
                out["skipped"] = len(fidelity.get("skipped_by_condition") or [])
                out["modeled"] = fidelity.get("modeled")
                if not isinstance(out["modeled"], int):
                    out["modeled"] = max(0, len(rows) - out["stand_in"])
                out["sandbox_limitations"] = len(fidelity.get("sandbox_limitations") or [])
                out["fidelity"] = "report"
            else:
                emulated = {r["logical_id"] for r in report.get("emulated_resources") or []}
                if not emulated:
                    emulated = {r["logical_id"] for r in box.emulated_resources(result.stack_name)}
                built = [r for r in rows if r.get("ResourceStatus", "").endswith("_COMPLETE")]
                out["stand_in"] = len(emulated)
                out["modeled"] = max(0, len(built) - len(emulated))
                # Without a fidelity report, resources the template declares but the stack lacks were
                # skipped by a condition (SAM expands, so only a plain template can be counted this way).
                # After a rollback the rows are gone, so only a green stack can be counted.
                green = result.status == "succeeded"
                out["skipped"] = None if entry.get("sam") or not green else max(0, entry["resource_count"] - len(rows))
                out["fidelity"] = "counted"
            text = json.dumps(report)
            out["5xx_in_report"] = sum(text.count(f"HTTP {code}") + text.count(f"status code {code}")
                                       for code in (500, 502, 503))
    except Exception as exc:  # a crash of the tool is a measurement, reported as such
        out.update(status="crash", error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        out["seconds"] = round(time.perf_counter() - started, 2)
        out["http_5xx"] = seen_5xx[0] + out.pop("5xx_in_report", 0)
        try:
            box.stop()
        except Exception as exc:
            out.setdefault("error", f"sandbox stop failed: {exc}")
    return out


# ----------------------------------------------------------------------------------------- parent


def _unprovided(entry: dict, measured: dict) -> list[str]:
    provided = {str(f.get("kind")) for f in measured.get("fixtures") or [] if isinstance(f, dict)}
    return [k for k in entry.get("prerequisites", []) if k not in _PUBLIC_KINDS and k not in provided]


def verdict(entry: dict, m: dict) -> str:
    expected = entry["expected"]
    status = m.get("status")
    if status in ("crash", "timeout") or status is None:
        return "crash/timeout"
    missing = _unprovided(entry, m)
    if status == "bad-input":
        return "prerequisite missing" if missing or "auto" in (entry.get("parameters") or {}).values() else "bad input"
    if status == "succeeded":
        if expected["outcome"] == "failure":
            # Green after the tool repaired the failure the manifest records, met in a deployment (the
            # sandbox's own event, never the forecast's prediction): the sandbox gave AWS's outcome.
            if expected.get("class") in set(m.get("failure_classes") or []):
                return "expected failure"
            return "repaired by forecast" if expected.get("class") in set(m.get("forecast_classes") or []) \
                else "unexpected green"
        built = (m.get("modeled") or 0) + (m.get("stand_in") or 0)
        stand_ins = m.get("stand_in") or 0
        return "hollow green" if built == 0 or stand_ins > HOLLOW_SHARE * built else "substantive green"
    classes = set(m.get("failure_classes") or [])
    if "prerequisite-missing" in classes:
        return "prerequisite missing"
    if "sandbox-limitation" in classes or "sandbox limitation" in (m.get("stop_reason") or ""):
        return "sandbox limitation"
    if expected["outcome"] == "failure":
        return "expected failure" if expected.get("class") in classes else "other failure"
    return "prerequisite missing" if missing else "false failure"


_STAGED_KINDS = ("local-artifact", "nested-stack")


def _extract(git_dir: Path, commit: str, into: Path, folder: str | None = None) -> bool:
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", commit, *([folder] if folder else [])],
                             capture_output=True, timeout=120)
    if archive.returncode != 0:
        return False
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True, timeout=120)
    return True


def _submodules(git_dir: Path, commit: str, mirror_root: Path, into: Path) -> None:
    """Fill the submodules a snapshot names (mode 160000) from their own snapshots, as `git clone --recursive` does."""
    listing = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", commit], capture_output=True, text=True,
                             timeout=60)
    modules = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:.gitmodules"], capture_output=True,
                             text=True, timeout=60).stdout
    urls = dict(re.findall(r"path = (\S+)\s+url = \S*github\.com/(\S+?)(?:\.git)?\s", modules + "\n"))
    for line in listing.stdout.splitlines():
        meta, _, path = line.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "commit" and path in urls:
            other = mirror_root / urls[path].replace("/", "+") / "repo"
            if other.is_dir():
                _extract(other, sha, into / path)


def stage_artifacts(entry: dict, mirror_root: Path | None, into: Path) -> Path | None:
    """The template beside its repository's files (Lambda sources, child templates) from a git snapshot, when one is there.

    The corpus keeps only template files; a template whose CodeUri/DefinitionUri names a local path needs
    its directory as the source repository has it, so that the tool packages the real artifact; a parent
    of nested stacks needs its whole project (submodules included), which serves the child templates its
    TemplateURLs name, as a checkout of the repository does.
    """
    git_dir = mirror_root / entry["repo"].replace("/", "+") / "repo" if mirror_root else None
    kinds = set(entry.get("prerequisites", []))
    if git_dir is None or not git_dir.is_dir() or not kinds & set(_STAGED_KINDS):
        return None
    whole = "nested-stack" in kinds
    if not _extract(git_dir, entry["commit"], into, None if whole else str(Path(entry["path"]).parent)):
        return None
    if whole:
        _submodules(git_dir, entry["commit"], mirror_root, into)
    staged = into / entry["path"]
    source = corpus_files.template_path(entry)
    if source is None or not staged.is_file() or staged.read_bytes() != source.read_bytes():
        return None
    return staged


def run_entry(entry: dict, timeout: float, mirror_root: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as stage:
        staged = stage_artifacts(entry, mirror_root, Path(stage))
        if staged is not None:
            entry = {**entry, "staged_path": str(staged)}
        return _run_entry(entry, timeout)


def _run_entry(entry: dict, timeout: float) -> dict:
    # The parent locates the files; the child's environment keeps only the tool's own CFN_AUTOFIX_* settings
    # (the tool reads CFN_AUTOFIX_<SECTION>_<KEY> as configuration and refuses CFN_AUTOFIX_CORPUS).
    entry = {**entry, "resolved_path": str(corpus_files.template_path(entry)),
             "exports_from_entries": [{**e, "resolved_path": str(corpus_files.template_path(e))}
                                      for e in entry.get("exports_from_entries") or []]}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(entry)]
    env = {k: v for k, v in os.environ.items() if k != "CFN_AUTOFIX_CORPUS"}
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env={**env, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return {"id": entry["id"], "status": "timeout", "seconds": round(time.perf_counter() - started, 2),
                "http_5xx": 0, "error": f"no result within {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"id": entry["id"], "status": "crash", "seconds": round(time.perf_counter() - started, 2),
                "http_5xx": 0, "error": f"exit {proc.returncode}: {tail}"[:500]}
    return json.loads(lines[-1])


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def print_table(rows: list[dict]) -> None:
    head = f"{'id':<34}{'verdict':<21}{'status':<11}{'dep':>4}{'mod':>5}{'std':>5}{'skp':>5}{'5xx':>5}{'sec':>8}  classes / stop reason"
    print(head)
    print("-" * len(head))
    for r in rows:
        m = r["measured"]
        classes = ",".join(m.get("failure_classes") or [])
        why = classes or m.get("stop_reason") or m.get("error") or ""
        if m.get("stand_in_types"):
            why = f"{why}; stand-ins: {', '.join(t.split('::', 1)[-1] for t in m['stand_in_types'])}"
        print(f"{r['id']:<34}{r['verdict']:<21}{_cell(m.get('status')):<11}{_cell(m.get('deployments')):>4}"
              f"{_cell(m.get('modeled')):>5}{_cell(m.get('stand_in')):>5}{_cell(m.get('skipped')):>5}"
              f"{_cell(m.get('http_5xx')):>5}{m.get('seconds', 0):>8.1f}  {why[:90]}")


def totals(rows: list[dict]) -> dict:
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in VERDICTS}
    return {
        "templates": len(rows),
        "stand_ins": sum(r["measured"].get("stand_in") or 0 for r in rows),
        **counts,
        "skipped_by_condition": sum(r["measured"].get("skipped") or 0 for r in rows),
        "http_5xx": sum(r["measured"].get("http_5xx") or 0 for r in rows),
        "seconds": round(sum(r["measured"].get("seconds") or 0 for r in rows), 1),
        "expected_green": sum(1 for r in rows if r["expected"]["outcome"] == "green"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this manifest id (repeatable)")
    parser.add_argument("--subset", help="run a named subset of the manifest (e.g. fast)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per template before it counts as hung")
    parser.add_argument("--json", type=Path, help="write the rows and totals to this file")
    parser.add_argument("--mirror-root", type=Path, default=Path(os.environ.get("CFN_AUTOFIX_MIRRORS", "/work/.mirror")),
                        help="git snapshots (<owner>+<name>/repo) to stage local artifacts from")
    parser.add_argument("--regrade", type=Path, help="grade the rows of an earlier --json file again (no deployments)")
    parser.add_argument("--no-forecast", action="store_true",
                        help="deploy without the forecast: every failure must come from the sandbox")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child)), flush=True)
        return
    manifest = json.loads(MANIFEST.read_text())
    if args.regrade:
        by_id = {e["id"]: e for e in manifest["templates"]}
        old = json.loads(args.regrade.read_text())["rows"]
        rows = [{**r, "verdict": verdict(by_id[r["id"]], r["measured"])} for r in old if r["id"] in by_id]
        _finish(rows, args.json)
        return
    entries = manifest["templates"]
    if args.subset:
        if args.subset not in manifest.get("subsets", {}):
            sys.exit(f"unknown subset {args.subset!r}; known: {', '.join(manifest.get('subsets', {}))}")
        wanted = set(manifest["subsets"][args.subset])
        entries = [e for e in entries if e["id"] in wanted]
    if args.only:
        unknown = set(args.only) - {e["id"] for e in entries}
        if unknown:
            sys.exit(f"unknown id(s): {', '.join(sorted(unknown))}")
        entries = [e for e in entries if e["id"] in set(args.only)]
    present = {e["id"] for e, _ in corpus_files.available(entries)}
    if len(present) < len(entries):
        sys.exit(f"{len(entries) - len(present)} corpus template(s) not found; materialize them first: "
                 "python tests/corpora/corpus_files.py --mirror-root DIR (see its docstring)")
    by_id = {e["id"]: e for e in manifest["templates"]}
    rows = []
    for entry in entries:
        # Exporting stacks named by the manifest are deployed first in the same sandbox (deploy --with).
        entry = {**entry, "exports_from_entries": [by_id[i] for i in entry.get("exports_from") or []],
                 "forecast": not args.no_forecast}
        measured = run_entry(entry, args.timeout, args.mirror_root)
        rows.append({"id": entry["id"], "expected": entry["expected"], "measured": measured,
                     "verdict": verdict(entry, measured)})
        print(f"  {entry['id']}: {rows[-1]['verdict']} ({measured.get('seconds', 0):.1f} s)", file=sys.stderr, flush=True)
    _finish(rows, args.json)


def _finish(rows: list[dict], json_path: Path | None) -> None:
    print_table(rows)
    summary = totals(rows)
    print()
    print("totals: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    kinds: dict[str, int] = {}
    for row in rows:
        found = row["measured"].get("stand_in_types") or {}
        # Older runs (bench/results/s11b-corpus-*.json) list the types without counts.
        for kind, count in (found.items() if isinstance(found, dict) else ((k, 1) for k in found)):
            kinds[kind] = kinds.get(kind, 0) + count
    print("stand-ins by type: " + (", ".join(f"{k}={v}" for k, v in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
                                   or "none"))
    if json_path:
        tmp = json_path.with_name(json_path.name + ".tmp")
        tmp.write_text(json.dumps({"totals": summary, "rows": rows}, indent=2) + "\n")
        tmp.replace(json_path)


if __name__ == "__main__":
    main()

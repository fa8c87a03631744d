"""The sandbox as an independent oracle for bench_forecast_precision: one deployment, forecast off, no repair.

Each manifest entry is deployed once on a fresh embedded sandbox in its own subprocess, with the forecast
switched off and an attempt budget of one, so nothing the forecast or a repair decides reaches the
sandbox: what fails is what the sandbox's own rules (its simulated clock for races, its service rules)
decide. The result per entry: status, and each failed resource with its class and AWS-style reason.

Usage (normally through bench_forecast_precision.py --oracle): python bench/forecast_oracle.py --only ID
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "corpora"))
sys.path.insert(0, str(ROOT / "bench"))
# Repository snapshots (fetch tool layout owner+name/repo), as bench_corpus's --mirror-root.
MIRRORS = Path(os.environ.get("CFN_AUTOFIX_MIRRORS", "/work/.mirror"))
import corpus_files  # noqa: E402


def run_child(entry: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    from orchestrator import deploy_with_autofix
    from orchestrator.deploy.values import AUTO
    from orchestrator.errors import AutofixError
    from orchestrator.sandbox import Sandbox

    parameters = {k: (AUTO if v == "auto" else v) for k, v in (entry.get("parameters") or {}).items()}
    companions = entry["companions"]
    box = Sandbox(region="us-east-1").start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                result = deploy_with_autofix(
                    entry["path"], target="endpoint", endpoint_url=box.endpoint_url,
                    credentials=box.credentials, region="us-east-1", parameters=parameters, forecast=False,
                    max_attempts=1, with_templates=tuple(companions), out=Path(tmp) / "fixed",
                    report_json=Path(tmp) / "report.json",
                )
            except AutofixError as exc:
                return {"id": entry["id"], "status": "refused", "error": str(exc).splitlines()[0][:200], "failures": []}
            failures = [
                {"resource": f.get("logical_id"), "class": str(f.get("class") or f.get("playbook") or "unknown"),
                 "reason": str(f.get("status_reason", ""))[:200]}
                for a in result.attempts for f in a.get("failures", [])
            ]
            report = result.report
            return {"id": entry["id"], "status": result.status, "failures": failures,
                    "stop_reason": str(report.get("stop_reason") or "")[:200],
                    "prerequisites_missing": [str(m.get("what")) for m in report.get("prerequisites_missing") or []]}
    finally:
        box.stop()


def oracle(entries: list[dict], timeout: float = 300.0, mirror_root: Path | None = MIRRORS) -> dict[str, dict]:
    """The sandbox's outcome per entry id (each in its own subprocess, bounded by `timeout`).

    As bench_corpus does: the stacks an entry imports from (manifest `exports_from`) deploy first as `--with`
    companions, and an entry with local artifacts or nested children runs from its repository's snapshot
    (bench_corpus.stage_artifacts) when `mirror_root` holds one."""
    from bench_corpus import stage_artifacts

    out: dict[str, dict] = {}
    by_id = {e["id"]: e for e in corpus_files.manifest()["templates"]}
    # CFN_AUTOFIX_* variables are the tool's configuration: the corpus location is resolved here, not passed on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFN_AUTOFIX_")}
    for entry in entries:
        with tempfile.TemporaryDirectory() as stage:
            staged = stage_artifacts(entry, mirror_root, Path(stage)) if mirror_root else None
            child = {**entry, "path": str(staged or corpus_files.template_path(entry)),
                     "companions": [str(corpus_files.template_path(by_id[i])) for i in entry.get("exports_from") or []
                                    if i in by_id]}
            out[entry["id"]] = _run(child, timeout, env)
    return out


def _run(child: dict, timeout: float, env: dict) -> dict:
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(child)], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"id": child["id"], "status": "timeout", "failures": []}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {
        "id": child["id"], "status": "crash", "failures": [], "error": proc.stderr.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    entries = [e for e in corpus_files.manifest()["templates"] if e["id"] in set(args.only)]
    print(json.dumps(oracle(entries), indent=2))


if __name__ == "__main__":
    main()

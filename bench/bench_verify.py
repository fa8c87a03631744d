"""Benchmark of `verify` on the embedded sandbox: 20 templates x 2 regions, with 1 and with 4 workers.

Prints wall time, cells per second and peak memory (ru_maxrss of a fresh process per configuration;
with --tracemalloc also the peak of Python allocations, which slows the run about twofold, so the
wall times of such a run are not comparable). Run: .venv/bin/python bench/bench_verify.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

TEMPLATES = 20
REGIONS = ["us-east-1", "eu-west-1"]

# Small templates of types moto models, plus one with a managed-policy ARN at the wrong path every
# fifth template, so that the benchmark includes the diagnose-repair-redeploy path.
_PLAIN = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
    Default: dev
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Tags:
        - Key: env
          Value: !Ref Env
  Bucket:
    Type: AWS::S3::Bucket
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 7
Outputs:
  QueueUrl:
    Value: !Ref Queue
"""

_BROKEN = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  DeployRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: codedeploy.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AWSCodeDeployRole
  Queue:
    Type: AWS::SQS::Queue
"""


def write_matrix(folder: Path) -> Path:
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    for index in range(TEMPLATES):
        text = _BROKEN if index % 5 == 4 else _PLAIN
        (folder / "templates" / f"t{index:02d}.yaml").write_text(text)
    matrix = folder / "matrix.toml"
    matrix.write_text(f'regions = {json.dumps(REGIONS)}\ntemplates = ["templates/*.yaml"]\n')
    return matrix


def run_once(workers: int, *, trace: bool = False) -> dict:
    """One configuration in this (fresh) process."""
    from orchestrator.verify import reports
    from orchestrator.logs import configure_logging
    from orchestrator.deploy.loop import deploy_with_autofix
    from orchestrator.verify.run import plan, verify

    configure_logging(json=True, level="error")
    with tempfile.TemporaryDirectory() as tmp:
        matrix = write_matrix(Path(tmp))
        vplan = plan(matrix_path=matrix)
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        run = verify(vplan, deploy=deploy_with_autofix, workers=workers, out_dir=Path(tmp) / "out")
        wall = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
    summary = run["summary"]
    return {
        "workers": workers,
        "cells": summary["cells"],
        "wall_s": round(wall, 2),
        "cells_per_s": round(summary["cells"] / wall, 2),
        "green": summary["green_first_try"],
        "repaired": summary["green_after_repair"],
        "failed": summary["failed"],
        "errors": summary["errors"],
        "deployments": summary["deployments"],
        "exit_code": reports.exit_code(run),
        "traced_peak_mb": round(traced_peak / 2**20, 1) if trace else "-",
        # Linux reports ru_maxrss in KiB.
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", type=int, help="run a single configuration with this many workers (internal)")
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts to compare")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure the peak of Python allocations")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_once(args.one, trace=args.tracemalloc)))
        return 0
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        # A fresh process per configuration, so that peak memory is that configuration's own.
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(workers), *(["--tracemalloc"] if args.tracemalloc else [])],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"verify benchmark: {TEMPLATES} templates x {len(REGIONS)} regions on the embedded sandbox")
    header = ["workers", "cells", "wall_s", "cells_per_s", "green", "repaired", "failed", "errors", "deployments",
              "traced_peak_mb", "max_rss_mb"]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[h]) for h in header))
    if len(rows) >= 2:
        print(f"speed-up {rows[-1]['workers']} vs {rows[0]['workers']} worker(s): {rows[0]['wall_s'] / rows[-1]['wall_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

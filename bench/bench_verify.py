"""Benchmark of `verify` on the embedded sandbox: the same 8-cell matrix with 1, 2, 4 and nproc workers.

Each configuration runs in a fresh process (`cfn-autofix verify`'s code path: run_verify_command), in
worker processes (`--processes`, the default) and, with --threads, also as threads of one process (the
behaviour before worker processes). Prints wall time, speed-up over 1 worker, the peak memory of the
parent and of the largest worker, and the machine's load average (a loaded machine cannot show speed-up).
With --profile each configuration also prints its timeline: the parent's phases (wrapped here, in the
bench's own process) and each worker's (the epoch timestamps every cell record carries), from the start of
the command, so that the serial part of a run (what no second worker can shorten) is measured, not guessed.
Run: .venv/bin/python bench/bench_verify.py [--workers 1,2,4,N] [--threads] [--profile] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = 4
REGIONS = ["us-east-1", "eu-west-1"]

# Small templates of types moto models, plus one with a managed-policy ARN at the wrong path, so that the
# benchmark includes the diagnose-repair-redeploy path.
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
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
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


# The second matrix: a realistic nightly job on the repository's own templates (not generated): the example
# web tier (41 resources, three defects the loop repairs), KMS-encrypted logs missing the logs principal
# (repaired), a CodePipeline stack (green) and an IAM role used before it propagates (the e2e fixture).
_ROOT = Path(__file__).resolve().parents[1]
NIGHTLY = ["examples/webtier-broken.yaml", "tests/fixtures/templates/logs-kms.yaml",
           "tests/fixtures/templates/pipeline.json", "tests/fixtures/e2e/iam-eventual-consistency.yaml"]
# The third matrix: four public templates of the real-template corpus (tests/corpora, not committed: set
# CFN_AUTOFIX_CORPUS), each green on the sandbox with no parameter file (zones come from fixtures), 33-59
# resources each: the size of cell a nightly job over real templates runs. us-west-2 has the 4 zones
# widdix-vpc-4azs needs.
CORPUS = ["aws-cloudformation-fargate/fargate-public-private-vpc.yml", "aws-cf-templates/widdix-vpc-4azs.yaml",
          "startup-kit-templates/startup-vpc.yml", "aws-refarch-wordpress/wordpress-01-newvpc.yaml"]
CORPUS_REGIONS = ["us-east-1", "us-west-2"]
MATRICES = {
    "small": f"{TEMPLATES} small generated templates (SQS, SNS, S3, Logs, KMS; every other one with a wrong "
             f"managed-policy ARN) x {len(REGIONS)} regions",
    "nightly": f"{len(NIGHTLY)} of the repository's templates ({', '.join(Path(t).name for t in NIGHTLY)}) "
               f"x {len(REGIONS)} regions",
    "corpus": f"{len(CORPUS)} public templates of the corpus ({', '.join(Path(t).stem for t in CORPUS)}) "
              f"x {len(CORPUS_REGIONS)} regions",
}


def write_matrix(folder: Path, name: str = "small") -> Path:
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    regions = REGIONS
    if name == "nightly":
        for relative in NIGHTLY:
            source = _ROOT / relative
            (folder / "templates" / source.name).write_bytes(source.read_bytes())
    elif name == "corpus":
        corpus = Path(os.environ.get("CFN_AUTOFIX_CORPUS", _ROOT / "tests" / "corpora" / "templates"))
        missing = [relative for relative in CORPUS if not (corpus / relative).is_file()]
        if missing:
            raise SystemExit(f"bench_verify: matrix 'corpus' needs the corpus files ({', '.join(missing)} not in {corpus}; "
                             "set CFN_AUTOFIX_CORPUS)")
        for relative in CORPUS:
            source = corpus / relative
            (folder / "templates" / source.name).write_bytes(source.read_bytes())
        regions = CORPUS_REGIONS
    else:
        for index in range(TEMPLATES):
            text = _BROKEN if index % 2 == 1 else _PLAIN
            (folder / "templates" / f"t{index:02d}.yaml").write_text(text)
    matrix = folder / "matrix.toml"
    patterns = sorted({f"templates/*{path.suffix}" for path in (folder / "templates").iterdir()})
    matrix.write_text(f'regions = {json.dumps(regions)}\ntemplates = {json.dumps(patterns)}\n')
    return matrix


_PARENT_PHASES = [  # (module, attribute, phase): the parent's steps run_verify_command goes through
    ("orchestrator.verify.plan", "plan", "plan"),
    ("orchestrator.verify.run", "verify", "verify"),
    ("orchestrator.verify.preload", "start_forkserver", "forkserver_start"),
    ("orchestrator.verify.workers", "_shutdown_draining", "pool_shutdown"),
    ("orchestrator.verify.outputs", "write_outputs", "write_outputs"),
]


def _record_phases(phases: list) -> None:
    """Wrap the parent's steps so that each appends (phase, start, end) in epoch seconds."""
    import functools
    import importlib

    from orchestrator.verify.progress import Progress

    for module_name, attribute, phase in _PARENT_PHASES:
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)

        def wrapped(*args, __original=original, __phase=phase, **kwargs):
            started = time.time()
            try:
                return __original(*args, **kwargs)
            finally:
                phases.append((__phase, started, time.time()))

        setattr(module, attribute, functools.wraps(original)(wrapped))
    finished = Progress.finished

    def record_arrived(self, record, __finished=finished):
        phases.append(("record_arrived", time.time(), time.time()))
        return __finished(self, record)

    Progress.finished = record_arrived


def _timeline(started: float, ended: float, phases: list, cells: list) -> dict:
    """Phases and per-worker intervals as seconds since the command began."""
    def rel(stamp):
        return round(stamp - started, 3) if stamp else None

    parent = [(name, rel(a), rel(b)) for name, a, b in phases]
    per_worker: dict[int, dict] = {}
    for cell in cells:
        worker = cell.get("worker") or {}
        line = worker.get("timeline")
        if not line:
            continue
        entry = per_worker.setdefault(worker["pid"], {"warm": [rel(t) for t in line.get("forkserver_warm") or []],
                                                      "init": [rel(t) for t in line["init"]], "cells": []})
        entry["cells"].append([cell["id"], rel(line["cell"][0]), rel(line["cell"][1]), cell.get("outcome")])
    spans = [c for w in per_worker.values() for c in w["cells"]]
    first = min((c[1] for c in spans), default=None)
    last = max((c[2] for c in spans), default=None)
    busy = sum(c[2] - c[1] for c in spans)
    total = rel(ended)
    return {"total_s": total, "parent": parent, "workers": per_worker, "first_cell_start_s": first,
            "last_cell_end_s": last, "cells_busy_s": round(busy, 3),
            "serial_s": round(first + (total - last), 3) if first is not None else None}


def print_timeline(row: dict) -> None:
    line = row["timeline"]
    print(f"\n-- timeline: {row['mode']}, {row['workers']} worker(s), {line['total_s']} s "
          f"(seconds since the command began) --")
    for name, start, end in sorted(line["parent"], key=lambda p: p[1]):
        if name != "record_arrived":
            print(f"  parent  {name:<18} {start:7.3f} -> {end:7.3f}  ({end - start:.3f} s)")
    arrivals = [p[1] for p in line["parent"] if p[0] == "record_arrived"]
    if arrivals:
        print(f"  parent  records arrived      {', '.join(f'{a:.2f}' for a in sorted(arrivals))}")
    for pid, worker in line["workers"].items():
        warm = worker["warm"]
        if warm:
            print(f"  fork server warm-up        {warm[0]:7.3f} -> {warm[1]:7.3f}  ({warm[1] - warm[0]:.3f} s)")
        init = worker["init"]
        print(f"  worker {pid} init           {init[0]:7.3f} -> {init[1]:7.3f}")
        for cell_id, start, end, outcome in worker["cells"]:
            print(f"  worker {pid} cell {start:7.3f} -> {end:7.3f}  ({end - start:.3f} s) {outcome:<9} {cell_id}")
    print(f"  first cell starts at {line['first_cell_start_s']} s; last cell ends at {line['last_cell_end_s']} s; "
          f"serial part (before the first cell + after the last) {line['serial_s']} s; "
          f"cells busy {line['cells_busy_s']} s in total")


def run_once(workers: int, processes: bool, profile: bool = False, matrix_name: str = "small") -> dict:
    """One configuration in this (fresh) process, through the command's code path."""
    from orchestrator.cli.verify import run_verify_command
    from orchestrator.config import load_config
    from orchestrator.logs import configure_logging

    configure_logging(json=True, level="error")
    phases: list = []
    if profile:
        _record_phases(phases)
    with tempfile.TemporaryDirectory() as tmp:
        matrix = write_matrix(Path(tmp), matrix_name)
        report = Path(tmp) / "verify.json"
        started, started_at = time.perf_counter(), time.time()
        code = run_verify_command(None, matrix_path=matrix, workers=workers, processes=processes,
                                  out_dir=Path(tmp) / "out", report_json=report, config=load_config(env={}),
                                  stream=io.StringIO())
        wall, ended_at = time.perf_counter() - started, time.time()
        run = json.loads(report.read_text())
    summary = run["summary"]
    workers_rss = [cell.get("worker", {}).get("max_rss_mb", 0) for cell in run["cells"]]
    # Workers are the forkserver's children, not ours: their CPU comes back in the records (last per pid).
    worker_cpu: dict[int, tuple[float, float]] = {}
    for cell in run["cells"]:
        worker = cell.get("worker") or {}
        if "pid" in worker:
            worker_cpu[worker["pid"]] = (max(worker.get("cpu_s", 0.0), worker_cpu.get(worker["pid"], (0.0, 0.0))[0]),
                                         worker.get("start_cpu_s", 0.0))
    # Per cell: its wall time and the CPU its worker spent on it (the worker's CPU at the end of the cell minus
    # at the end of its previous cell, or at the end of its start-up). A cell whose wall exceeds its CPU on a
    # quiet machine waited (sleeps, polls, a server's shutdown); under load the difference is also the queue.
    cells_cpu = 0.0
    last_cpu: dict[int, float] = {}
    for cell in sorted(run["cells"], key=lambda c: (c.get("worker") or {}).get("cpu_s", 0.0)):
        worker = cell.get("worker") or {}
        if "pid" in worker:
            before = last_cpu.get(worker["pid"], worker.get("start_cpu_s", 0.0))
            cells_cpu += worker["cpu_s"] - before
            last_cpu[worker["pid"]] = worker["cpu_s"]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) + children.ru_utime + children.ru_stime
    line = _timeline(started_at, ended_at, phases, run["cells"])
    return {
        **({"timeline": line} if profile else {}),
        "serial_s": line["serial_s"],
        "cells_busy_s": line["cells_busy_s"],
        "matrix": matrix_name,
        "mode": "processes" if processes else "threads",
        "workers": workers,
        "cells": summary["cells"],
        "wall_s": round(wall, 2),
        "green": summary["green_first_try"],
        "repaired": summary["green_after_repair"],
        "failed": summary["failed"] + summary["errors"],
        "exit_code": code,
        "parent_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_rss_mb": max(workers_rss) if any(workers_rss) else "-",
        "cpu_s": round(own + sum(total for total, _ in worker_cpu.values()), 1),
        "parent_cpu_s": round(own, 1),
        "cells_wall_s": round(sum(cell.get("duration_s") or 0.0 for cell in run["cells"]), 2),
        "cells_cpu_s": round(cells_cpu, 2),
        "worker_start_cpu_s": round(sum(start for _, start in worker_cpu.values()), 1),
        "warm_cpu_s": max((c.get("worker") or {}).get("forkserver_warm_cpu_s", 0.0) for c in run["cells"]),
    }


def run_cli(workers: int, matrix_name: str) -> dict | None:
    """One configuration as a user runs it: `python -m orchestrator verify` as a whole process, its interpreter's
    start-up, imports and exit included (run_once measures the command's code path inside a started process)."""
    with tempfile.TemporaryDirectory() as tmp:
        matrix = write_matrix(Path(tmp), matrix_name)
        report = Path(tmp) / "verify.json"
        command = [sys.executable, "-m", "orchestrator", "--log-json", "verify", "--matrix", str(matrix),
                   "--workers", str(workers), "--processes", "--out-dir", str(Path(tmp) / "out"),
                   "--report-json", str(report)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started, started_at = time.perf_counter(), time.time()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp)
        wall, ended_at = time.perf_counter() - started, time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):
            print(done.stderr, file=sys.stderr)
            return None
        run = json.loads(report.read_text())
    line = _timeline(started_at, ended_at, [], run["cells"])
    summary = run["summary"]
    # The command's own CPU (its workers are the fork server's children, not ours: theirs come in the records).
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    workers_cpu = {c["worker"]["pid"]: c["worker"].get("cpu_s", 0.0) for c in run["cells"] if "pid" in (c.get("worker") or {})}
    return {"matrix": matrix_name, "mode": "cli", "workers": workers, "cells": summary["cells"], "wall_s": round(wall, 2),
            "green": summary["green_first_try"], "repaired": summary["green_after_repair"],
            "failed": summary["failed"] + summary["errors"], "exit_code": done.returncode,
            "parent_rss_mb": "-", "worker_rss_mb": max((c.get("worker") or {}).get("max_rss_mb", 0) for c in run["cells"]),
            "cpu_s": round(own + sum(workers_cpu.values()), 1), "parent_cpu_s": round(own, 1),
            "cells_wall_s": round(sum(c.get("duration_s") or 0.0 for c in run["cells"]), 2), "cells_cpu_s": "-",
            "worker_start_cpu_s": "-",
            "warm_cpu_s": max((c.get("worker") or {}).get("forkserver_warm_cpu_s", 0.0) for c in run["cells"]),
            "serial_s": line["serial_s"], "cells_busy_s": line["cells_busy_s"]}


def _spin(seconds_of_work: int) -> None:
    total = 0
    for i in range(seconds_of_work):
        total += i * i % 7


def machine_ceiling(work: int = 8_000_000) -> float:
    """What this machine gives a second process right now: the same pure-Python CPU work twice, one after the
    other vs two processes at once (fork, no imports, no I/O). No verify run can beat this ratio."""
    import multiprocessing

    context = multiprocessing.get_context("fork")

    def timed(parallel: int) -> float:
        started = time.perf_counter()
        processes = [context.Process(target=_spin, args=(work,)) for _ in range(parallel)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        return time.perf_counter() - started

    timed(1)  # the first process after a pause meets cold caches and a slow clock: not part of the ratio
    ratios = [(timed(1) + timed(1)) / timed(2) for _ in range(3)]
    return round(sorted(ratios)[1], 2)


def _run_config(workers: int, mode: str, matrix_name: str, profile: bool) -> dict | None:
    load = os.getloadavg()
    if mode == "cli":
        row = run_cli(workers, matrix_name)
        if row is not None:
            row["load_1m"], row["load_1m_end"] = round(load[0], 1), round(os.getloadavg()[0], 1)
        return row
    # A fresh process per configuration, so that peak memory is that configuration's own.
    done = subprocess.run([sys.executable, __file__, "--one", str(workers), "--mode", mode, "--matrix", matrix_name,
                           *(["--profile"] if profile else [])],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return None
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["load_1m"] = round(load[0], 1)
    row["load_1m_end"] = round(os.getloadavg()[0], 1)
    return row


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


_HEADER = ["matrix", "mode", "workers", "cells", "wall_s", "speedup", "serial_s", "cells_busy_s", "cpu_s",
           "parent_cpu_s", "warm_cpu_s", "worker_start_cpu_s", "cells_wall_s", "cells_cpu_s", "green", "repaired", "failed", "parent_rss_mb", "worker_rss_mb", "load_1m", "load_1m_end"]


def _med(rows: list[dict], key: str, digits: int = 2) -> str:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return f"{_median(values):.{digits}f}" if values else "-"


def _print_bound(mode: str, single: list[dict], counts: list[int]) -> None:
    """Amdahl's bound from the 1-worker runs: their serial part S (before the first cell starts and after the last
    ends) and the cells' busy time C; N workers, perfectly parallel cells, cannot beat (S + C) / (S + C / N)."""
    if not single or any(r.get("serial_s") is None for r in single):
        return
    serial, cells = _median([r["serial_s"] for r in single]), _median([r["cells_busy_s"] for r in single])
    bounds = ", ".join(f"{n} workers {(serial + cells) / (serial + cells / n):.2f}x" for n in counts if n > 1)
    # (S + C) / (S + C/2) >= 1.7  <=>  S <= 0.15 C / 0.7
    print(f"    {mode}: serial part {serial:.2f} s, cells {cells:.2f} s with 1 worker: at best {bounds}; "
          f"1.7x on 2 workers needs a serial part under {0.15 * cells / 0.7:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", type=int, help="run a single configuration with this many workers (internal)")
    parser.add_argument("--mode", default="processes", choices=["processes", "threads"], help=argparse.SUPPRESS)
    parser.add_argument("--matrix", default="both", choices=["small", "nightly", "corpus", "both"],
                        help="small: the generated 8-cell matrix (issue 17's figure); nightly: the repository's "
                             "templates; corpus: four public templates of the corpus (CFN_AUTOFIX_CORPUS); both "
                             "(default): small and nightly, printed separately")
    parser.add_argument("--workers", default=f"1,2,4,{os.cpu_count()}", help="comma-separated worker counts")
    parser.add_argument("--runs", type=int, default=1, help="runs of every configuration (interleaved); medians")
    parser.add_argument("--threads", action="store_true", help="also run every count as threads of one process")
    parser.add_argument("--profile", action="store_true", help="also print each configuration's timeline")
    parser.add_argument("--cli", action="store_true",
                        help="also time the whole command as a user runs it (`python -m orchestrator verify`, "
                             "interpreter start-up and exit included)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also measure, in every run, the speed-up this machine gives two processes of pure "
                             "CPU work (the most any run can show)")
    parser.add_argument("--json-out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_once(args.one, args.mode == "processes", args.profile, args.matrix)))
        return 0
    counts = list(dict.fromkeys(int(w) for w in args.workers.split(",")))
    modes = ["processes", *(["threads"] if args.threads else []), *(["cli"] if args.cli else [])]
    names = ["small", "nightly"] if args.matrix == "both" else [args.matrix]
    rows = []
    ceilings: list[float] = []
    for run in range(1, args.runs + 1):
        if args.ceiling:
            ceilings.append(machine_ceiling())
        for name in names:
            for mode in modes:
                for workers in counts:  # interleaved: a change of load hits every configuration alike
                    row = _run_config(workers, mode, name, args.profile)
                    if row is None:
                        return 1
                    row["run"] = run
                    rows.append(row)
    for name in names:
        cells = next(r["cells"] for r in rows if r["matrix"] == name)
        print(f"\n== verify benchmark, matrix '{name}': {MATRICES[name]} = {cells} cells; embedded sandbox, "
              f"{os.cpu_count()} CPUs; {args.runs} run(s) per configuration ==")
        print(" | ".join(["run", *_HEADER]))
        for row in rows:
            if row["matrix"] != name:
                continue
            base = next(r for r in rows if r["matrix"] == name and r["mode"] == row["mode"]
                        and r["workers"] == counts[0] and r["run"] == row["run"])
            row["speedup"] = f"{base['wall_s'] / row['wall_s']:.2f}x"
            print(" | ".join(str(row[h]) for h in ["run", *_HEADER]))
        print("medians:")
        for mode in modes:
            base = _median([r["wall_s"] for r in rows if r["matrix"] == name and r["mode"] == mode and r["workers"] == counts[0]])
            for workers in counts:
                mine = [r for r in rows if r["matrix"] == name and r["mode"] == mode and r["workers"] == workers]
                wall = _median([r["wall_s"] for r in mine])
                print(f"  {mode}, {workers} worker(s): wall {wall:.2f} s, speed-up {base / wall:.2f}x, "
                      f"CPU {_med(mine, 'cpu_s', 1)} s (parent {_med(mine, 'parent_cpu_s', 1)}, "
                      f"fork-server warm-up {_med(mine, 'warm_cpu_s')}; cells "
                      f"{_med(mine, 'cells_cpu_s')} in {_med(mine, 'cells_wall_s')} s of cell wall), "
                      f"load {min(r['load_1m'] for r in mine)}-{max(r['load_1m_end'] for r in mine)}")
            _print_bound(mode, [r for r in rows if r["matrix"] == name and r["mode"] == mode and r["workers"] == 1], counts)
    if ceilings:
        print(f"\nmachine ceiling (pure CPU work, 2 processes at once vs one after the other), per run: "
              f"{', '.join(f'{c:.2f}x' for c in ceilings)}; median {_median(ceilings):.2f}x")
    for row in rows:
        if "timeline" in row:
            print(f"\n[matrix '{row['matrix']}', run {row['run']}]", end="")
            print_timeline(row)
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: whole-process time of the commands that do not deploy, beside whole-process cfn-lint on the same files."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_forecast import generated_template  # noqa: E402

BIN = Path(sys.executable).parent
# Goals of issue 15: --help under 0.3 s; forecast >= 10x faster than cfn-lint on 500 resources.
HELP_GOAL_S = 0.3
FORECAST_SPEEDUP_GOAL = 10.0


def _exe(name: str) -> str:
    local = BIN / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_process(argv: list[str], runs: int) -> tuple[float, float, int]:
    """Median wall time and median CPU time (user + system) of a fresh process running argv, and its exit code.

    On a shared, loaded machine the wall time swings with the load; the CPU time is what the process costs.
    """
    env = {**os.environ, "NO_COLOR": "1"}
    walls, cpus, code = [], [], 0
    for _ in range(runs):
        started, cpu = time.perf_counter(), _children_cpu()
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=300).returncode
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus), code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)

    tool, lint = _exe("cfn-autofix"), _exe("cfn-lint")
    example = ROOT / "examples" / "webtier-broken.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / f"generated-{args.resources}.json"
        generated.write_text(json.dumps(generated_template(args.resources), indent=2))
        cases = [
            ("--help", [tool, "--help"], None),
            ("--version", [tool, "--version"], None),
            ("playbooks", [tool, "playbooks"], None),
            ("forecast missing.yaml", [tool, "forecast", str(Path(tmp) / "missing.yaml")], None),
            ("graph example", [tool, "graph", str(example)], None),
            ("forecast example", [tool, "forecast", str(example)], [lint, str(example)]),
            (f"forecast {args.resources} resources", [tool, "forecast", str(generated)], [lint, str(generated)]),
        ]
        rows = []
        for label, ours, theirs in cases:
            wall, cpu, code = whole_process(ours, args.runs)
            row = {"command": label, "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "exit": code}
            if theirs is not None:
                lint_wall, lint_cpu, _ = whole_process(theirs, max(1, args.runs // 2))
                row.update(cfn_lint_seconds=round(lint_wall, 3), cfn_lint_cpu_seconds=round(lint_cpu, 3),
                           speedup=round(lint_wall / wall, 1), cpu_speedup=round(lint_cpu / max(cpu, 1e-3), 1))
            rows.append(row)

    if not args.json:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall / CPU seconds, median of {args.runs}")
        print(f"{'command':28} {'cfn-autofix':>16} {'exit':>5} {'cfn-lint':>16} {'speed-up':>14}")
        for row in rows:
            ours = f"{row['seconds']:.2f} / {row['cpu_seconds']:.2f}"
            lint_cell = f"{row['cfn_lint_seconds']:.2f} / {row['cfn_lint_cpu_seconds']:.2f}" if "speedup" in row else ""
            speed = f"{row['speedup']:.1f}x / {row['cpu_speedup']:.1f}x" if "speedup" in row else ""
            print(f"{row['command']:28} {ours:>16} {row['exit']:>5} {lint_cell:>16} {speed:>14}")
    print(json.dumps({"bench": "startup", "median_of": args.runs, "load_average": os.getloadavg()[0], "rows": rows}))
    misses = []
    help_row = next(r for r in rows if r["command"] == "--help")
    if min(help_row["seconds"], help_row["cpu_seconds"]) >= HELP_GOAL_S:
        misses.append(f"--help took {help_row['seconds']:.2f} s ({help_row['cpu_seconds']:.2f} s CPU; goal < {HELP_GOAL_S} s)")
    big = rows[-1]
    if max(big.get("speedup", 0), big.get("cpu_speedup", 0)) < FORECAST_SPEEDUP_GOAL:
        misses.append(f"{big['command']}: {big.get('speedup')}x faster than cfn-lint, {big.get('cpu_speedup')}x in CPU "
                      f"(goal >= {FORECAST_SPEEDUP_GOAL}x)")
    for miss in misses:
        print(f"goal missed: {miss}", file=sys.stderr)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())

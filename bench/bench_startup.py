"""Benchmark: whole-process time of the commands that do not deploy, beside whole-process cfn-lint on the same files."""

from __future__ import annotations

import argparse
import io
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
from typing import Any

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


def _one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), _children_cpu()
    code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=300).returncode
    return time.perf_counter() - started, _children_cpu() - cpu, code


def whole_process(argv: list[str], runs: int, against: list[str] | None = None) -> dict[str, Any]:
    """Median wall and CPU time (user + system) of fresh processes running argv, and the exit code.

    With `against` (cfn-lint on the same file) the two alternate, run for run, so that both meet the same
    load; the speed-up is the median of the per-pair ratios as well as the ratio of the medians. On a shared,
    loaded machine the wall time swings with the load; the CPU time is what the process costs.
    """
    env = {**os.environ, "NO_COLOR": "1"}
    ours: list[tuple[float, float, int]] = []
    theirs: list[tuple[float, float, int]] = []
    for _ in range(runs):
        ours.append(_one_run(argv, env))
        if against is not None:
            theirs.append(_one_run(against, env))
    row: dict[str, Any] = {"seconds": round(statistics.median(w for w, _, _ in ours), 3),
                           "cpu_seconds": round(statistics.median(c for _, c, _ in ours), 3), "exit": ours[-1][2]}
    if against is not None:
        row.update(
            cfn_lint_seconds=round(statistics.median(w for w, _, _ in theirs), 3),
            cfn_lint_cpu_seconds=round(statistics.median(c for _, c, _ in theirs), 3),
            cfn_lint_exit=theirs[-1][2],
            speedup=round(statistics.median(t[0] / o[0] for o, t in zip(ours, theirs)), 1),
            cpu_speedup=round(statistics.median(t[1] / max(o[1], 1e-3) for o, t in zip(ours, theirs)), 1),
        )
    return row


def compile_our_bytecode() -> list[str]:
    """Compile cfn-autofix's own modules to bytecode, as pip does when it installs a wheel; the folders compiled.

    An editable install under PYTHONDONTWRITEBYTECODE=1 (as on the shared machine) never writes bytecode, so
    each measured process would compile ~70 of our modules from source (~0.05 s), while cfn-lint's modules,
    installed by pip, load theirs. Compiling first measures both as installed.
    """
    import compileall
    import importlib.util

    folders = []
    for package in ("orchestrator", "orchestrator.repairs"):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=1)
            folders.append(folder)
    return folders


def _yaml_text(document: dict) -> str:
    """The generated template as block YAML (the form pre-commit hooks and people mostly meet)."""
    from ruamel.yaml import YAML

    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, stream)
    return stream.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--as-is", action="store_true",
                        help="do not compile cfn-autofix's modules to bytecode first (as pip does at install)")
    args = parser.parse_args(argv)
    compiled = [] if args.as_is else compile_our_bytecode()

    tool, lint = _exe("cfn-autofix"), _exe("cfn-lint")
    example = ROOT / "examples" / "webtier-broken.yaml"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        document = generated_template(args.resources)
        generated = Path(tmp) / f"generated-{args.resources}.json"
        generated.write_text(json.dumps(document, indent=2))
        generated_yaml = Path(tmp) / f"generated-{args.resources}.yaml"
        generated_yaml.write_text(_yaml_text(document))
        cases = [
            ("--help", [tool, "--help"], None),
            ("--version", [tool, "--version"], None),
            ("playbooks", [tool, "playbooks"], None),
            ("forecast missing.yaml", [tool, "forecast", str(Path(tmp) / "missing.yaml")], None),
            ("graph example", [tool, "graph", str(example)], None),
            ("forecast example (YAML)", [tool, "forecast", str(example)], [lint, str(example)]),
            (f"forecast {args.resources} resources YAML", [tool, "forecast", str(generated_yaml)], [lint, str(generated_yaml)]),
            (f"forecast {args.resources} resources", [tool, "forecast", str(generated)], [lint, str(generated)]),
        ]
        rows = [{"command": label, **whole_process(ours, args.runs, theirs)} for label, ours, theirs in cases]
    load_after = os.getloadavg()

    if not args.json:
        print(f"load average {load_before[0]:.1f} at start, {load_after[0]:.1f} at end, on {os.cpu_count()} CPUs; "
              f"wall / CPU seconds, median of {args.runs}; speed-up: median of paired runs; cfn-autofix's bytecode "
              + ("compiled first, as pip does at install" if compiled else "as found (--as-is)"))
        print(f"{'command':32} {'cfn-autofix':>14} {'exit':>5} {'cfn-lint':>14} {'speed-up':>14}")
        for row in rows:
            ours = f"{row['seconds']:.2f} / {row['cpu_seconds']:.2f}"
            lint_cell = f"{row['cfn_lint_seconds']:.2f} / {row['cfn_lint_cpu_seconds']:.2f}" if "speedup" in row else ""
            speed = f"{row['speedup']:.1f}x / {row['cpu_speedup']:.1f}x" if "speedup" in row else ""
            print(f"{row['command']:32} {ours:>14} {row['exit']:>5} {lint_cell:>14} {speed:>14}")
    print(json.dumps({"bench": "startup", "median_of": args.runs, "load_average": [load_before[0], load_after[0]],
                      "cpus": os.cpu_count(), "bytecode_compiled": bool(compiled), "rows": rows}))
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

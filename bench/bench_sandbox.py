"""Benchmark: embedded-sandbox start-up (cold and warm, stage by stage) and CreateStack-to-complete of the
40-resource web tier, beside plain moto.

Cold start: a fresh process imports the sandbox (moto), installs the seams, runs or trusts the self-test and
starts the server; measured in fresh subprocesses, wall and CPU seconds (CPU is what a quiet machine would
take). Warm start: another Sandbox in a process that has one (a verify worker). Run:
.venv/bin/python bench/bench_sandbox.py [--runs N] [--startup-only]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

_STARTUP_PROBE = """
import json, time
cpu, wall = time.process_time, time.perf_counter
c0, w0 = cpu(), wall()
from orchestrator.sandbox import Sandbox, patches
c1, w1 = cpu(), wall()
patches.install()
c2, w2 = cpu(), wall()
ran = patches.self_test()
c3, w3 = cpu(), wall()
box = Sandbox().start()
c4, w4 = cpu(), wall()
warm = Sandbox().start()
c5, w5 = cpu(), wall()
warm.stop(); box.stop()
print(json.dumps({"import": [w1 - w0, c1 - c0], "install": [w2 - w1, c2 - c1], "self_test": [w3 - w2, c3 - c2],
                  "start": [w4 - w3, c4 - c3], "warm_start": [w5 - w4, c5 - c4], "self_test_ran": ran}))
"""


def startup(runs: int) -> dict[str, list[list[float]]]:
    """Stage times of a cold start in fresh processes: the first with an empty self-test cache, the rest cached."""
    samples: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        for run in range(runs + 1):
            done = subprocess.run([sys.executable, "-c", _STARTUP_PROBE], env=env, capture_output=True, text=True,
                                  check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            label = "uncached" if row.pop("self_test_ran") else "cached"
            for stage, value in row.items():
                samples.setdefault(f"{label}:{stage}", []).append(value)
    return samples


def print_startup(samples: dict[str, list[list[float]]]) -> None:
    print(f"sandbox start-up, fresh processes (load average {os.getloadavg()[0]:.1f}); wall / CPU seconds, medians")
    for label in ("uncached", "cached"):
        stages = [k.split(":", 1)[1] for k in samples if k.startswith(label + ":")]
        total_wall = total_cpu = 0.0
        for stage in stages:
            wall = statistics.median(v[0] for v in samples[f"{label}:{stage}"])
            cpu = statistics.median(v[1] for v in samples[f"{label}:{stage}"])
            if stage != "warm_start":
                total_wall, total_cpu = total_wall + wall, total_cpu + cpu
            print(f"  {label:<9}{stage:<12}{wall:8.3f} s wall{cpu:8.3f} s CPU")
        print(f"  {label:<9}{'COLD TOTAL':<12}{total_wall:8.3f} s wall{total_cpu:8.3f} s CPU")

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sandbox"
TERMINAL = ("CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")


def _client(endpoint: str, key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def _create_to_complete(cf: Any, name: str, template: str) -> tuple[float, str]:
    """Seconds from CreateStack to a terminal status (polling as a waiter would), and that status."""
    from botocore.exceptions import BotoCoreError, ClientError

    start = time.perf_counter()
    try:
        cf.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"])
    except ClientError as exc:
        return time.perf_counter() - start, f"error: {exc.response['Error'].get('Message', '')[:60]}"
    except BotoCoreError as exc:
        return time.perf_counter() - start, f"error: {str(exc)[:60]}"
    status = ""
    for _ in range(600):
        status = cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if status in TERMINAL:
            break
        time.sleep(0.05)
    return time.perf_counter() - start, status


def _median(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms"


def bench_plain(template: str, runs: int) -> tuple[list[float], list[float], str]:
    from moto.core.base_backend import BackendDict
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    starts, creates, status = [], [], ""
    for run in range(runs):
        t0 = time.perf_counter()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        starts.append(time.perf_counter() - t0)
        try:
            # The default access key maps to moto's default account: no sandbox rules apply there.
            cf = _client(f"http://{host}:{port}", "AKIAIOSFODNN7EXAMPLE", "x")
            seconds, status = _create_to_complete(cf, f"plain{run}", template)
            creates.append(seconds)
        finally:
            server.stop()
            # Plain moto keeps resources across server restarts in one process; start each run empty.
            BackendDict.reset()
    return starts, creates, status


def bench_sandbox(template: str, runs: int) -> tuple[float, list[float], list[float], str]:
    from orchestrator.sandbox import Sandbox

    t0 = time.perf_counter()
    first = Sandbox().start()  # includes patch installation and the self-test
    first_start = time.perf_counter() - t0
    first.stop()
    starts, creates, status = [], [], ""
    for run in range(runs):
        t0 = time.perf_counter()
        box = Sandbox().start()
        starts.append(time.perf_counter() - t0)
        try:
            cf = _client(box.endpoint_url, box.credentials["aws_access_key_id"], box.credentials["aws_secret_access_key"])
            seconds, status = _create_to_complete(cf, f"sandbox{run}", template)
            creates.append(seconds)
        finally:
            box.stop()
    return first_start, starts, creates, status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--template", default="web_tier", help="fixture name under tests/fixtures/sandbox")
    parser.add_argument("--startup-only", action="store_true", help="only the cold/warm start-up table")
    args = parser.parse_args(argv)
    print_startup(startup(args.runs))
    if args.startup_only:
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    template = (FIXTURES / f"{args.template}.json").read_text()
    count = len(json.loads(template)["Resources"])
    # Plain moto first: the sandbox's class-level patches are installed on its first start.
    plain_starts, plain_creates, plain_status = bench_plain(template, args.runs)
    first_start, starts, creates, status = bench_sandbox(template, args.runs)
    row: Callable[[str, str, str], str] = lambda a, b, c: f"{a:<44}{b:>22}{c:>22}"
    print(f"template: {args.template} ({count} resources), {args.runs} runs, medians")
    print(row("", "plain moto 5.2.5", "embedded sandbox"))
    print(row("server start-up", _median(plain_starts), _median(starts)))
    print(row("first start-up (patches + self-test)", "-", f"{first_start * 1000:8.1f} ms"))
    print(row("CreateStack -> terminal status", _median(plain_creates), _median(creates)))
    print(row("terminal status", plain_status[:22], status))


if __name__ == "__main__":
    main()

"""Soak: 16 clients create, read and delete stacks on a served sandbox; prints requests, errors and its RSS over time.

The sandbox runs as `cfn-autofix sandbox` in its own process, so the RSS column is the server's alone.
Each client loops: CreateStack -> DescribeStacks (by name, and all) -> DescribeStackEvents until
CREATE_COMPLETE -> DeleteStack -> DescribeStacks until gone. Any error answer (an HTTP 500, a reset, a
ValidationError that should not happen) is counted and its first few are printed; botocore's retries are
off, so nothing is hidden. Memory should be flat after warm-up: each stack is created and deleted.

    .venv/bin/python bench/bench_soak.py                 # 16 clients, 10 minutes
    .venv/bin/python bench/bench_soak.py --duration 120  # the 2-minute version
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = """{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Topic": {"Type": "AWS::SNS::Topic"},
 "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Queue", "Arn"]}}}}}"""


GONE = object()


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.cycles = 0
        self.samples: list[str] = []

    def call(self, fn: Any, *, gone_ok: bool = False, **kwargs: Any) -> Any:
        """One request; an error answer is counted (gone_ok: "does not exist" is the expected answer)."""
        try:
            answer = fn(**kwargs)
        except Exception as exc:  # ClientError, BotoCoreError, ResponseParserError (an HTML 500): all errors
            gone = isinstance(exc, ClientError) and "does not exist" in str(exc)
            with self.lock:
                self.requests += 1
                if gone and gone_ok:
                    return GONE
                kind = exc.response["Error"].get("Code", "?") if isinstance(exc, ClientError) else type(exc).__name__
                self.errors[kind] += 1
                if len(self.samples) < 5:
                    self.samples.append(f"{fn.__name__}: {str(exc)[:160]}")
            return None
        with self.lock:
            self.requests += 1
        return answer


def start_sandbox() -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "sandbox", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    info: dict[str, str] = {}
    while "AWS_DEFAULT_REGION" not in info:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox exited before printing its endpoint")
        match = re.search(r"export (AWS_[A-Z_]+)=(\S+)", line)
        if match:
            info[match.group(1)] = match.group(2)
    return proc, info


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def client_loop(info: dict[str, str], counters: Counters, stop: threading.Event) -> None:
    cfn = boto3.client("cloudformation", endpoint_url=info["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id=info["AWS_ACCESS_KEY_ID"], aws_secret_access_key=info["AWS_SECRET_ACCESS_KEY"],
                       config=Config(retries={"total_max_attempts": 1}, read_timeout=60))
    while not stop.is_set():
        name = f"soak-{uuid.uuid4().hex[:12]}"
        if counters.call(cfn.create_stack, StackName=name, TemplateBody=TEMPLATE) is None:
            continue
        counters.call(cfn.describe_stacks)
        for _ in range(200):
            answer = counters.call(cfn.describe_stacks, StackName=name)
            counters.call(cfn.describe_stack_events, StackName=name)
            status = answer["Stacks"][0]["StackStatus"] if answer else ""
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(0.02)
        counters.call(cfn.delete_stack, StackName=name)
        for _ in range(200):
            # By name, a deleted stack "does not exist" (as on AWS): that answer ends the wait.
            answer = counters.call(cfn.describe_stacks, gone_ok=True, StackName=name)
            if answer is None or answer is GONE or answer["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE":
                break
            time.sleep(0.02)
        with counters.lock:
            counters.cycles += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients [16]")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to run [600]")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between report lines [10]")
    args = parser.parse_args()

    proc, info = start_sandbox()
    counters, stop = Counters(), threading.Event()
    threads = [threading.Thread(target=client_loop, args=(info, counters, stop), daemon=True)
               for _ in range(args.clients)]
    started = time.monotonic()
    print(f"soak: {args.clients} clients for {args.duration:.0f} s against {info['AWS_ENDPOINT_URL']} "
          f"(sandbox pid {proc.pid}, RSS {rss_mb(proc.pid):.1f} MB before)")
    print(f"{'t (s)':>7} {'requests':>9} {'req/s':>7} {'errors':>7} {'stacks':>7} {'RSS MB':>8}")
    for thread in threads:
        thread.start()
    rss_series: list[float] = []
    last_requests, last_t = 0, started
    try:
        while (now := time.monotonic()) - started < args.duration:
            time.sleep(min(args.every, args.duration - (now - started)))
            now = time.monotonic()
            with counters.lock:
                requests, errors, cycles = counters.requests, sum(counters.errors.values()), counters.cycles
            rss = rss_mb(proc.pid)
            rss_series.append(rss)
            rate = (requests - last_requests) / max(now - last_t, 1e-9)
            last_requests, last_t = requests, now
            print(f"{now - started:7.0f} {requests:9d} {rate:7.0f} {errors:7d} {cycles:7d} {rss:8.1f}", flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    warm = rss_series[len(rss_series) // 4:] or rss_series
    print(f"total: {counters.requests} requests, {sum(counters.errors.values())} errors "
          f"{dict(counters.errors) or ''}, {counters.cycles} stacks created and deleted")
    if warm:
        per_stack = (warm[-1] - warm[0]) * 1024 / max(1, counters.cycles * 3 // 4)
        print(f"RSS after warm-up: {warm[0]:.1f} -> {warm[-1]:.1f} MB (max {max(warm):.1f}); "
              f"~{per_stack:.1f} KB per stack over the run")
    for sample in counters.samples:
        print(f"  error: {sample}")


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main()

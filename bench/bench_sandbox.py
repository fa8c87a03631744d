"""Benchmark: embedded-sandbox start-up and CreateStack-to-complete of the 40-resource web tier, beside plain moto."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.core.base_backend import BackendDict
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sandbox"
TERMINAL = ("CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")


def _client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def _create_to_complete(cf: Any, name: str, template: str) -> tuple[float, str]:
    """Seconds from CreateStack to a terminal status (polling as a waiter would), and that status."""
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
    args = parser.parse_args(argv)
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

"""Benchmark: deployments needed for the seed scenario, and the loop's overhead against a plain boto3 create + waiter.

Prints, for examples/webtier-broken.yaml (40 resources, three defects) on the embedded sandbox:
- deployments and failed deployments with forecast on, with forecast off (keep and recreate);
- wall time of deploy_with_autofix on the already-repaired template versus boto3's create_stack +
  stack_create_complete waiter on the same sandbox and template (median of several runs).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator import deploy_with_autofix  # noqa: E402
from orchestrator.remedy.lint_guard import _lint_text  # noqa: E402
from orchestrator.logs import configure_logging  # noqa: E402
from orchestrator.sandbox import Sandbox  # noqa: E402

EXAMPLE = ROOT / "examples" / "webtier-broken.yaml"
RUNS = 5


def attempts_table() -> None:
    # One discarded run first: imports, moto's patches and cfn-lint's rules load once per process.
    with tempfile.TemporaryDirectory() as tmp:
        deploy_with_autofix(EXAMPLE, out=Path(tmp) / "warm.yaml")
    print("seed scenario: examples/webtier-broken.yaml (40 resources, 3 defects)")
    print(f"{'mode':<28}{'status':<12}{'deployments':>12}{'failed':>8}{'waves':>7}{'seconds':>9}")
    for label, kwargs in [
        ("forecast on", {}),
        ("forecast off, keep", {"forecast": False, "strategy": "keep"}),
        ("forecast off, recreate", {"forecast": False, "strategy": "recreate"}),
    ]:
        _lint_text.cache_clear()  # each mode pays for its own cfn-lint checks
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = deploy_with_autofix(EXAMPLE, out=Path(tmp) / "fixed.yaml", **kwargs)
            seconds = time.perf_counter() - started
        failed = result.report["failed_deployments"]
        waves = sum(1 for a in result.attempts if a["failures"])
        print(f"{label:<28}{result.status:<12}{result.deployments:>12}{failed:>8}{waves:>7}{seconds:>9.2f}")


def overhead() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fixed = Path(tmp) / "webtier.fixed.yaml"
        deploy_with_autofix(EXAMPLE, out=fixed)
        body = json.dumps(__import__("orchestrator.template", fromlist=["x"]).load_template(fixed).document)
        plain: list[float] = []
        tool: list[float] = []
        with Sandbox(region="us-east-1") as box:
            cfn = boto3.client("cloudformation", endpoint_url=box.endpoint_url, **box.credentials)
            for i in range(RUNS):
                started = time.perf_counter()
                cfn.create_stack(StackName=f"plain-{i}", TemplateBody=body,
                                 Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
                cfn.get_waiter("stack_create_complete").wait(StackName=f"plain-{i}",
                                                              WaiterConfig={"Delay": 1, "MaxAttempts": 300})
                plain.append(time.perf_counter() - started)
                cfn.delete_stack(StackName=f"plain-{i}")
            for _ in range(RUNS):
                started = time.perf_counter()
                result = deploy_with_autofix(fixed, target="endpoint", endpoint_url=box.endpoint_url,
                                             credentials=box.credentials, write_template=False)
                tool.append(time.perf_counter() - started)
                assert result.status == "succeeded", result.report["stop_reason"]
    print()
    print(f"create-to-complete of the repaired template on one sandbox, median of {RUNS} runs")
    print(f"{'boto3 create_stack + waiter (1 s delay)':<48}{statistics.median(plain):>8.2f}s")
    print(f"{'deploy_with_autofix (forecast + deploy + delete)':<48}{statistics.median(tool):>8.2f}s")


if __name__ == "__main__":
    configure_logging(json=True, level="error")
    attempts_table()
    overhead()

"""verify's fork-server warm-up: the run's plan loads what its cells need, starts no thread, prints nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from orchestrator.verify import preload

TEMPLATE = textwrap.dedent("""\
    Resources:
      Queue:
        Type: AWS::SQS::Queue
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          KeySchema: [{AttributeName: id, KeyType: HASH}]
          AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
          BillingMode: PAY_PER_REQUEST
    """)

_PROBE = textwrap.dedent("""\
    import gc, json, sys, threading
    import orchestrator.verify.preload as preload
    from orchestrator.remedy import lint_guard
    print(json.dumps({"cpu": preload.WARM_CPU_S, "threads": threading.active_count(),
                      "dynamodb": "moto.dynamodb.models" in sys.modules, "ec2": "moto.ec2.models" in sys.modules,
                      "lints": lint_guard._lint_text.cache_info().currsize, "frozen": gc.get_freeze_count() > 0,
                      "collecting": gc.isenabled()}))
    """)


def _probe(env: dict[str, str], tmp_path: Path) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    *before, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(before) + done.stderr


def test_the_plan_warms_the_templates_types_and_regions(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           preload.PLAN_VARIABLE: preload.plan("embedded", ["us-east-1", "eu-west-1", "us-east-1"], [str(template)])}
    state, output = _probe(env, tmp_path)
    assert state["cpu"] > 0
    assert state["dynamodb"] is True and state["ec2"] is False  # moto packages of the template's types only
    assert state["lints"] == 2  # one warm lint per region
    assert state["threads"] == 1  # workers fork from this process: no thread may be running
    assert state["frozen"] is True  # workers' collections skip (and so never copy) what the warm-up built
    assert state["collecting"] is True  # the collector, off during the warm-up, is on again for the workers
    assert output == ""  # the self-test's and the lint's log lines are not the run's output


def test_without_a_plan_nothing_is_warmed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != preload.PLAN_VARIABLE}
    state, _ = _probe(env, tmp_path)
    assert state == {"cpu": 0.0, "threads": 1, "dynamodb": False, "ec2": False, "lints": 0, "frozen": False,
                     "collecting": True}

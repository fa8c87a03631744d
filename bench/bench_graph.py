"""Benchmark of static work: load + graph of a generated 500-resource template and the largest fixture, beside cfn-lint.

For each file it prints the median of several runs of: our load_template + build_graph; cfn-lint's own
decode + graph (the comparable step); and a full cfn-lint lint of the same file (library call, rules
and all). Run: .venv/bin/python bench/bench_graph.py [--resources 500] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cfnlint.api import lint_file  # noqa: E402
from cfnlint.decode import decode  # noqa: E402
from cfnlint.graph import Graph as CfnLintGraph  # noqa: E402
from cfnlint.template import Template as CfnLintTemplate  # noqa: E402

from orchestrator.template.graph import build_graph  # noqa: E402
from orchestrator.template import load_template  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "templates"


def generate(resources: int) -> str:
    """A YAML template of `resources` resources: repeated app units (key, log group, role, queue, function
    config, alarm) wired with Ref, GetAtt, Sub, DependsOn and conditions."""
    lines = [
        'AWSTemplateFormatVersion: "2010-09-09"',
        "Description: Generated benchmark template.",
        "Parameters:",
        "  Env:",
        "    Type: String",
        "    Default: dev",
        "Conditions:",
        "  IsProd: !Equals [!Ref Env, prod]",
        "Resources:",
    ]
    unit = 0
    count = 0
    while count < resources:
        u = f"U{unit:03d}"
        block = [
            f"  {u}Key:",
            "    Type: AWS::KMS::Key",
            "    Properties:",
            "      KeyPolicy:",
            "        Version: 2012-10-17",
            "        Statement:",
            "          - Effect: Allow",
            "            Principal:",
            '              AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"',
            '            Action: "kms:*"',
            '            Resource: "*"',
            f"  {u}Logs:",
            "    Type: AWS::Logs::LogGroup",
            "    Properties:",
            f"      LogGroupName: !Sub /app/${{Env}}/{u}",
            f"      KmsKeyId: !GetAtt {u}Key.Arn",
            "      RetentionInDays: !If [IsProd, 365, 7]",
            f"  {u}Role:",
            "    Type: AWS::IAM::Role",
            "    Properties:",
            "      AssumeRolePolicyDocument:",
            "        Version: 2012-10-17",
            "        Statement:",
            "          - Effect: Allow",
            "            Principal: {Service: lambda.amazonaws.com}",
            "            Action: sts:AssumeRole",
            "      Policies:",
            "        - PolicyName: logs",
            "          PolicyDocument:",
            "            Version: 2012-10-17",
            "            Statement:",
            "              - Effect: Allow",
            "                Action: [logs:CreateLogStream, logs:PutLogEvents]",
            f"                Resource: !GetAtt [{u}Logs, Arn]",
            f"  {u}Queue:",
            "    Type: AWS::SQS::Queue",
            "    Properties:",
            f"      KmsMasterKeyId: !Ref {u}Key",
            f"  {u}Param:",
            "    Type: AWS::SSM::Parameter",
            f"    DependsOn: {u}Role",
            "    Properties:",
            "      Type: String",
            f'      Value: !Sub "${{{u}Queue.Arn}}|${{{u}Role.Arn}}"',
            f"  {u}Alarm:",
            "    Type: AWS::CloudWatch::Alarm",
            "    Condition: IsProd",
            "    Properties:",
            "      Namespace: AWS/SQS",
            "      MetricName: ApproximateNumberOfMessagesVisible",
            "      Dimensions:",
            "        - Name: QueueName",
            f"          Value: !GetAtt {u}Queue.QueueName",
            "      Statistic: Sum",
            "      Period: 60",
            "      EvaluationPeriods: 1",
            "      Threshold: 100",
            "      ComparisonOperator: GreaterThanThreshold",
        ]
        per_unit = 6
        if count + per_unit > resources:
            # Trim to the exact count: each resource starts with a two-space key line.
            starts = [i for i, line in enumerate(block) if line.startswith("  ") and not line.startswith("   ")]
            block = block[: starts[resources - count]]
            per_unit = resources - count
        lines.extend(block)
        count += per_unit
        unit += 1
    return "\n".join(lines) + "\n"


def median_time(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ours(path: Path) -> int:
    return len(build_graph(load_template(path)).g)


def cfnlint_graph(path: Path) -> int:
    document, matches = decode(str(path))
    if matches:
        raise SystemExit(f"cfn-lint cannot decode {path}: {matches[0]}")
    return len(CfnLintGraph(CfnLintTemplate(str(path), document, ["us-east-1"])).graph)


def cfnlint_lint(path: Path) -> int:
    return len(lint_file(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lint-runs", type=int, default=3, help="runs of the (slow) full cfn-lint lint")
    args = parser.parse_args()

    largest = max(FIXTURES.iterdir(), key=lambda p: p.stat().st_size)
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / f"generated-{args.resources}.yaml"
        generated.write_text(generate(args.resources))
        files = [(f"generated ({args.resources} resources)", generated), (f"fixture {largest.name}", largest)]

        print(f"median of {args.runs} runs (full lint: {args.lint_runs}), seconds")
        header = f"{'template':34} {'resources':>9} {'ours load+graph':>16} {'cfn-lint decode+graph':>22} {'cfn-lint lint':>14}"
        print(header)
        print("-" * len(header))
        for label, path in files:
            resources = len(load_template(path).resources)
            ours(path)  # warm imports and caches for every contender alike
            cfnlint_graph(path)
            t_ours = median_time(lambda: ours(path), args.runs)
            t_cfn_graph = median_time(lambda: cfnlint_graph(path), args.runs)
            t_lint = median_time(lambda: cfnlint_lint(path), args.lint_runs)
            print(f"{label:34} {resources:>9} {t_ours:>16.4f} {t_cfn_graph:>22.4f} {t_lint:>14.4f}")
            if resources >= 500 and t_ours >= 1.0:
                raise SystemExit(f"load+graph of {resources} resources took {t_ours:.3f}s, over the 1 s budget")


if __name__ == "__main__":
    main()

"""Benchmark: cost of each stage against template size (100, 500, 2,000, 5,000 resources) and its fitted exponent.

Templates are generated: units of VPC networking (VPC, subnet, internet gateway, attachment, route table,
route), IAM (role, policy), Lambda, KMS key, CloudWatch Logs group encrypted with the key, S3, SNS and an
alarm, linked with Ref, Fn::GetAtt, Fn::Sub and DependsOn; a few units carry the documented defects (a
route without DependsOn on the gateway attachment, a function created before its role's policy, a log group
whose key policy does not let the logs service use the key) so that the repair stage has work.

Stages, each timed alone (seconds, one process per size so sizes do not share caches):
  load      loads_template of the YAML text (decoding with line numbers)
  graph     build_graph
  forecast  every detector of the playbooks
  repair    one repair round with the cfn-lint guard (forecast_and_fix minus its forecast)
  create    the sandbox's CreateStack to a terminal status (embedded sandbox, TemplateBody)
  events    reading every event of that stack (paginated DescribeStackEvents)
The exponent k of time ~ size^k is fitted (least squares on logs) between 500 and the largest size.
Run: .venv/bin/python bench/bench_scale.py [--sizes 100,500,2000,5000] [--no-sandbox] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

STAGES = ["load", "graph", "forecast", "repair", "create", "events"]


def _unit(i: int, vpc: int, defect: bool) -> dict[str, dict]:
    key_principals = [{"Service": "logs.amazonaws.com"}] if not defect else []
    statements = [{"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                   "Action": "kms:*", "Resource": "*"}]
    statements += [{"Effect": "Allow", "Principal": p, "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*",
                                                                 "kms:ReEncrypt*", "kms:Describe*"], "Resource": "*"}
                   for p in key_principals]
    function = {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": [f"Role{i}", "Arn"]},
        "Code": {"ZipFile": "def handler(event, context):\n    return 1\n"}}}
    if not defect:
        function["DependsOn"] = f"Policy{i}"
    return {
        f"Role{i}": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}}},
        f"Policy{i}": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": {"Fn::Sub": f"p{i}-${{AWS::StackName}}"}, "Roles": [{"Ref": f"Role{i}"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                                                       "Resource": "*"}]}}},
        f"Fn{i}": function,
        f"Key{i}": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}},
        f"Logs{i}": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": f"/app/${{AWS::StackName}}/{i}"}, "KmsKeyId": {"Fn::GetAtt": [f"Key{i}", "Arn"]}}},
        f"Bucket{i}": {"Type": "AWS::S3::Bucket"},
        f"Topic{i}": {"Type": "AWS::SNS::Topic"},
        f"Alarm{i}": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1,
            "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": f"Topic{i}"}],
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": f"Fn{i}"}}]}},
        f"Subnet{i}": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": f"Vpc{vpc}"}, "CidrBlock": f"10.{vpc % 250}.{i % 250}.0/24"}},
    }


def _network(v: int, defect: bool) -> dict[str, dict]:
    route: dict = {"Type": "AWS::EC2::Route", "Properties": {
        "RouteTableId": {"Ref": f"Rt{v}"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": f"Igw{v}"}}}
    if not defect:
        route["DependsOn"] = f"Att{v}"
    return {
        f"Vpc{v}": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": f"10.{v % 250}.0.0/16"}},
        f"Igw{v}": {"Type": "AWS::EC2::InternetGateway"},
        f"Att{v}": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "VpcId": {"Ref": f"Vpc{v}"}, "InternetGatewayId": {"Ref": f"Igw{v}"}}},
        f"Rt{v}": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": f"Vpc{v}"}}},
        f"Route{v}": route,
    }


def generate(size: int, defects: int = 3) -> dict:
    """A template of exactly `size` resources; the first `defects` units and networks carry a defect."""
    resources: dict[str, dict] = {}
    i = v = 0
    while len(resources) < size:
        if i % 10 == 0:
            resources.update(_network(v, defect=v < defects))
            v += 1
        resources.update(_unit(i, v - 1, defect=i < defects))
        i += 1
    names = list(resources)[:size]
    kept = {name: resources[name] for name in names}
    # A cut unit may leave references dangling: drop what references a resource that did not make it.
    from orchestrator.template.refs import targets

    while True:
        dangling = [n for n, body in kept.items() if set(targets(body)) - set(kept) - {"AWS::AccountId", "AWS::StackName"}
                    or (isinstance(body.get("DependsOn"), str) and body["DependsOn"] not in kept)]
        if not dangling:
            break
        for name in dangling:
            del kept[name]
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": kept}


def _yaml(document: dict) -> str:
    from ruamel.yaml import YAML
    import io

    out = io.StringIO()
    YAML().dump(document, out)
    return out.getvalue()


def measure(size: int, sandbox: bool) -> dict:
    """Every stage on one generated template, in this process."""
    import logging
    import warnings

    from orchestrator.forecast.run import forecast, forecast_and_fix
    from orchestrator.template import loads_template
    from orchestrator.template.graph import build_graph

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    # CloudFormation's quotas are 500 resources and 1 MB per template (the decoder and the sandbox enforce them); growth
    # is measured beyond them, so in this benchmark process only the quotas are lifted.
    import functools

    import orchestrator.template
    from orchestrator.template import decode, load

    decode.SECTION_LIMITS["Resources"] = (10**6, "Resource")
    orchestrator.template.loads_template = functools.partial(load.loads_template, max_bytes=10**9)  # the sandbox's
    # Fixed start-up (cfn-lint's rules, the playbooks) is paid on a one-resource template first: the stages
    # below then show what grows with size.
    forecast_and_fix(loads_template(_yaml(generate(12, defects=1)), fmt="yaml"))
    document = generate(size)
    text = _yaml(document)
    row: dict = {"size": len(document["Resources"])}

    def timed(stage: str, fn):
        started, cpu = time.perf_counter(), time.process_time()
        value = fn()
        row[stage] = round(time.perf_counter() - started, 3)
        row[f"{stage}_cpu"] = round(time.process_time() - cpu, 3)
        return value

    template = timed("load", lambda: loads_template(text, fmt="yaml", max_bytes=10**9))
    graph = timed("graph", lambda: build_graph(template))
    findings = timed("forecast", lambda: forecast(template, graph=graph))
    started, cpu = time.perf_counter(), time.process_time()
    result = forecast_and_fix(template)
    row["repair"] = round(max(0.0, time.perf_counter() - started - row["forecast"]), 3)
    row["repair_cpu"] = round(max(0.0, time.process_time() - cpu - row["forecast_cpu"]), 3)
    row["findings"] = len(findings)
    row["repairs"] = len(result.applied)
    if sandbox:
        _sandbox_stages(result.template.dumps(), row)
    return row


def _sandbox_stages(body: str, row: dict) -> None:
    import boto3
    from botocore.config import Config

    from orchestrator.sandbox import Sandbox
    from orchestrator.sandbox.patches import self_test

    self_test()
    with Sandbox() as box:
        cf = boto3.client("cloudformation", endpoint_url=box.endpoint_url, region_name="us-east-1",
                          aws_access_key_id=box.credentials["aws_access_key_id"],
                          aws_secret_access_key=box.credentials["aws_secret_access_key"],
                          config=Config(retries={"max_attempts": 1}, read_timeout=3600))
        started, cpu = time.perf_counter(), time.process_time()
        cf.create_stack(StackName="scale", TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
        status = ""
        while True:
            status = cf.describe_stacks(StackName="scale")["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                break
            time.sleep(0.05)
        row["create"] = round(time.perf_counter() - started, 3)
        row["create_cpu"] = round(time.process_time() - cpu, 3)
        row["status"] = status
        started, cpu = time.perf_counter(), time.process_time()
        events = [e for page in cf.get_paginator("describe_stack_events").paginate(StackName="scale")
                  for e in page["StackEvents"]]
        row["events"] = round(time.perf_counter() - started, 3)
        row["events_cpu"] = round(time.process_time() - cpu, 3)
        row["event_count"] = len(events)


def exponent(rows: list[dict], stage: str, low: int) -> float | None:
    """Least-squares slope of log(time) on log(size) over the sizes >= low."""
    points = [(math.log(r["size"]), math.log(max(r[stage], 1e-4))) for r in rows if r["size"] >= low and stage in r]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,500,2000,5000")
    parser.add_argument("--no-sandbox", action="store_true", help="skip the CreateStack and events stages")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, not args.no_sandbox)))
        return 0
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        load = os.getloadavg()[0]
        done = subprocess.run([sys.executable, __file__, "--one", str(size), *(["--no-sandbox"] if args.no_sandbox else [])],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["load_1m"] = round(load, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    stages = [s for s in STAGES if any(s in r for r in rows)]
    low = 500 if any(r["size"] >= 500 for r in rows) else rows[0]["size"]
    fitted: dict[str, float | None] = {}
    for kind, suffix in (("wall", ""), ("CPU (what a quiet machine takes)", "_cpu")):
        print(f"\nscale benchmark, {kind} seconds per stage ({os.cpu_count()} CPUs)")
        columns = ["size", *[s + suffix for s in stages], "findings", "repairs", "status", "load_1m"]
        print(" | ".join(columns))
        for row in rows:
            print(" | ".join(str(row.get(c, "-")) for c in columns))
        exps = {s + suffix: exponent(rows, s + suffix, low) for s in stages}
        fitted.update(exps)
        print(f"exponent {low}..{rows[-1]['size']}: " + ", ".join(
            f"{s} {k:.2f}" if k is not None else f"{s} -" for s, k in exps.items()))
    if args.json_out:
        args.json_out.write_text(json.dumps({"rows": rows, "exponents": fitted}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

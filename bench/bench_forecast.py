"""Benchmark: load + graph + forecast of a generated 500-resource template and the largest fixture, beside cfn-lint."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "forecast"


def generated_template(resources: int = 500) -> dict:
    """A realistic mix: VPCs with gateways and public subnets, routes, instances, keys, log groups, roles."""
    res: dict[str, dict] = {}
    block = 0
    while len(res) < resources:
        b = block
        res[f"Vpc{b}"] = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": f"10.{b % 250}.0.0/16"}}
        res[f"Igw{b}"] = {"Type": "AWS::EC2::InternetGateway"}
        res[f"Attach{b}"] = {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": {"Ref": f"Vpc{b}"}, "InternetGatewayId": {"Ref": f"Igw{b}"}},
        }
        res[f"Subnet{b}"] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {"VpcId": {"Ref": f"Vpc{b}"}, "CidrBlock": f"10.{b % 250}.1.0/24", "MapPublicIpOnLaunch": True},
        }
        res[f"Table{b}"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": f"Vpc{b}"}}}
        res[f"Route{b}"] = {
            "Type": "AWS::EC2::Route",
            "DependsOn": f"Attach{b}",
            "Properties": {"RouteTableId": {"Ref": f"Table{b}"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": f"Igw{b}"}},
        }
        res[f"Host{b}"] = {
            "Type": "AWS::EC2::Instance",
            # Every fifth block leaves the DependsOn out so the forecast has real work to report.
            **({} if b % 5 == 0 else {"DependsOn": f"Attach{b}"}),
            "Properties": {"ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro", "SubnetId": {"Ref": f"Subnet{b}"}},
        }
        res[f"Key{b}"] = {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                         "Action": "kms:*", "Resource": "*"},
                        {"Effect": "Allow", "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
                         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                         "Resource": "*",
                         "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {
                             "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}}},
                    ],
                }
            },
        }
        res[f"Logs{b}"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": f"/bench/{b}", "KmsKeyId": {"Fn::GetAtt": [f"Key{b}", "Arn"]}},
        }
        res[f"Role{b}"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                "ManagedPolicyArns": [
                    "arn:aws:iam::aws:policy/AWSCodeDeployRole" if b % 7 == 0
                    else {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"}
                ],
            },
        }
        block += 1
    names = list(res)[:resources]
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {n: res[n] for n in names if _complete(n, names, res)}}


def _complete(name: str, names: list[str], res: dict) -> bool:
    # Cut at a block boundary without dangling references.
    text = json.dumps(res[name])
    return all(f'"{ref}"' not in text or ref in names for ref in res if ref != name)


def median_seconds(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_file(path: Path, runs: int, lint_runs: int) -> dict:
    from cfnlint.api import lint

    from orchestrator.forecast.run import forecast
    from orchestrator.template.graph import build_graph
    from orchestrator.catalog.playbooks import load_playbooks
    from orchestrator.template import load_template

    books = load_playbooks()
    holder: dict = {}

    def ours() -> None:
        tpl = load_template(path)
        holder["findings"] = forecast(tpl, playbooks=books, graph=build_graph(tpl))

    ours()  # warm caches (managed-policy catalog, detectors' data) the way a long-lived process has them
    text = path.read_text()
    lint(text, regions=["us-east-1"])
    ours_s = median_seconds(ours, runs)
    lint_s = median_seconds(lambda: holder.__setitem__("lint", lint(text, regions=["us-east-1"])), lint_runs)
    tpl = load_template(path)
    return {
        "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name,
        "resources": len(tpl.resources),
        "forecast_s": round(ours_s, 4),
        "findings": len(holder["findings"]),
        "cfn_lint_s": round(lint_s, 4),
        "cfn_lint_matches": len(holder["lint"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement for the forecast (median)")
    parser.add_argument("--lint-runs", type=int, default=3, help="runs per measurement for cfn-lint (median)")
    parser.add_argument("--resources", type=int, default=500)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / f"generated-{args.resources}.json"
        generated.write_text(json.dumps(generated_template(args.resources), indent=2))
        largest = max(FIXTURES.glob("*.*"), key=lambda p: p.stat().st_size)
        rows = [bench_file(generated, args.runs, args.lint_runs), bench_file(largest, args.runs, args.lint_runs)]

    print(f"{'template':45} {'resources':>9} {'forecast (load+graph+detect)':>29} {'cfn-lint':>10} {'findings':>9} {'lint matches':>13}")
    for row in rows:
        print(
            f"{row['file']:45} {row['resources']:>9} {row['forecast_s'] * 1000:>26.1f} ms "
            f"{row['cfn_lint_s'] * 1000:>7.0f} ms {row['findings']:>9} {row['cfn_lint_matches']:>13}"
        )
    print(json.dumps({"bench": "forecast", "median_of": args.runs, "rows": rows}))
    over = [row for row in rows if row["forecast_s"] >= 1.0]
    if over:
        print(f"forecast took a second or more on: {', '.join(r['file'] for r in over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`cfn-autofix deploy`: deploy a template with autofix and print the run's summary."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import (
    EmulatorOption,
    FaultsOption,
    TargetKind,
    app,
    config_with_emulator,
    faults_override,
    parse_parameters,
    quiet_console_logs,
    sigterm_as_interrupt,
)
from orchestrator.config import check_region
from orchestrator.errors import BadInput
from orchestrator.paths import check_outputs


class Strategy(str, enum.Enum):
    keep = "keep"
    recreate = "recreate"


class ManagedPolicyStrategy(str, enum.Enum):
    inline = "inline"
    fix_arn = "fix-arn"


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    template: Annotated[Path, typer.Argument(help="CloudFormation template, JSON or YAML.", show_default=False)],
    region: Annotated[str | None, typer.Option("--region", "-r", help="Region to deploy to [config: deploy.region].")] = None,
    target: Annotated[TargetKind | None, typer.Option("--target", help="embedded sandbox (default), aws, or endpoint.")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).")] = None,
    emulator: EmulatorOption = False,
    faults: FaultsOption = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).")] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).")] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, help="Deployment budget [default 5].")] = None,
    strategy: Annotated[Strategy | None, typer.Option("--strategy", help="keep: update in place after a repair; recreate: delete and create.")] = None,
    forecast: Annotated[bool | None, typer.Option("--forecast/--no-forecast", help="Forecast and repair before deploying [config: deploy.forecast].", show_default=False)] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE", help="Stack parameter; repeat for several.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params-file", help="JSON parameters file.")] = None,
    keep_stack: Annotated[bool | None, typer.Option("--keep-stack/--no-keep-stack", help="Leave the stack in place after the run [config: deploy.keep_stack].", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write the repaired template [NAME.fixed.EXT beside the input].")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the JSON report here.")] = None,
    stack_name: Annotated[str | None, typer.Option("--stack-name", help="Stack name [prefix + template name + run id].")] = None,
    managed_policy_strategy: Annotated[ManagedPolicyStrategy | None, typer.Option("--managed-policy-strategy", help="inline: exact managed-policy document inline; fix-arn: rewrite the ARN.")] = None,
    allow_widening: Annotated[bool | None, typer.Option("--allow-widening/--no-allow-widening", help="Accept repairs that grant more than they replace [config: deploy.allow_widening].", show_default=False)] = None,
) -> None:
    """Deploy TEMPLATE with autofix: forecast, deploy, diagnose failures, repair, deploy again until green."""
    from rich.console import Console

    from orchestrator.deploy.report import render_summary
    from orchestrator.deploy.loop import deploy_with_autofix
    from orchestrator.options import RunOptions

    if region is not None:
        check_region(region)
    settings = config_with_emulator(ctx, emulator, endpoint_url,
                                    faults_override(faults, target.value if target else None))
    quiet_console_logs(ctx)
    check_outputs([template, params_file], {"--out": out, "--report-json": report_json})
    parameters = parse_parameters(param, params_file)
    options = RunOptions.build(
        settings,
        region=region,
        target=target.value if target else None,
        endpoint_url=endpoint_url,
        profile=profile,
        role_arn=role_arn,
        max_attempts=max_attempts,
        strategy=strategy.value if strategy else None,
        forecast=forecast,
        parameters=parameters,
        keep_stack=keep_stack,
        out=out,
        report_json=report_json,
        stack_name=stack_name,
        progress=sys.stderr.isatty(),
        allow_widening=allow_widening,
        managed_policy_strategy=managed_policy_strategy.value if managed_policy_strategy else None,
    )
    with sigterm_as_interrupt():
        result = deploy_with_autofix(template, options=options)
    render_summary(result.report, Console(highlight=False))
    raise typer.Exit(result.exit_code)

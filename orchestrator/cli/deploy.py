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
    config_default,
    config_with_emulator,
    faults_override,
    make_console,
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
    region: Annotated[str | None, typer.Option("--region", "-r", help="Region to deploy to.", show_default=config_default("deploy.region"))] = None,
    target: Annotated[TargetKind | None, typer.Option("--target", help="embedded sandbox, aws, or endpoint.", show_default=config_default("deploy.target"))] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).", show_default=config_default("deploy.endpoint_url"))] = None,
    emulator: EmulatorOption = False,
    faults: FaultsOption = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).", show_default=config_default("aws.profile"))] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).", show_default=config_default("aws.role_arn"))] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, help="Deployment budget.", show_default=config_default("deploy.max_attempts"))] = None,
    strategy: Annotated[Strategy | None, typer.Option("--strategy", help="keep: update in place after a repair; recreate: delete and create.", show_default=config_default("deploy.strategy"))] = None,
    forecast: Annotated[bool | None, typer.Option("--forecast/--no-forecast", help="Forecast and repair before deploying.", show_default=config_default("deploy.forecast"))] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE", help="Stack parameter; repeat for several.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params-file", help="JSON parameters file.")] = None,
    keep_stack: Annotated[bool | None, typer.Option("--keep-stack/--no-keep-stack", help="Leave the stack in place after the run.", show_default=config_default("deploy.keep_stack"))] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write the repaired template.", show_default="NAME.fixed.EXT beside the input")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the JSON report here.")] = None,
    stack_name: Annotated[str | None, typer.Option("--stack-name", help="Stack name.", show_default="config deploy.stack_prefix + template name + run id")] = None,
    managed_policy_strategy: Annotated[ManagedPolicyStrategy | None, typer.Option("--managed-policy-strategy", help="inline: exact managed-policy document inline; fix-arn: rewrite the ARN.", show_default=config_default("deploy.managed_policy_strategy"))] = None,
    with_: Annotated[list[str] | None, typer.Option("--with", metavar="[STACK=]FILE", help="Deploy this template first (its exports can be imported); the stack is named STACK or after the file. Repeatable.")] = None,
    allow_widening: Annotated[bool | None, typer.Option("--allow-widening/--no-allow-widening", help="Accept repairs that grant more than they replace.", show_default=config_default("deploy.allow_widening"))] = None,
) -> None:
    """Deploy TEMPLATE with autofix: forecast, deploy, diagnose failures, repair, deploy again until green."""
    import contextlib

    live = sys.stderr.isatty()
    console = make_console(ctx, stderr=True)
    # The spinner from the first second: the loop's own view takes over once its modules are loaded.
    with console.status("starting") if live else contextlib.nullcontext():
        from orchestrator.deploy.loop import deploy_with_autofix
        from orchestrator.deploy.report import render_summary
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
        # The spinner and live tables on a terminal's stderr; in a pipe, the logs and the summary only.
        progress=live,
        console=console,
        allow_widening=allow_widening,
        with_templates=tuple(with_ or ()),
        managed_policy_strategy=managed_policy_strategy.value if managed_policy_strategy else None,
    )
    with sigterm_as_interrupt():
        result = deploy_with_autofix(template, options=options)
    render_summary(result.report, make_console(ctx), forecast_shown=options.progress)
    raise typer.Exit(result.exit_code)

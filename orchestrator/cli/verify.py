"""`cfn-autofix verify`: run the templates x regions matrix, each cell in its own sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import TargetKind, app, config_default, quiet_console_logs, sigterm_as_interrupt, split_regions, state


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    templates: Annotated[list[str] | None, typer.Argument(help="Templates to verify (replace the matrix's list).", show_default=False)] = None,
    matrix: Annotated[Path | None, typer.Option("--matrix", help="Verification matrix (TOML): templates, regions, parameter sets, overrides.")] = None,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions (replace the matrix's).", show_default="the matrix's, else us-east-1")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Cells run in parallel.", show_default=config_default("verify.workers"))] = None,
    shard: Annotated[str | None, typer.Option("--shard", metavar="K/N", help="Run only shard K of N (stable per cell).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    report_md: Annotated[Path | None, typer.Option("--report-md", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the JSON results here (input of `report merge`).")] = None,
    fail_on_repair: Annotated[bool, typer.Option("--fail-on-repair", help="Exit 1 also when a cell needed a template repair.")] = False,
    target: Annotated[TargetKind | None, typer.Option("--target", help="embedded sandbox per cell, aws, or endpoint.", show_default=config_default("deploy.target"))] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).", show_default=config_default("deploy.endpoint_url"))] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).", show_default=config_default("aws.profile"))] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).", show_default=config_default("aws.role_arn"))] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, help="Deployment budget per cell (over the matrix's).", show_default="the matrix's, else config deploy.max_attempts")] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for each cell's repaired template.")] = Path("out/verify"),
) -> None:
    """Verify templates x regions x parameter sets, each cell in its own sandbox; write JUnit, Markdown and JSON."""
    from orchestrator.verify.run import run_verify_command

    quiet_console_logs(ctx)

    settings = state(ctx).config()
    sigterm_as_interrupt()
    code = run_verify_command(
        templates,
        matrix_path=matrix,
        regions=split_regions(regions),
        workers=workers if workers is not None else settings.verify.workers,
        shard=shard,
        junit=junit,
        report_md=report_md,
        report_json=report_json,
        fail_on_repair=fail_on_repair,
        target=(target.value if target else settings.deploy.target),
        endpoint_url=endpoint_url or settings.deploy.endpoint_url or None,
        out_dir=out_dir,
        max_attempts=max_attempts,
        profile=profile,
        role_arn=role_arn,
        config=settings,
    )
    raise typer.Exit(code)

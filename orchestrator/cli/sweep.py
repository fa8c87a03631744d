"""`cfn-autofix sweep`: delete stacks this tool left behind (dry run by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import TargetKind, app, config_default, split_regions, state


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    target: Annotated[TargetKind | None, typer.Option("--target", help="endpoint or aws (an embedded sandbox dies with its run, so there is nothing to sweep).", show_default=config_default("deploy.target"))] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).", show_default=config_default("deploy.endpoint_url"))] = None,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions to sweep.", show_default=config_default("deploy.region"))] = None,
    older_than: Annotated[str, typer.Option("--older-than", help="Only stacks created longer ago than this (30m, 6h, 2d).")] = "6h",
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only print what would be deleted.")] = False,
    journal: Annotated[Path | None, typer.Option("--journal", help="Journal of created stacks.", show_default=config_default("run.journal"))] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).", show_default=config_default("aws.profile"))] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).", show_default=config_default("aws.role_arn"))] = None,
) -> None:
    """Delete stacks this tool left behind (its tag, older than --older-than, or pending in the journal); dry run by default."""
    from orchestrator.aws.sweep import run_sweep_command

    settings = state(ctx).config()
    code = run_sweep_command(
        target=target.value if target else settings.deploy.target,
        regions=split_regions(regions) or [settings.deploy.region],
        endpoint_url=endpoint_url or settings.deploy.endpoint_url or None,
        older_than=older_than,
        yes=yes,
        journal_path=str(journal) if journal is not None else settings.run.journal,
        profile=profile or settings.aws.profile or None,
        role_arn=role_arn or settings.aws.role_arn or None,
        allowed_accounts=settings.aws.allowed_accounts,
    )
    raise typer.Exit(code)

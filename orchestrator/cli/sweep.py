"""`cfn-autofix sweep`: delete stacks this tool left behind (dry run by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.aws.journal import Journal
from orchestrator.aws.sweep import SweepItem, exit_code, parse_age, sweep
from orchestrator.cli.common import EmulatorOption, TargetKind, app, config_with_emulator, split_regions


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    target: Annotated[TargetKind | None, typer.Option("--target", help="endpoint or aws (an embedded sandbox dies with its run).")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).")] = None,
    emulator: EmulatorOption = False,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions to sweep [config: deploy.region].")] = None,
    older_than: Annotated[str, typer.Option("--older-than", help="Only stacks created longer ago than this (30m, 6h, 2d).")] = "6h",
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only print what would be deleted.")] = False,
    journal: Annotated[Path | None, typer.Option("--journal", help="Journal of created stacks [config: run.journal].")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).")] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).")] = None,
) -> None:
    """Delete stacks this tool left behind: tagged ones older than --older-than, and those of journal entries still
    pending once the entry is older than --older-than (younger pending entries are listed as skipped: their run may
    still be going on). Entries of embedded runs are closed. Dry run by default."""
    settings = config_with_emulator(ctx, emulator, endpoint_url)
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
        emulator_endpoints=settings.aws.emulator_endpoints,
    )
    raise typer.Exit(code)


def render_items(items: list[SweepItem], *, yes: bool, stream: Any = None) -> None:
    """The sweep's table: what it deleted (with --yes) or would delete (dry run)."""
    import sys

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from orchestrator.termsafe import term_safe

    console = Console(file=stream or sys.stdout, width=160 if not (stream or sys.stdout).isatty() else None)
    if not items:
        console.print("sweep: nothing to sweep")
        return
    table = Table(title="sweep" if yes else "sweep (dry run: nothing deleted; pass --yes to delete)", title_justify="left")
    for column in ("region", "stack", "run id", "created", "status", "found by", "action", "detail"):
        table.add_column(column)
    for item in items:
        cells = (
            item.region,
            item.stack_name,
            item.run_id or "",
            item.created.strftime("%Y-%m-%d %H:%M") if item.created else "",
            item.status,
            "+".join(item.sources),
            item.action,
            item.detail + (f" (emptied {', '.join(item.buckets_emptied)})" if item.buckets_emptied else ""),
        )
        # Names and details come from the account: shown as plain, inert text.
        table.add_row(*(Text(term_safe(cell, keep_newlines=False)) for cell in cells))
    console.print(table)


def run_sweep_command(*, older_than: str, journal_path: str | None, stream: Any = None, **fields: Any) -> int:
    """`cfn-autofix sweep`: parse, sweep every region, print the table; returns the exit code.

    The other keywords (target, regions, endpoint_url, yes, profile, role_arn, allowed_accounts) go to sweep()."""
    import os

    age = parse_age(older_than)
    credentials = None
    if fields.get("target") == "endpoint" and os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        # Like the AWS CLI: keys in the environment choose the account on the endpoint (else dummy keys).
        credentials = {
            "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": os.environ.get("AWS_SESSION_TOKEN", ""),
        }
    items = sweep(
        older_than=age,
        journal=Journal(journal_path) if journal_path is not None else Journal(),
        credentials=credentials,
        **fields,
    )
    render_items(items, yes=bool(fields.get("yes")), stream=stream)
    return exit_code(items)

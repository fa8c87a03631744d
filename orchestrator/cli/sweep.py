"""`cfn-autofix sweep`: delete stacks this tool left behind (dry run by default)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.common import (EmulatorOption, TargetKind, app, config_default, config_with_emulator, make_console,
                                     split_regions)

if TYPE_CHECKING:  # the sweep machinery is imported when the command runs, not with --help
    from orchestrator.aws.sweep import SweepItem


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    target: Annotated[TargetKind | None, typer.Option("--target", help="endpoint or aws (an embedded sandbox dies with its run, so there is nothing to sweep).", show_default=config_default("deploy.target"))] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).", show_default=config_default("deploy.endpoint_url"))] = None,
    emulator: EmulatorOption = False,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions to sweep.", show_default=config_default("deploy.region"))] = None,
    older_than: Annotated[str, typer.Option("--older-than", help="Only stacks created longer ago than this (30m, 6h, 2d).")] = "6h",
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only print what would be deleted.")] = False,
    journal: Annotated[Path | None, typer.Option("--journal", help="Journal of created stacks.", show_default=config_default("run.journal"))] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).", show_default=config_default("aws.profile"))] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).", show_default=config_default("aws.role_arn"))] = None,
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
        console=make_console(ctx),
    )
    raise typer.Exit(code)


def render_items(items: list[SweepItem], *, yes: bool, console: Any = None) -> None:
    """What the sweep deleted (with --yes) or would delete (dry run): per stack, its action and name, then its
    region, status, age, run and source, then the detail, each wrapped at a terminal's width (never cut).

    A table of eight columns cannot show a stack name and an ARN at 60 or 80 columns without cutting them;
    this layout can. In a pipe (make_console) nothing is hard-wrapped: each of those is one line.
    """
    from rich.padding import Padding
    from rich.text import Text

    from orchestrator.termsafe import term_safe

    console = console if console is not None else make_console()
    if not items:
        console.print("sweep: nothing to sweep", highlight=False)
        return
    console.print("sweep" if yes else "sweep (dry run: nothing deleted; pass --yes to delete)", highlight=False)

    def safe(text: str) -> str:
        # Names and details come from the account: shown as plain, inert text.
        return term_safe(text, keep_newlines=False)

    for item in items:
        facts = [item.region, item.status]
        if item.created:
            facts.append(f"created {item.created.strftime('%Y-%m-%d %H:%M')}")
        if item.run_id:
            facts.append(f"run {item.run_id}")
        facts.append(f"found by {'+'.join(item.sources)}")
        detail = item.detail + (f" (emptied {', '.join(item.buckets_emptied)})" if item.buckets_emptied else "")
        head = Text.assemble((f"{item.action:<12}", _ACTION_STYLE.get(item.action, "")), " ", (safe(item.stack_name), "bold"),
                             overflow="fold")
        console.print(head)
        # Under the row, indented even where they wrap; a long ARN is folded, never cut.
        for text in (Text(safe(", ".join(facts)), style="dim", overflow="fold"), Text(safe(detail), overflow="fold")):
            if text:
                console.print(Padding(text, (0, 0, 0, 2), expand=False))


_ACTION_STYLE = {"deleted": "green", "would delete": "yellow", "failed": "red", "refused": "red"}


def run_sweep_command(*, older_than: str, journal_path: str | None, console: Any = None, **fields: Any) -> int:
    """`cfn-autofix sweep`: parse, sweep every region, print the table; returns the exit code.

    The other keywords (target, regions, endpoint_url, yes, profile, role_arn, allowed_accounts) go to sweep()."""
    import os

    from orchestrator.aws.journal import Journal
    from orchestrator.aws.sweep import exit_code, parse_age, sweep

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
    render_items(items, yes=bool(fields.get("yes")), console=console)
    return exit_code(items)

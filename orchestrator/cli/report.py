"""`cfn-autofix report merge`: merge verify shard results into the reports of one whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import app, state


report_app = typer.Typer(name="report", help="Work with verify results.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(report_app, name="report")


@report_app.command("merge")
def report_merge_command(
    ctx: typer.Context,
    shards: Annotated[list[Path], typer.Argument(help="Shard results written by `verify --report-json`.", show_default=False)],
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    report_md: Annotated[Path | None, typer.Option("--report-md", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the merged JSON results here.")] = None,
    fail_on_repair: Annotated[bool, typer.Option("--fail-on-repair", help="Exit 1 also when a cell needed a template repair.")] = False,
) -> None:
    """Merge shard results into the reports a single run over the whole matrix writes."""
    from orchestrator.verify.run import run_merge_command

    settings = state(ctx).config()
    code = run_merge_command(
        shards,
        junit=junit,
        report_md=report_md,
        report_json=report_json,
        fail_on_repair=fail_on_repair,
        playbook_dirs=settings.playbooks.extra_dirs,
    )
    raise typer.Exit(code)

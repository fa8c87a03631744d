"""`cfn-autofix report merge`: merge verify shard results into the reports of one whole run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.common import app, state
from orchestrator.errors import BadInput
from orchestrator.verify import reports
from orchestrator.verify.outputs import summary_line, write_outputs


report_app = typer.Typer(name="report", help="Work with verify results.", no_args_is_help=True)
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


def run_merge_command(
    files: list[Path],
    *,
    junit: Path | None,
    report_md: Path | None,
    report_json: Path | None,
    fail_on_repair: bool = False,
    playbook_dirs: tuple[str, ...] | list[str] = (),
    stream: Any = None,
) -> int:
    """`cfn-autofix report merge`: shard JSON results -> the outputs of a single run; returns the exit code."""
    from orchestrator.inputs import DATA_LIMIT, read_text_input
    from orchestrator.paths import check_outputs

    check_outputs(files, {"--report-json": report_json, "--junit": junit, "--report-md": report_md})
    runs = []
    for path in files:
        text = read_text_input(path, max_bytes=DATA_LIMIT, what="shard result")
        runs.append((str(path), reports.load_run(str(path), text)))
    run = reports.merge_runs(runs)
    write_outputs(run, junit=junit, report_md=report_md, report_json=report_json, playbook_dirs=playbook_dirs)
    print(summary_line(run), file=stream or sys.stdout)
    return reports.exit_code(run, fail_on_repair=fail_on_repair)

"""`cfn-autofix verify`: run the templates x regions matrix, each cell in its own sandbox."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator import redact
from orchestrator.cli.common import (
    EmulatorOption,
    FaultsOption,
    TargetKind,
    app,
    config_default,
    config_with_emulator,
    faults_override,
    quiet_console_logs,
    sigterm_as_interrupt,
    split_regions,
)
from orchestrator.errors import BadInput, Interrupted
from orchestrator.paths import check_outputs


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    templates: Annotated[list[str] | None, typer.Argument(help="Templates to verify (replace the matrix's list).", show_default=False)] = None,
    matrix: Annotated[Path | None, typer.Option("--matrix", help="Verification matrix (TOML): templates, regions, parameter sets, overrides.")] = None,
    from_taskcat: Annotated[Path | None, typer.Option("--from-taskcat", help="Run the tests of a .taskcat.yml (template, regions, parameters; $[taskcat_*] values work).")] = None,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions (replace the matrix's).", show_default="the matrix's, else us-east-1")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Cells run in parallel.", show_default=config_default("verify.workers"))] = None,
    processes: Annotated[bool | None, typer.Option("--processes/--threads", help="Run cells in worker processes (every core) or threads of this process.", show_default=config_default("verify.processes"))] = None,
    shard: Annotated[str | None, typer.Option("--shard", metavar="K/N", help="Run only shard K of N (stable per cell).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    report_md: Annotated[Path | None, typer.Option("--report-md", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the JSON results here (input of `report merge`).")] = None,
    fail_on_repair: Annotated[bool, typer.Option("--fail-on-repair", help="Exit 1 also when a cell needed a template repair.")] = False,
    target: Annotated[TargetKind | None, typer.Option("--target", help="embedded sandbox per cell, aws, or endpoint.", show_default=config_default("deploy.target"))] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).", show_default=config_default("deploy.endpoint_url"))] = None,
    emulator: EmulatorOption = False,
    faults: FaultsOption = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).", show_default=config_default("aws.profile"))] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).", show_default=config_default("aws.role_arn"))] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, help="Deployment budget per cell (over the matrix's).", show_default="the matrix's, else config deploy.max_attempts")] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for each cell's repaired template.")] = Path("out/verify"),
) -> None:
    """Verify templates x regions x parameter sets, each cell in its own sandbox; write JUnit, Markdown and JSON."""
    quiet_console_logs(ctx)

    settings = config_with_emulator(ctx, emulator, endpoint_url,
                                    faults_override(faults, target.value if target else None))
    chosen_regions = split_regions(regions)
    with sigterm_as_interrupt():
        code = run_verify_command(
            templates,
            matrix_path=matrix,
            taskcat_path=from_taskcat,
            regions=chosen_regions,
            workers=workers if workers is not None else settings.verify.workers,
            processes=processes if processes is not None else settings.verify.processes,
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


@dataclass(frozen=True)
class VerifyRequest:
    """What `cfn-autofix verify` was asked, once the global configuration is applied."""

    out_dir: Path
    matrix_path: Path | None = None
    taskcat_path: Path | None = None
    regions: list[str] | None = None
    workers: int = 4
    processes: bool = False
    shard: str | None = None
    junit: Path | None = None
    report_md: Path | None = None
    report_json: Path | None = None
    fail_on_repair: bool = False
    target: str = "embedded"
    endpoint_url: str | None = None
    max_attempts: int | None = None
    profile: str | None = None
    role_arn: str | None = None
    config: Any = None
    deploy: Any = None
    stream: Any = None


def run_verify_command(templates: list[str] | None, **fields: Any) -> int:
    """`cfn-autofix verify`: plan, run every cell, write the reports; returns the exit code.

    The keywords are VerifyRequest's fields. `config` (orchestrator.config.Config) reaches every cell's
    deploy_with_autofix and names the extra playbook folders the Markdown report explains failures with.
    """
    # Imported here, not at the top: `cfn-autofix --help` and the light commands import this module too. Only
    # what planning needs comes first: the workers' warm-up starts from the plan, and the rest loads beside it.
    from orchestrator.verify.matrix import parse_shard
    from orchestrator.verify.plan import plan
    from orchestrator.verify.preload import start_forkserver

    request = VerifyRequest(**fields)
    target, endpoint_url, workers, config = request.target, request.endpoint_url, request.workers, request.config

    if target not in ("embedded", "endpoint", "aws"):
        raise BadInput(f"--target {target!r}: expected embedded, endpoint or aws")
    if target == "endpoint" and not endpoint_url:
        raise BadInput("--target endpoint needs --endpoint-url URL")
    if workers < 1:
        raise BadInput(f"--workers must be at least 1 (got {workers})")
    vplan = plan(
        templates or None,
        matrix_path=request.matrix_path,
        taskcat_path=request.taskcat_path,
        regions=request.regions,
        shard=parse_shard(request.shard) if request.shard else None,
        max_attempts=request.max_attempts,
        # Worker processes: their fork server warms up (imports, rules, schemas) while this process plans.
        on_cells=(lambda cells: start_forkserver(cells, target)) if request.processes else None,
    )
    import structlog

    from orchestrator.verify import reports
    from orchestrator.verify.outputs import summary_line, write_outputs
    from orchestrator.verify.progress import Progress
    from orchestrator.verify.run import CellSettings, verify
    from orchestrator.verify.workers import PoolSettings

    log = structlog.get_logger(__name__)
    check_outputs([request.matrix_path, *{cell.template for cell in vplan.all_cells}],
                  {"--report-json": request.report_json, "--junit": request.junit, "--report-md": request.report_md})
    _verify_guard(target, endpoint_url, vplan, request.profile, request.role_arn, config)
    deploy = request.deploy
    if deploy is None:
        from orchestrator.deploy.loop import deploy_with_autofix as deploy
    options = {k: v for k, v in {"profile": request.profile, "role_arn": request.role_arn, "config": config}.items() if v}
    playbook_dirs = tuple(config.playbooks.extra_dirs) if config is not None else ()
    log.info(
        "verify_started",
        cells=len(vplan.cells),
        matrix_cells=len(vplan.all_cells),
        shard=request.shard,
        workers=workers,
        target=target,
    )
    cancel_event = threading.Event()
    pool = None
    if request.processes:
        verify_config = config.verify if config is not None else None
        pool = PoolSettings(memory_mb=verify_config.worker_memory_mb, cells_per_worker=verify_config.cells_per_worker) \
            if verify_config is not None else PoolSettings()
    settings = CellSettings(deploy=deploy, out_dir=request.out_dir, target=target, endpoint_url=endpoint_url,
                            deploy_options=options, cancel_event=cancel_event, pool=pool)
    # One redactor for the run: each cell adds its NoEcho values, and every report is written through it.
    with redact.active_or_new().active():
        with Progress(len(vplan.cells), stream=request.stream) as progress:
            run = verify(vplan, workers=workers, progress=progress, settings=settings)
        write_outputs(run, junit=request.junit, report_md=request.report_md, report_json=request.report_json,
                      playbook_dirs=playbook_dirs)
    print(summary_line(run), file=request.stream or sys.stdout)
    if cancel_event.is_set():
        raise Interrupted("verify stopped; the reports cover the cells that ran")
    return reports.exit_code(run, fail_on_repair=request.fail_on_repair)


def _verify_guard(target: str, endpoint_url: str | None, vplan: Any, profile: str | None, role_arn: str | None,
                  config: Any) -> None:
    """The account guard once, before any cell: a refusal ends verify with exit 3, not as N failed cells."""
    from orchestrator.aws.guard import Guard

    guard = Guard.from_config(config, "verify")
    if not guard.applies(target, endpoint_url):
        return
    guard.refuse_without_network(target, endpoint_url)
    from orchestrator.aws.targets import open_target

    aws = getattr(config, "aws", None)
    region = vplan.cells[0].region if vplan.cells else "us-east-1"
    with open_target(target, region, endpoint_url=endpoint_url, profile=profile or getattr(aws, "profile", "") or None,
                     role_arn=role_arn or getattr(aws, "role_arn", "") or None, guard=guard):
        pass

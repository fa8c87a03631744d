"""Nightly sandbox verification: run every matrix cell through deploy-with-autofix in parallel and report."""

from __future__ import annotations

import contextlib
import contextvars
import re
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import structlog
import structlog.contextvars

from orchestrator import redact
from orchestrator.verify import reports
from orchestrator.errors import AutofixError, BadInput
from orchestrator.verify.progress import Progress
from orchestrator.verify.matrix import Cell
from orchestrator.verify.plan import VerifyPlan, plan  # noqa: F401 - plan: where callers of run found it
from orchestrator.verify.workers import PoolSettings, run_in_processes

log = structlog.get_logger(__name__)

DeployFn = Callable[..., Any]


@dataclass(frozen=True)
class CellSettings:
    """How every cell of a run is deployed: the deploy function, the target, where repaired templates go."""

    deploy: DeployFn
    out_dir: Path
    target: str = "embedded"
    endpoint_url: str | None = None
    deploy_options: Mapping[str, Any] | None = None
    cancel_event: threading.Event | None = None
    # Worker processes (each with its own interpreter and embedded sandbox) when set; threads otherwise.
    # The deploy function and options then travel to the workers by pickling (a module-level function).
    pool: PoolSettings | None = None


# ---------------------------------------------------------------- one cell


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "cell"


def cell_out_path(cell: Cell, out_dir: Path) -> Path:
    """Where a cell's repaired template goes: one folder per cell, so parallel cells never overwrite each other."""
    folder = out_dir / _slug(f"{cell.label}-{cell.region}-{cell.parameter_set}")
    suffix = cell.template.suffix or ".yaml"
    return folder / f"{cell.template.stem}.fixed{suffix}"


def _declared_parameters(template: Any) -> set[str]:
    params = (getattr(template, "document", None) or {}).get("Parameters")
    return set(params) if isinstance(params, Mapping) else set()


def run_cell(cell: Cell, settings: CellSettings, on_state: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """Run one cell; never raises for the cell's own problems: a crash becomes this cell's error."""
    started = time.monotonic()
    record: dict[str, Any] = {**cell.to_json(), "report": None, "error": None, "ignored_parameters": []}

    def state(text: str) -> None:
        if on_state:
            on_state(cell.id, text)

    # Every log line of this cell (the loop's too) carries the cell id, so interleaved lines stay readable.
    with structlog.contextvars.bound_contextvars(cell=cell.id):
        _run_cell_body(cell, record, settings, state)
    record["duration_s"] = round(time.monotonic() - started, 3)
    record["outcome"] = reports.classify(record)
    return redact.current().value(record)


def _run_cell_body(cell: Cell, record: dict[str, Any], settings: CellSettings, state: Callable[[str], None]) -> None:
    try:
        from orchestrator.template import load_template

        state("loading template")
        template = load_template(cell.template)
        declared = _declared_parameters(template)
        # A matrix-wide parameter set may name parameters this template does not declare; CloudFormation
        # rejects unknown parameters, so each cell passes only what its template declares.
        parameters = {k: v for k, v in cell.parameters.items() if k in declared}
        # Before anything can fail: the cell's record lists its parameters, NoEcho ones included.
        redact.current().add(redact.noecho_values(template.document, parameters))
        record["ignored_parameters"] = sorted(set(cell.parameters) - set(parameters))
        state("deploying")
        result = settings.deploy(
            template,
            region=cell.region,
            target=settings.target,
            endpoint_url=settings.endpoint_url,
            max_attempts=cell.max_attempts,
            strategy=cell.strategy,
            forecast=cell.forecast,
            parameters=parameters,
            out=cell_out_path(cell, settings.out_dir),
            cancel_event=settings.cancel_event,
            # The loop's phases ("attempt 2: watching the create") are the cell's state in the progress view.
            on_state=state,
            **({"with_templates": cell.with_templates} if cell.with_templates else {}),
            **dict(settings.deploy_options or {}),
        )
        report = dict(getattr(result, "report", None) or {})
        if not report:
            raise RuntimeError("deploy_with_autofix returned no report")
        report.setdefault("template", cell.label)
        record["report"] = report
    except BadInput as exc:
        record["error"] = f"BadInput: {exc.one_line()}"
    except AutofixError as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a crash in one cell must never end the run
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()


# ---------------------------------------------------------------- progress


@contextlib.contextmanager
def _signals_to_main_thread() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the pool starts its threads: the threads inherit the mask, so the signals
    only ever reach the main thread, and never while a thread start is half done (which would leave a
    running cell the pool does not know about)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _not_run(cell: Cell) -> dict[str, Any]:
    return {**cell.to_json(), "report": None, "error": "Interrupted: not run", "duration_s": 0.0}


def run_cells(
    cells: list[Cell],
    *,
    workers: int = 4,
    progress: Progress | None = None,
    settings: CellSettings | None = None,
    **fields: Any,
) -> list[dict[str, Any]]:
    """Every cell through a bounded pool: worker processes when `settings.pool` is set (cells then use
    every core: moto and the engine hold the GIL), threads otherwise (cheap, enough for real AWS).

    `settings` (or its fields as keywords: deploy, out_dir, target, endpoint_url, deploy_options,
    cancel_event) say how each cell deploys. Ctrl-C (or SIGTERM) sets the shared cancel event: running
    cells stop and clean up their stacks, queued cells are recorded as not run, and the records come
    back as usual so that the reports of an interrupted run are still written; the caller sees
    `cancel_event.is_set()`.
    """
    if workers < 1:
        raise BadInput(f"--workers must be at least 1 (got {workers})")
    settings = settings or CellSettings(**fields)
    if settings.cancel_event is None:
        settings = replace(settings, cancel_event=threading.Event())
    cancel_event = settings.cancel_event
    progress = progress or Progress(len(cells), live=False)
    if settings.pool is not None:
        return run_in_processes(cells, settings, workers=workers, progress=progress, pool_settings=settings.pool,
                                not_run=_not_run)
    # Each cell's record is stored by the thread that ran it, so an interrupt at any instant (even while
    # cells are being queued) loses no finished or running cell.
    results: dict[str, dict[str, Any]] = {}

    def one(cell: Cell) -> None:
        if cancel_event.is_set():
            return
        progress.started(cell.id)
        record = run_cell(cell, settings, on_state=progress.state)
        results[cell.id] = record
        progress.finished(record)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify")
    pending: set[Future] = set()
    try:
        with _signals_to_main_thread():
            for cell in cells:
                # Each cell runs in a copy of this context: the run's redactor (and its log context) goes along.
                pending.add(pool.submit(contextvars.copy_context().run, one, cell))
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
    except KeyboardInterrupt:
        cancel_event.set()
        log.warning("verify_interrupted", running=len(progress.running), queued=len(pending))
        pool.shutdown(wait=True, cancel_futures=True)
    finally:
        pool.shutdown(wait=True)
    return [results.get(cell.id) or _not_run(cell) for cell in cells]


def verify(
    vplan: VerifyPlan,
    *,
    workers: int = 4,
    progress: Progress | None = None,
    settings: CellSettings | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Run the plan's cells and return the verify JSON document (reports.build_run shape)."""
    settings = settings or CellSettings(**fields)
    if settings.cancel_event is None:
        settings = replace(settings, cancel_event=threading.Event())
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    records = run_cells(vplan.cells, workers=workers, progress=progress, settings=settings)
    run = reports.build_run(
        records,
        matrix_cells=[c.id for c in vplan.all_cells],
        matrix_digest=vplan.digest,
        target=settings.target,
        matrix=str(vplan.matrix.path) if vplan.matrix.path else None,
        shard=vplan.shard,
        wall_s=time.monotonic() - started,
        started_at=started_at,
    )
    # A run cut short says so at the top, not only through its cells' statuses.
    run["interrupted"] = bool(settings.cancel_event.is_set())
    peaks = [r["worker"]["max_rss_mb"] for r in records if isinstance(r.get("worker"), dict)]
    if peaks:
        # The bound on each worker's memory is verify.worker_memory_mb; this is what the largest one used.
        run["worker_max_rss_mb"] = max(peaks)
        log.info("verify_workers_memory", worker_max_rss_mb=max(peaks), workers=len({r["worker"]["pid"] for r in records if r.get("worker")}))
    return run

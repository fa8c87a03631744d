"""Nightly sandbox verification: run every matrix cell through deploy-with-autofix in parallel and report."""

from __future__ import annotations

import contextlib
import re
import signal
import sys
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

from orchestrator.verify import reports
from orchestrator.errors import AutofixError, BadInput, Interrupted
from orchestrator.template.graph import DependencyGraph, build_graph
from orchestrator.verify.matrix import Cell, Matrix, expand, load_matrix, matrix_digest, parse_matrix, select_shard

log = structlog.get_logger(__name__)

DeployFn = Callable[..., Any]


@dataclass
class VerifyPlan:
    """The whole matrix and the cells this process runs (its shard, or all of them)."""

    matrix: Matrix
    all_cells: list[Cell]
    cells: list[Cell]
    shard: tuple[int, int] | None = None

    @property
    def digest(self) -> str:
        return matrix_digest(self.all_cells)


def plan(
    templates: list[str] | None = None,
    *,
    matrix_path: str | Path | None = None,
    regions: list[str] | None = None,
    shard: tuple[int, int] | None = None,
    max_attempts: int | None = None,
) -> VerifyPlan:
    """Load the matrix (or build a one-set matrix from the templates) and pick this shard's cells."""
    if matrix_path is not None:
        matrix = load_matrix(matrix_path)
    elif templates:
        matrix = parse_matrix({}, base_dir=Path.cwd())
    else:
        raise BadInput("verify needs templates or --matrix FILE")
    all_cells = expand(matrix, templates or None, regions)
    if max_attempts is not None:
        # The command line wins over the matrix and its per-template overrides.
        all_cells = [replace(cell, max_attempts=max_attempts) for cell in all_cells]
    if not all_cells:
        raise BadInput("the matrix has no cell (every region skipped?)", file=matrix_path)
    cells = select_shard(all_cells, *shard) if shard else all_cells
    return VerifyPlan(matrix=matrix, all_cells=all_cells, cells=cells, shard=shard)


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


def run_cell(
    cell: Cell,
    *,
    deploy: DeployFn,
    target: str = "embedded",
    endpoint_url: str | None = None,
    out_dir: Path,
    cancel_event: threading.Event | None = None,
    deploy_options: Mapping[str, Any] | None = None,
    on_state: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Run one cell; never raises for the cell's own problems: a crash becomes this cell's error."""
    started = time.monotonic()
    record: dict[str, Any] = {**cell.to_json(), "report": None, "error": None, "ignored_parameters": []}

    def state(text: str) -> None:
        if on_state:
            on_state(cell.id, text)

    # Every log line of this cell (the loop's too) carries the cell id, so interleaved lines stay readable.
    with structlog.contextvars.bound_contextvars(cell=cell.id):
        _run_cell_body(cell, record, deploy, target, endpoint_url, out_dir, cancel_event, deploy_options, state)
    record["duration_s"] = round(time.monotonic() - started, 3)
    record["outcome"] = reports.classify(record)
    return record


def _run_cell_body(
    cell: Cell,
    record: dict[str, Any],
    deploy: DeployFn,
    target: str,
    endpoint_url: str | None,
    out_dir: Path,
    cancel_event: threading.Event | None,
    deploy_options: Mapping[str, Any] | None,
    state: Callable[[str], None],
) -> None:
    try:
        from orchestrator.template import load_template

        state("loading template")
        template = load_template(cell.template)
        declared = _declared_parameters(template)
        # A matrix-wide parameter set may name parameters this template does not declare; CloudFormation
        # rejects unknown parameters, so each cell passes only what its template declares.
        parameters = {k: v for k, v in cell.parameters.items() if k in declared}
        record["ignored_parameters"] = sorted(set(cell.parameters) - set(parameters))
        state("deploying")
        result = deploy(
            template,
            region=cell.region,
            target=target,
            endpoint_url=endpoint_url,
            max_attempts=cell.max_attempts,
            strategy=cell.strategy,
            forecast=cell.forecast,
            parameters=parameters,
            out=cell_out_path(cell, out_dir),
            cancel_event=cancel_event,
            **dict(deploy_options or {}),
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


class Progress:
    """Cells done/total and the state of every running cell: a rich live table on a TTY, log lines otherwise."""

    def __init__(self, total: int, *, live: bool | None = None, stream: Any = None):
        self.total = total
        self.done = 0
        self.running: dict[str, tuple[str, float]] = {}
        self.outcomes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stream = stream or sys.stderr
        self._live = None
        use_live = self._stream.isatty() if live is None else live
        if use_live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(file=self._stream), refresh_per_second=4, transient=True)

    def __enter__(self) -> Progress:
        self._install_tap()
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()
        self._remove_tap()

    # The loop logs every step with the cell id bound (contextvars); a processor that reads those lines
    # gives each running cell its current state without coupling the loop to the verify command.
    def _install_tap(self) -> None:
        self._saved_processors = None
        if not structlog.is_configured():
            return
        processors = list(structlog.get_config()["processors"])
        self._saved_processors = list(processors)
        position = 1 if processors and processors[0] is structlog.contextvars.merge_contextvars else 0
        processors.insert(position, self._tap)
        structlog.configure(processors=processors)

    def _remove_tap(self) -> None:
        if getattr(self, "_saved_processors", None) is not None:
            structlog.configure(processors=self._saved_processors)
            self._saved_processors = None

    def _tap(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        cell_id = event_dict.get("cell")
        event = str(event_dict.get("event", ""))
        if cell_id in self.running and not event.startswith("verify_"):
            parts = [f"attempt {event_dict['attempt']}"] if "attempt" in event_dict else []
            detail = " ".join(
                str(event_dict[key]) for key in ("logical_id", "status") if event_dict.get(key) not in (None, "")
            )
            parts.append(f"{event} {detail}".strip())
            self.state(cell_id, ": ".join(parts), echo=False)
        return event_dict

    def started(self, cell_id: str) -> None:
        with self._lock:
            self.running[cell_id] = ("starting", time.monotonic())
        log.info("verify_cell_started", cell=cell_id, done=self.done, total=self.total)
        self._refresh()

    def state(self, cell_id: str, text: str, *, echo: bool = True) -> None:
        with self._lock:
            if cell_id in self.running:
                self.running[cell_id] = (text, self.running[cell_id][1])
        if self._live is None and echo:
            log.info("verify_cell_state", cell=cell_id, state=text)
        self._refresh()

    def finished(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            self.running.pop(record["id"], None)
            self.done += 1
            self.outcomes[record["outcome"]] = self.outcomes.get(record["outcome"], 0) + 1
            done = self.done
        log.info(
            "verify_cell_finished",
            cell=record["id"],
            outcome=record["outcome"],
            duration_s=record.get("duration_s"),
            error=record.get("error"),
            done=done,
            total=self.total,
        )
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        with self._lock:
            running = sorted(self.running.items())
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "none yet"
            title = f"verify: {self.done}/{self.total} cells done ({outcomes})"
        table = Table(title=title, title_justify="left", expand=False)
        table.add_column("running cell")
        table.add_column("state")
        table.add_column("time", justify="right")
        now = time.monotonic()
        for cell_id, (text, since) in running:
            table.add_row(cell_id, text, f"{now - since:.0f} s")
        return table


# ---------------------------------------------------------------- the pool


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
    deploy: DeployFn,
    workers: int = 4,
    target: str = "embedded",
    endpoint_url: str | None = None,
    out_dir: Path,
    deploy_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    cancel_event: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Every cell through a bounded thread pool (each deploy waits on the network, so threads suffice).

    Ctrl-C (or SIGTERM) sets the shared cancel event: running cells stop and clean up their stacks,
    queued cells are recorded as not run, and the records come back as usual so that the reports of
    an interrupted run are still written; the caller sees `cancel_event.is_set()`.
    """
    if workers < 1:
        raise BadInput(f"--workers must be at least 1 (got {workers})")
    cancel_event = cancel_event or threading.Event()
    progress = progress or Progress(len(cells), live=False)
    # Each cell's record is stored by the thread that ran it, so an interrupt at any instant (even while
    # cells are being queued) loses no finished or running cell.
    results: dict[str, dict[str, Any]] = {}

    def one(cell: Cell) -> None:
        if cancel_event.is_set():
            return
        progress.started(cell.id)
        record = run_cell(
            cell,
            deploy=deploy,
            target=target,
            endpoint_url=endpoint_url,
            out_dir=out_dir,
            cancel_event=cancel_event,
            deploy_options=deploy_options,
            on_state=progress.state,
        )
        results[cell.id] = record
        progress.finished(record)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify")
    pending: set[Future] = set()
    try:
        with _signals_to_main_thread():
            for cell in cells:
                pending.add(pool.submit(one, cell))
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
    deploy: DeployFn,
    workers: int = 4,
    target: str = "embedded",
    endpoint_url: str | None = None,
    out_dir: Path,
    deploy_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    cancel_event: threading.Event | None = None,
) -> dict[str, Any]:
    """Run the plan's cells and return the verify JSON document (reports.build_run shape)."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    records = run_cells(
        vplan.cells,
        deploy=deploy,
        workers=workers,
        target=target,
        endpoint_url=endpoint_url,
        out_dir=out_dir,
        deploy_options=deploy_options,
        progress=progress,
        cancel_event=cancel_event,
    )
    run = reports.build_run(
        records,
        matrix_cells=[c.id for c in vplan.all_cells],
        matrix_digest=vplan.digest,
        target=target,
        matrix=str(vplan.matrix.path) if vplan.matrix.path else None,
        shard=vplan.shard,
        wall_s=time.monotonic() - started,
        started_at=started_at,
    )
    # A run cut short says so at the top, not only through its cells' statuses.
    run["interrupted"] = bool(cancel_event is not None and cancel_event.is_set())
    return run


# ---------------------------------------------------------------- Markdown inputs


def playbook_catalog(extra_dirs: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Playbook id -> playbook, for the impact, explanation and docs link the Markdown report shows."""
    from orchestrator.catalog.playbooks import load_playbooks

    return {pb.id: pb for pb in load_playbooks(extra_dirs)}


def cell_graphs(run: Mapping[str, Any]) -> dict[str, str]:
    """Cell id -> Mermaid graph of the failing resources and their direct neighbours, from the cell's template.

    A cell whose template is no longer at hand (a merge on another machine) is left out; the Markdown
    renderer then derives a smaller graph from the report itself.
    """
    from orchestrator.template import load_template

    graphs: dict[str, str] = {}
    for cell in run.get("cells") or []:
        report = cell.get("report")
        if not report or reports.classify(cell) == reports.GREEN:
            continue
        failing = reports.failing_resources(report)
        path = cell.get("template_path")
        if not failing or not path or not Path(path).is_file():
            continue
        try:
            graph = build_graph(load_template(path))
        except AutofixError:
            continue
        text = neighbourhood_mermaid(graph, failing)
        if text:
            graphs[cell["id"]] = text
    return graphs


def neighbourhood_mermaid(graph: DependencyGraph, failing: list[str]) -> str:
    """Mermaid text of the failing resources, what they depend on and what depends on them."""
    g = graph.g
    present = [name for name in failing if name in g]
    if not present:
        return ""
    keep: set[str] = set(present)
    for name in present:
        keep.update(n for n in g.predecessors(name) if g.nodes[n].get("kind") == "resource")
        keep.update(n for n in g.successors(name) if g.nodes[n].get("kind") == "resource")
    return DependencyGraph(g.subgraph(keep).copy()).to_mermaid(highlight=present)


# ---------------------------------------------------------------- what the CLI commands call


def write_outputs(
    run: Mapping[str, Any],
    *,
    junit: Path | None = None,
    report_md: Path | None = None,
    report_json: Path | None = None,
    playbook_dirs: tuple[str, ...] | list[str] = (),
) -> None:
    """Write the requested reports atomically (a reader never sees half a file)."""
    from orchestrator.template import write_atomic

    outputs: list[tuple[Path, Callable[[], str]]] = []
    if report_json:
        outputs.append((report_json, lambda: reports.render_json(run)))
    if junit:
        outputs.append((junit, lambda: reports.render_junit(run)))
    if report_md:
        outputs.append(
            (report_md, lambda: reports.render_markdown(run, playbooks=playbook_catalog(playbook_dirs), graphs=cell_graphs(run)))
        )
    for path, render in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, render())
        log.info("verify_report_written", path=str(path))


def summary_line(run: Mapping[str, Any]) -> str:
    s = run["summary"]
    parts = [
        f"{s['cells']} cell(s)",
        f"{s['green_first_try']} green at first try",
        f"{s['green_after_repair']} green after repair",
        f"{s['failed']} failed",
        f"{s['errors']} error(s)",
    ]
    if s.get("missing"):
        parts.append(f"{s['missing']} missing")
    wall = f", {s['wall_s']:.1f} s" if s.get("wall_s") is not None else ""
    return f"verify: {', '.join(parts)}; {s['deployments']} deployment(s){wall}"


def run_verify_command(
    templates: list[str] | None,
    *,
    matrix_path: Path | None,
    regions: list[str] | None,
    workers: int,
    shard: str | None,
    junit: Path | None,
    report_md: Path | None,
    report_json: Path | None,
    fail_on_repair: bool,
    target: str,
    endpoint_url: str | None,
    out_dir: Path,
    max_attempts: int | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    config: Any = None,
    deploy: DeployFn | None = None,
    stream: Any = None,
) -> int:
    """`cfn-autofix verify`: plan, run every cell, write the reports; returns the exit code.

    `config` (orchestrator.config.Config) reaches every cell's deploy_with_autofix and names the
    extra playbook folders the Markdown report explains failures with.
    """
    from orchestrator.verify.matrix import parse_shard

    if target not in ("embedded", "endpoint", "aws"):
        raise BadInput(f"--target {target!r}: expected embedded, endpoint or aws")
    if target == "endpoint" and not endpoint_url:
        raise BadInput("--target endpoint needs --endpoint-url URL")
    if workers < 1:
        raise BadInput(f"--workers must be at least 1 (got {workers})")
    vplan = plan(
        templates or None,
        matrix_path=matrix_path,
        regions=regions,
        shard=parse_shard(shard) if shard else None,
        max_attempts=max_attempts,
    )
    if deploy is None:
        from orchestrator.deploy.loop import deploy_with_autofix as deploy
    options = {k: v for k, v in {"profile": profile, "role_arn": role_arn, "config": config}.items() if v}
    playbook_dirs = tuple(config.playbooks.extra_dirs) if config is not None else ()
    log.info(
        "verify_started",
        cells=len(vplan.cells),
        matrix_cells=len(vplan.all_cells),
        shard=shard,
        workers=workers,
        target=target,
    )
    cancel_event = threading.Event()
    with Progress(len(vplan.cells), stream=stream) as progress:
        run = verify(
            vplan,
            deploy=deploy,
            workers=workers,
            target=target,
            endpoint_url=endpoint_url,
            out_dir=out_dir,
            deploy_options=options,
            progress=progress,
            cancel_event=cancel_event,
        )
    write_outputs(run, junit=junit, report_md=report_md, report_json=report_json, playbook_dirs=playbook_dirs)
    print(summary_line(run), file=stream or sys.stdout)
    if cancel_event.is_set():
        raise Interrupted("verify stopped; the reports cover the cells that ran")
    return reports.exit_code(run, fail_on_repair=fail_on_repair)


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
    runs = []
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput("shard result not found", file=path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read shard result: {exc}", file=path) from None
        runs.append((str(path), reports.load_run(str(path), text)))
    run = reports.merge_runs(runs)
    write_outputs(run, junit=junit, report_md=report_md, report_json=report_json, playbook_dirs=playbook_dirs)
    print(summary_line(run), file=stream or sys.stdout)
    return reports.exit_code(run, fail_on_repair=fail_on_repair)

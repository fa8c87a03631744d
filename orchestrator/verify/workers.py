"""Worker processes of a verify run: each runs cells with its own embedded sandbox and streams their states back."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import queue as queue_module
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

import structlog

from orchestrator import redact
from orchestrator.signals import handlers
from orchestrator.verify import preload
from orchestrator.verify.matrix import Cell
from orchestrator.verify.progress import Progress

log = structlog.get_logger(__name__)

# 'forkserver' starts each worker from a small clean server process (no threads, no live view, no moto of
# the parent copied in); 'spawn' where forkserver does not exist.
_START_METHOD = preload.START_METHOD


@dataclass(frozen=True)
class PoolSettings:
    """How the worker processes of a run are bounded.

    memory_mb: address-space limit of each worker (RLIMIT_AS; 0 = none): a cell that outgrows it fails
    with MemoryError as that cell's error instead of taking the machine down. cells_per_worker: a worker is
    replaced after this many cells (0 = never), so that what moto leaks per account cannot accumulate.
    """

    memory_mb: int = 4096
    cells_per_worker: int = 20
    warm: bool = True


# ---------------------------------------------------------------- inside a worker

_WORKER: dict[str, Any] = {}


def _worker_init(events: Any, cancel: Any, log_settings: dict[str, Any] | None, memory_mb: int, warm_target: str | None) -> None:
    """Runs once in each worker: signals, memory bound, logging, and the warm-up of the sandbox."""
    _WORKER["init_at"] = time.time()
    # The parent owns Ctrl-C and tells every worker through `cancel`; a Ctrl-C at the terminal reaches the
    # whole process group, and a KeyboardInterrupt here would cut a cell's clean-up short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A SIGTERM sent to the group ends the cells like a cancel: stacks deleted, records returned.
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    if memory_mb > 0:
        limit = memory_mb * 2**20
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    _WORKER.update(events=events, cancel=cancel)
    if log_settings is not None:
        from orchestrator.logs import configure_logging

        # The parent owns the output: every rendered line travels back and is written to the parent's stderr
        # (whatever that is at the time: a terminal, a pipe, a test runner's capture), never interleaved.
        sys.stderr = _LinesToParent(events)
        configure_logging(**log_settings)
    else:
        # A library host configured structlog its own way (or not at all), and its processors cannot cross a
        # process boundary: each event goes back as data and the parent logs it through the host's
        # configuration, which decides whether and where it appears. (Unconfigured, structlog would print
        # every worker's lines on stdout: a library must stay silent unless its host asks.)
        structlog.configure(processors=[structlog.contextvars.merge_contextvars, _event_to_parent],
                            logger_factory=structlog.ReturnLoggerFactory(), cache_logger_on_first_use=False)
    if warm_target is not None:
        _warm(warm_target)
    _WORKER["start_cpu_s"] = _cpu_s()
    _WORKER["ready_at"] = time.time()


class _LinesToParent(io.TextIOBase):
    """A worker's stderr: whole lines are sent to the parent through the event queue."""

    def __init__(self, events: Any) -> None:
        super().__init__()
        self._events, self._partial = events, ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._events.put(("log", "", line))
        return len(text)

    def isatty(self) -> bool:
        return False


def _event_to_parent(_logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
    fields = {key: value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
              for key, value in event_dict.items() if key != "event"}
    _WORKER["events"].put(("event", method, (str(event_dict.get("event", "")), fields)))
    raise structlog.DropEvent


def _relog(method: str, payload: tuple[str, dict[str, Any]]) -> None:
    """In the parent: a worker's event, logged through the host's structlog configuration."""
    event, fields = payload
    emit = getattr(log, method, None)
    (emit if callable(emit) else log.info)(event, **fields)


def _warm(target: str) -> None:
    """Import the deploy loop (and, for the embedded target, moto with the sandbox's seams checked) before
    the first cell arrives, so that no cell pays the start-up."""
    import orchestrator.deploy.loop  # noqa: F401
    import orchestrator.template  # noqa: F401

    if target == "embedded":
        from orchestrator.sandbox import patches

        patches.self_test()


def _cpu_s() -> float:
    """CPU seconds this worker has used so far (its start-up included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


def _forkserver_warm() -> tuple[float, list[float]]:
    """The fork server's warm-up as this worker inherited it: CPU seconds and [start, end] (epoch seconds)."""
    module = sys.modules.get("orchestrator.verify.preload")
    return getattr(module, "WARM_CPU_S", 0.0), list(getattr(module, "WARM_AT", ()))


def _max_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _run_in_worker(cell: Cell, settings: Any) -> dict[str, Any] | None:
    """One cell in this worker; None when the run was cancelled before the cell began."""
    from orchestrator.verify.run import run_cell

    cancel, events = _WORKER["cancel"], _WORKER["events"]
    if cancel.is_set():
        return None
    events.put(("started", cell.id, ""))
    began = time.time()
    # The cell's own redactor: its NoEcho values are hidden in its logs and in the record it sends back
    # (the parent never learns them, so the record must leave this process redacted).
    with redact.Redactor().active():
        record = run_cell(cell, replace(settings, cancel_event=cancel),
                          on_state=lambda cell_id, text: events.put(("state", cell_id, text)))
    warm_cpu_s, warm_at = _forkserver_warm()
    # Epoch timestamps (comparable across the run's processes): where a run's wall time goes (bench_verify --profile).
    record["worker"] = {"pid": os.getpid(), "max_rss_mb": _max_rss_mb(), "cpu_s": _cpu_s(),
                        "start_cpu_s": _WORKER.get("start_cpu_s", 0.0), "forkserver_warm_cpu_s": warm_cpu_s,
                        "timeline": {"forkserver_warm": warm_at, "init": [_WORKER.get("init_at"), _WORKER.get("ready_at")],
                                     "cell": [began, time.time()]}}
    return record


# ---------------------------------------------------------------- in the parent


def run_in_processes(
    cells: list[Cell],
    settings: Any,
    *,
    workers: int,
    progress: Progress,
    pool_settings: PoolSettings,
    not_run: Callable[[Cell], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Every cell in a pool of worker processes; this process keeps the live view, the records and Ctrl-C.

    Ctrl-C (or SIGTERM turned into it) sets the cancel event every worker shares: running cells stop and
    clean up their stacks, cells not begun come back as not run.
    """
    from orchestrator.logs import current_settings

    context = multiprocessing.get_context(_START_METHOD)
    if _START_METHOD == "forkserver" and pool_settings.warm:
        preload.start_forkserver(cells, settings.target)
    events = context.Queue()
    cancel = context.Event()
    parent_cancel = settings.cancel_event
    shipped = replace(settings, cancel_event=None)
    results: dict[str, dict[str, Any]] = {}
    finished: set[str] = set()
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(cells))),
        mp_context=context,
        initializer=_worker_init,
        initargs=(events, cancel, current_settings(), pool_settings.memory_mb,
                  settings.target if pool_settings.warm else None),
        max_tasks_per_child=pool_settings.cells_per_worker or None,
    )
    futures: dict[Future, Cell] = {}

    def drain() -> None:
        while True:
            try:
                kind, cell_id, text = events.get_nowait()
            except (queue_module.Empty, EOFError, OSError):
                return
            if kind == "log":
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
                continue
            if kind == "event":
                _relog(cell_id, text)
                continue
            if cell_id in finished:
                continue
            if kind == "started":
                progress.started(cell_id)
            else:
                progress.state(cell_id, text, echo=False)

    def collect(done: set[Future]) -> None:
        drain()
        for future in done:
            cell = futures[future]
            record = _outcome(future, cell)
            if record is None:
                continue
            finished.add(cell.id)
            results[cell.id] = record
            progress.finished(record)

    pending: set[Future] = set()
    interrupted = threading.Event()
    with _signals_as_flag(interrupted, parent_cancel):
        try:
            for cell in cells:
                future = pool.submit(_run_in_worker, cell, shipped)
                futures[future] = cell
                pending.add(future)
            _run_until_done(pending, interrupted, parent_cancel, collect)
        except KeyboardInterrupt:
            cancel.set()
            if parent_cancel is not None:
                parent_cancel.set()
            log.warning("verify_interrupted", running=len(progress.running), queued=len(pending))
            for future in pending:
                future.cancel()
            # Running cells finish their clean-up and still return their records (a second Ctrl-C meanwhile
            # only sets the flag again: the clean-up is what it would interrupt).
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                collect({f for f in done if not f.cancelled()})
        finally:
            _shutdown_draining(pool, drain)
            events.close()
    return [results.get(cell.id) or not_run(cell) for cell in cells]


def _run_until_done(pending: set[Future], interrupted: threading.Event, parent_cancel: Any,
                    collect: Callable[[set[Future]], None]) -> None:
    """Collect finished cells until none is left; a signal (seen through `interrupted`) becomes Ctrl-C here,
    between two reads of the event queue. `pending` shrinks in place: the caller's interrupt path reads it."""
    while pending:
        if interrupted.is_set() or (parent_cancel is not None and parent_cancel.is_set()):
            raise KeyboardInterrupt
        done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        pending -= done
        collect(done)


@contextlib.contextmanager
def _signals_as_flag(flag: threading.Event, parent_cancel: Any) -> Iterator[None]:
    """While the pool runs, SIGINT and SIGTERM only set flags (this run's, and the caller's cancel event).

    Raised asynchronously, a KeyboardInterrupt can land inside a read of the event queue, after a message's
    length and before its bytes: the pipe is then out of step and every later read waits for bytes that never
    come (seen: an interrupted verify hung in a pipe read, its cells already cleaned up). The loop turns the
    flag into KeyboardInterrupt between reads instead.
    """
    def handler(signum: int, frame: Any) -> None:
        flag.set()
        if parent_cancel is not None:
            parent_cancel.set()

    with handlers({signal.SIGINT: handler, signal.SIGTERM: handler}):
        yield


def _shutdown_draining(pool: ProcessPoolExecutor, drain: Callable[[], None]) -> None:
    """Shut the pool down while its workers' last lines are still being read.

    A worker that exits first flushes what it put on the event queue into the pipe; with the pipe full and
    nobody reading, it never exits and the shutdown waits for it forever (seen under load, when a cell's
    clean-up logs more than the pipe holds after its record came back).
    """
    stop = threading.Event()

    def keep_draining() -> None:
        while not stop.is_set():
            drain()
            stop.wait(0.05)

    reader = threading.Thread(target=keep_draining, name="verify-drain", daemon=True)
    reader.start()
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    finally:
        stop.set()
        reader.join()
    drain()


def _outcome(future: Future, cell: Cell) -> dict[str, Any] | None:
    """The record a finished future carries; a worker that died becomes that cell's error."""
    if future.cancelled():
        return None
    try:
        return future.result()
    except BrokenProcessPool as exc:
        log.error("verify_worker_died", cell=cell.id, error=str(exc))
        record = {**cell.to_json(), "report": None, "ignored_parameters": [], "duration_s": 0.0,
                  "error": f"WorkerDied: the worker process running this cell ended abruptly ({exc})"}
    except Exception as exc:  # the cell's record could not come back (e.g. not picklable)
        record = {**cell.to_json(), "report": None, "ignored_parameters": [], "duration_s": 0.0,
                  "error": f"{type(exc).__name__}: {exc}"}
    from orchestrator.verify import reports

    record["outcome"] = reports.classify(record)
    return record

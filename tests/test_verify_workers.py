"""The worker pool's shutdown: workers whose last lines are still queued exit, and every line is read."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from concurrent.futures import ProcessPoolExecutor

from orchestrator.verify import workers

_QUEUE: dict[str, object] = {}
LINES = 2000  # ~2 MB of log lines: far more than a pipe holds (64 KiB on Linux)


def _init(events) -> None:
    _QUEUE["events"] = events


def _flood(count: int) -> int:
    # The record goes back before the queue's feeder thread has written the lines: they are still in flight.
    for index in range(count):
        _QUEUE["events"].put(("log", "", f"{index:06d} " + "x" * 1000))
    return count


def test_shutdown_reads_the_lines_workers_still_hold_so_they_can_exit():
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_init, initargs=(events,))
    assert pool.submit(_flood, LINES).result() == LINES
    read: list[tuple] = []

    def drain() -> None:
        while True:
            try:
                read.append(events.get_nowait())
            except queue.Empty:
                return

    # Without reading during the shutdown the worker blocks flushing its queue and the shutdown never ends;
    # the join's timeout only bounds that runaway (it is not a speed verdict).
    shutdown = threading.Thread(target=workers._shutdown_draining, args=(pool, drain), daemon=True)
    shutdown.start()
    shutdown.join(timeout=900)
    assert not shutdown.is_alive(), "the pool's shutdown hung on a worker that could not flush its lines"
    assert [line[2][:6] for line in read] == [f"{index:06d}" for index in range(LINES)]

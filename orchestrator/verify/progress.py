"""The verify run's progress: a live table of running cells on a terminal, log lines everywhere."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import structlog

log = structlog.get_logger(__name__)


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

    # Each running cell's state comes from its deploy's phase callback (on_state: "attempt 2: watching the
    # create"), handed to the deploy function by verify/run.py. The host's structlog configuration is never
    # read or changed: a library uses the host's logging as it finds it.
    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()

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
        from rich.text import Text

        from orchestrator.termsafe import term_safe

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
            table.add_row(Text(term_safe(cell_id, keep_newlines=False)), Text(term_safe(text, keep_newlines=False)),
                          f"{now - since:.0f} s")
        return table


# ---------------------------------------------------------------- the pool

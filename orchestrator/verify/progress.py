"""The verify run's progress: a live table of running cells on a terminal, log lines everywhere."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def state_text(event_dict: Mapping[str, Any]) -> str | None:
    """A running cell's state as one log event of its deploy describes it (None for verify's own events)."""
    event = str(event_dict.get("event", ""))
    if event.startswith("verify_"):
        return None
    parts = [f"attempt {event_dict['attempt']}"] if "attempt" in event_dict else []
    detail = " ".join(str(event_dict[key]) for key in ("logical_id", "status") if event_dict.get(key) not in (None, ""))
    parts.append(f"{event} {detail}".strip())
    return ": ".join(parts)


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
        if cell_id in self.running:
            text = state_text(event_dict)
            if text is not None:
                self.state(cell_id, text, echo=False)
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

"""A live terminal table of a stack's resources and their statuses, fed by the watcher; a no-op off a terminal."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.termsafe import term_safe
from orchestrator.model import StackEvent

_MAX_REASON = 90


@dataclass
class _Row:
    resource_type: str
    status: str
    reason: str
    first_seen: float
    last_change: float


def status_style(status: str) -> str:
    """Colour of a status: failures red, rollback/delete yellow, in progress cyan, complete green."""
    if status.endswith("_FAILED"):
        return "bold red"
    if "ROLLBACK" in status or status.startswith("DELETE"):
        return "yellow"
    if status.endswith("_IN_PROGRESS"):
        return "cyan"
    if status.endswith("_COMPLETE"):
        return "green"
    return ""


class StackProgress:
    """`with StackProgress(stack) as view: watch(..., on_event=view.on_event)`.

    Enabled by default only when stderr is a terminal, so logs and CI output stay clean; when disabled,
    every method is a cheap no-op.
    """

    def __init__(self, stack_name: str, *, enabled: bool | None = None, console: Console | None = None, title: str = ""):
        self.stack_name = stack_name
        self.title = title
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.console = console or Console(stderr=True)
        self.stack_status = ""
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._started = time.monotonic()

    def __enter__(self) -> StackProgress:
        if self.enabled:
            self._live = Live(self.render(), console=self.console, refresh_per_second=8, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.stop()
            self._live = None

    def on_event(self, event: StackEvent) -> None:
        """Record one event (the watcher's on_event callback) and redraw."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            if event.is_stack_event and event.logical_id == event.stack_name:
                self.stack_status = event.status
            else:
                row = self._rows.get(event.logical_id)
                if row is None:
                    self._rows[event.logical_id] = _Row(event.resource_type, event.status, event.reason, now, now)
                else:
                    # Keep the reason that explains a failure visible when a later event has none.
                    if event.reason or not row.status.endswith("_FAILED"):
                        row.reason = event.reason
                    row.status, row.last_change = event.status, now
        if self._live is not None:
            self._live.update(self.render())

    def render(self) -> Group:
        with self._lock:
            rows = list(self._rows.items())
            stack_status = self.stack_status
        elapsed = time.monotonic() - self._started
        header = Text.assemble(
            (term_safe(self.title or self.stack_name), "bold"),
            "  ",
            (stack_status or "waiting for events", status_style(stack_status)),
            f"  {elapsed:,.0f}s",
        )
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        table.add_column("Resource", no_wrap=True)
        table.add_column("Type", style="dim", no_wrap=True)
        table.add_column("Status", no_wrap=True)
        table.add_column("Time", justify="right", style="dim")
        table.add_column("Reason", overflow="fold")
        for logical_id, row in rows:
            reason = row.reason if len(row.reason) <= _MAX_REASON else row.reason[: _MAX_REASON - 1] + "…"
            # Text, not str: no rich markup is read from AWS's words; term_safe: no terminal control either.
            table.add_row(
                Text(term_safe(logical_id, keep_newlines=False)),
                Text(term_safe(row.resource_type, keep_newlines=False)),
                Text(term_safe(row.status), style=status_style(row.status)),
                f"{row.last_change - row.first_seen:,.0f}s",
                Text(term_safe(reason, keep_newlines=False)),
            )
        counts = {"complete": 0, "in progress": 0, "failed": 0}
        for _, row in rows:
            if row.status.endswith("_FAILED"):
                counts["failed"] += 1
            elif row.status.endswith("_IN_PROGRESS"):
                counts["in progress"] += 1
            else:
                counts["complete"] += 1
        footer = Text(", ".join(f"{n} {label}" for label, n in counts.items()), style="dim")
        return Group(header, table, footer)

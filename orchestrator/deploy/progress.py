"""What a run shows on a terminal while it works: a spinner with the current phase and a live table of the stack."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.padding import Padding
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from orchestrator.model import StackEvent
from orchestrator.termsafe import term_safe

_TERMINAL_SUFFIXES = ("_COMPLETE", "_FAILED", "_SKIPPED")
_GAP = 2  # spaces between columns


@dataclass
class _Row:
    resource_type: str
    status: str
    reason: str
    started: float  # epoch seconds of the resource's first event
    ended: float | None  # epoch seconds of its last terminal event; None while in progress


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


def _epoch(event: StackEvent, fallback: float) -> float:
    # CloudFormation's own timestamps: events read in one poll still carry the times they happened.
    stamp = event.timestamp
    if isinstance(stamp, datetime):
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()
    return fallback


def _seconds(value: float) -> str:
    value = max(0.0, value)
    return f"{value:.0f}s" if value < 600 else f"{value // 60:.0f}m{value % 60:02.0f}s"


class StackTable:
    """The resources of one deployment: Logical ID, Type, Status and elapsed time, each reason on its own
    line(s) under its row. Fits any width: Logical ID and Type fold, the reason wraps, nothing is cut."""

    def __init__(self, title: str, *, clock: Any = time.time):
        self.title = term_safe(title)
        self.stack_status = ""
        self._clock = clock
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._started: float | None = None  # the deployment's first event, by CloudFormation's clock

    def on_event(self, event: StackEvent) -> None:
        """Record one event (the watcher's on_event callback)."""
        when = _epoch(event, self._clock())
        # Event text comes from the account (reasons quote user input): never let it drive the terminal.
        logical_id, resource_type = term_safe(event.logical_id, keep_newlines=False), term_safe(event.resource_type)
        status, reason = term_safe(event.status), term_safe(event.reason)
        with self._lock:
            self._started = when if self._started is None else min(self._started, when)
            if event.is_stack_event and event.logical_id == event.stack_name:
                self.stack_status = status
                return
            row = self._rows.get(logical_id)
            if row is None:
                row = self._rows[logical_id] = _Row(resource_type, status, reason, when, None)
            else:
                # Keep the reason that explains a failure visible when a later event has none.
                if reason or not row.status.endswith("_FAILED"):
                    row.reason = reason
                row.status = status
            row.ended = when if status.endswith(_TERMINAL_SUFFIXES) else None

    def _snapshot(self) -> tuple[list[tuple[str, _Row]], str, float]:
        with self._lock:
            rows = [(lid, _Row(**vars(row))) for lid, row in self._rows.items()]
            return rows, self.stack_status, self._clock()

    def _elapsed(self, now: float) -> str:
        return _seconds(now - self._started) if self._started is not None else ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows, stack_status, now = self._snapshot()
        width = max(options.max_width, 20)
        yield Text.assemble(
            (self.title, "bold"), "  ",
            (stack_status or "waiting for events", status_style(stack_status)),
            f"  {self._elapsed(now)}",
        )
        if not rows:
            return
        times = {lid: _seconds((row.ended or now) - row.started) for lid, row in rows}
        status_w = max(len("Status"), *(len(row.status) for _, row in rows))
        time_w = max(len("Time"), *(len(t) for t in times.values()))
        room = width - status_w - time_w - 3 * _GAP
        types = {lid: row.resource_type for lid, row in rows}
        if max(map(len, types)) + max(map(len, types.values())) > room:
            # Short of room, AWS:: says nothing every row does not already say.
            types = {lid: t.removeprefix("AWS::") for lid, t in types.items()}
        id_w, type_w = self._name_widths(list(types.items()), room)
        widths = (id_w, type_w, status_w, time_w)
        yield _grid_row(widths, *(Text(h, style="dim") for h in ("Logical ID", "Type", "Status", "Time")))
        for lid, row in rows:
            # One grid per resource, all with the same column widths, so that its reason can follow it
            # on the full width (a table cell cannot span columns).
            yield _grid_row(widths, Text(lid), Text(types[lid], style="dim"),
                            Text(row.status, style=status_style(row.status)), Text(times[lid], style="dim"))
            if row.reason:
                yield Padding(Text(row.reason, style="red" if row.status.endswith("_FAILED") else "dim"), (0, 0, 0, 2),
                              expand=False)
        yield Text(self._counts(rows), style="dim")

    @staticmethod
    def _name_widths(types: list[tuple[str, str]], room: int) -> tuple[int, int]:
        """Widths of Logical ID and Type: natural when they fit, else shared so that neither gets too narrow."""
        room = max(room, 16)
        id_nat = max(len("Logical ID"), *(len(lid) for lid, _ in types))
        type_nat = max(len("Type"), *(len(t) for _, t in types))
        if id_nat + type_nat <= room:
            return id_nat, type_nat
        half = room // 2
        if id_nat <= half:
            return id_nat, room - id_nat
        if type_nat <= half:
            return room - type_nat, type_nat
        return half, room - half

    @staticmethod
    def _counts(rows: list[tuple[str, _Row]]) -> str:
        counts = {"complete": 0, "in progress": 0, "failed": 0}
        for _, row in rows:
            if row.status.endswith("_FAILED"):
                counts["failed"] += 1
            elif row.status.endswith("_IN_PROGRESS"):
                counts["in progress"] += 1
            else:
                counts["complete"] += 1
        return ", ".join(f"{n} {label}" for label, n in counts.items())


def _grid_row(widths: tuple[int, int, int, int], *cells: Text) -> Table:
    id_w, type_w, status_w, time_w = widths
    grid = Table.grid(padding=(0, _GAP, 0, 0), expand=False)
    grid.add_column(width=id_w, overflow="fold")
    grid.add_column(width=type_w, overflow="fold")
    grid.add_column(width=status_w, no_wrap=True)
    grid.add_column(width=time_w, justify="right", no_wrap=True)
    grid.add_row(*cells)
    return grid


class RunView:
    """One live display for a whole run: a spinner naming the phase from the first second, the current
    deployment's table above it, findings and finished tables printed as they come. A no-op when disabled."""

    @classmethod
    def of(cls, options: Any) -> RunView:
        """A run's view: drawn only when asked (progress=True); a library call draws nothing by default."""
        return cls(enabled=bool(options.progress), console=options.console)

    def also(self, callback: Any) -> Any:
        """A phase callback that sets this view's phase, then calls `callback` (when there is one)."""
        def call(text: str) -> None:
            self.set_phase(text)
            if callback is not None:
                callback(text)

        return call

    def __init__(self, *, enabled: bool = False, console: Console | None = None):
        self.enabled = enabled
        self.console = console if console is not None else Console(stderr=True)
        self.phase = "starting"
        self.table: StackTable | None = None
        self._live: Any = None
        self._spinner = Spinner("dots", style="cyan")
        self._started = time.monotonic()

    def __enter__(self) -> RunView:
        if self.enabled:
            from rich.live import Live

            self._live = Live(self, console=self.console, refresh_per_second=8, transient=True,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __rich__(self) -> Group:
        self._spinner.update(text=Text(f"{self.phase}  {_seconds(time.monotonic() - self._started)}"))
        return Group(*([self.table] if self.table is not None else []), self._spinner)

    def set_phase(self, text: str) -> None:
        self.phase = text
        self._refresh()

    def print(self, *renderables: Any) -> None:
        """Print above the live display (or plainly when there is none)."""
        if self.enabled:
            self.console.print(*renderables)

    def forecast(self, findings: Iterable[dict], repairs: Iterable[dict]) -> None:
        """The forecast's findings, as soon as they are known; a clean forecast in one line."""
        findings, repairs = list(findings), list(repairs)
        if not findings:
            self.print(Text("forecast: no known failure found", style="green"))
            return
        for line in forecast_lines(findings):
            self.print(line)
        if repairs:
            self.print(Text(f"forecast: {len(repairs)} repair(s) applied before the first deployment", style="dim"))

    def stack(self, title: str) -> "_TableScope":
        """`with view.stack("attempt 1: create") as table:` — the table lives until the block ends, then stays printed."""
        return _TableScope(self, StackTable(title))

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()


class _TableScope:
    def __init__(self, view: RunView, table: StackTable):
        self.view, self.table = view, table

    def __enter__(self) -> StackTable:
        self.view.table = self.table
        return self.table

    def __exit__(self, *exc: Any) -> None:
        self.view.table = None
        self.view.print(self.table)


def forecast_lines(findings: Iterable[dict]) -> Iterator[Text]:
    """One line per forecast finding: resource, line, playbook and message (wrapped, never cut)."""
    for finding in findings:
        where = f":{finding['line']}" if finding.get("line") else ""
        yield Text.assemble(("forecast ", "cyan"), term_safe(f"{finding['logical_id']}{where} "),
                            (term_safe(finding["playbook"]), "bold"), term_safe(f": {finding['message']}"))

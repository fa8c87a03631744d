"""What a person sees: the live table and the summary at 60, 80 and 120 columns and in a pipe (golden snapshots).

Regenerate the golden files after an intended change with CFN_AUTOFIX_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import io
import json
import os
import re
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.cli.common import AppState, make_console
from orchestrator.deploy.progress import RunView, StackTable
from orchestrator.deploy.report import render_summary
from orchestrator.model import StackEvent

ROOT = Path(__file__).resolve().parent
GOLDEN = ROOT / "golden" / "terminal"
FIXTURES = ROOT / "fixtures" / "terminal"
EVENTS = ROOT / "corpora" / "failures" / "events"
WIDTHS = (60, 80, 120)
UPDATE = os.environ.get("CFN_AUTOFIX_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with CFN_AUTOFIX_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def terminal(width: int) -> Console:
    """A terminal of this width, without colours, recording what it prints."""
    return Console(width=width, file=io.StringIO(), record=True, color_system=None, force_terminal=False,
                   highlight=False)


def text_of(console: Console) -> str:
    # Rich pads lines to the width; the snapshot keeps what a reader sees.
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def corpus_events(name: str) -> list[StackEvent]:
    raw = json.loads((EVENTS / name).read_text(encoding="utf-8"))["StackEvents"]
    return [
        StackEvent(event_id=e["EventId"], stack_name=e["StackName"], logical_id=e["LogicalResourceId"],
                   resource_type=e["ResourceType"], status=e["ResourceStatus"],
                   reason=e.get("ResourceStatusReason", ""), physical_id=e.get("PhysicalResourceId", ""),
                   timestamp=datetime.fromisoformat(e["Timestamp"].replace("Z", "+00:00")))
        for e in reversed(raw)  # describe-stack-events lists the newest first
    ]


def table_after(name: str, upto: int | None = None) -> StackTable:
    events = corpus_events(name)[:upto]
    last = events[-1].timestamp.timestamp()
    table = StackTable(f"attempt 1: create {events[0].stack_name}", clock=lambda: last + 5)
    for event in events:
        table.on_event(event)
    return table


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ------------------------------------------------------------------------------------------ live table


@pytest.mark.parametrize("width", WIDTHS)
def test_live_table_snapshot(width: int) -> None:
    console = terminal(width)
    console.print(table_after("logs-kms-key-policy.json"))
    check_golden(f"stack-table-{width}.txt", text_of(console))


@pytest.mark.parametrize("name", ["logs-kms-key-policy.json", "missing-depends-on.json", "iam-eventual-consistency.json"])
@pytest.mark.parametrize("width", [60, 67, 74, 80, 99, 120])
def test_live_table_fits_the_width_and_cuts_nothing(name: str, width: int) -> None:
    table = table_after(name)
    console = terminal(width)
    console.print(table)
    out = text_of(console)
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out
    flat = squeeze(out)
    for event in corpus_events(name):
        if not event.is_stack_event:
            # Every logical id, status and failure reason is there in full (folded or wrapped, never cut).
            assert squeeze(event.logical_id) in flat
            assert event.status in out or not _is_last_status(name, event)
    for row_reason in {e.reason for e in corpus_events(name) if e.reason and not e.is_stack_event}:
        if _is_kept_reason(table, row_reason):
            assert squeeze(row_reason) in flat


def _is_last_status(name: str, event: StackEvent) -> bool:
    last = [e for e in corpus_events(name) if e.logical_id == event.logical_id][-1]
    return last is event


def _is_kept_reason(table: StackTable, reason: str) -> bool:
    rows, _, _ = table._snapshot()
    return any(row.reason == reason for _, row in rows)


def test_elapsed_time_comes_from_the_events_not_from_when_they_were_read() -> None:
    # All events arrive in one poll (as after a slow start); the times are CloudFormation's.
    table = table_after("logs-kms-key-policy.json", upto=9)
    rows, _, now = table._snapshot()
    by_id = dict(rows)
    assert by_id["AlertsTopic"].ended is not None
    assert by_id["AlertsTopic"].ended - by_id["AlertsTopic"].started > 0
    console = terminal(120)
    console.print(table)
    out = text_of(console)
    topic_line = next(line for line in out.splitlines() if line.startswith("AlertsTopic"))
    assert not topic_line.rstrip().endswith(" 0s"), topic_line


def test_spinner_names_the_phase() -> None:
    view = RunView(enabled=False, console=terminal(80))
    view.set_phase("starting the sandbox")
    console = terminal(80)
    console.print(view.__rich__())
    assert "starting the sandbox" in text_of(console)


def test_a_disabled_view_draws_nothing() -> None:
    console = terminal(80)
    view = RunView(enabled=False, console=console)
    with view:
        view.forecast([], [])
        with view.stack("attempt 1: create s") as table:
            for event in corpus_events("logs-kms-key-policy.json"):
                table.on_event(event)
    assert console.export_text() == ""


def test_forecast_findings_print_when_found_and_a_clean_forecast_in_one_line() -> None:
    console = terminal(80)
    view = RunView(enabled=True, console=console)
    view.forecast([], [])
    report = json.loads((FIXTURES / "report-forecast.json").read_text(encoding="utf-8"))
    view.forecast(report["forecast"], report["forecast_repairs"])
    lines = text_of(console).splitlines()
    assert lines[0] == "forecast: no known failure found"
    assert sum(line.startswith("forecast ") for line in lines) == len(report["forecast"])


# ------------------------------------------------------------------------------------------ summary


@pytest.mark.parametrize("report_name", ["report-forecast", "report-noforecast"])
@pytest.mark.parametrize("width", WIDTHS)
def test_summary_snapshot_on_a_terminal(report_name: str, width: int) -> None:
    report = json.loads((FIXTURES / f"{report_name}.json").read_text(encoding="utf-8"))
    console = terminal(width)
    render_summary(report, console)
    out = text_of(console)
    assert max(len(line) for line in out.splitlines()) <= width
    check_golden(f"summary-{report_name}-{width}.txt", out)


@pytest.mark.parametrize("report_name", ["report-forecast", "report-noforecast"])
def test_summary_snapshot_in_a_pipe(report_name: str, capsys: pytest.CaptureFixture) -> None:
    report = json.loads((FIXTURES / f"{report_name}.json").read_text(encoding="utf-8"))
    render_summary(report, make_console(None))
    out = capsys.readouterr().out
    check_golden(f"summary-{report_name}-pipe.txt", out)
    # No hard wrap: every reason and every diff line is one line, and no line is padded.
    reasons = [f["status_reason"] for a in report["attempts"] for f in a["failures"]]
    diff_lines = [line for plan in report["forecast_repairs"] + [r for a in report["attempts"] for r in a["repairs"]]
                  for line in plan["diff"].splitlines()]
    lines = out.splitlines()
    for text in reasons:
        assert any(line.strip() == text for line in lines), text
    for text in diff_lines:
        assert text in lines, text
    assert all(line == line.rstrip() or line in diff_lines for line in lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_diffs_are_printed_in_full_at_every_width(width: int) -> None:
    report = json.loads((FIXTURES / "report-forecast.json").read_text(encoding="utf-8"))
    console = terminal(width)
    render_summary(report, console)
    flat = squeeze(text_of(console))
    kms = next(plan for plan in report["forecast_repairs"] if plan["repair"] == "logs-kms-key-policy")
    condition = next(line for line in kms["diff"].splitlines() if "kms:EncryptionContext" in line)
    assert "${AWS::AccountId}:log-group:*" in condition
    assert squeeze(condition) in flat


def test_markup_in_reasons_is_printed_as_written() -> None:
    report = json.loads((FIXTURES / "report-noforecast.json").read_text(encoding="utf-8"))
    report["attempts"][0]["failures"][0]["status_reason"] = "failed to create: [WorkQueue, AppLogGroup] [bold]x[/]"
    console = terminal(200)
    render_summary(report, console)
    assert "failed to create: [WorkQueue, AppLogGroup] [bold]x[/]" in text_of(console)


# ------------------------------------------------------------------------------------------ colour


class _Ctx:
    """The part of a typer context make_console reads: the root's AppState."""

    def __init__(self, color: bool | None):
        self.obj = AppState(color=color)

    def find_root(self) -> "_Ctx":
        return self


def test_color_flags_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    forced = make_console(_Ctx(True))  # type: ignore[arg-type]
    assert forced.is_terminal and forced.color_system is not None
    assert make_console(_Ctx(False)).no_color  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert make_console(_Ctx(None)).no_color  # type: ignore[arg-type]


def test_control_characters_in_event_text_cannot_drive_the_terminal() -> None:
    table = StackTable("attempt 1: create s", clock=lambda: 0.0)
    table.on_event(StackEvent("1", "s", "Queue\x1b[2J", "AWS::SQS::Queue", "CREATE_FAILED",
                              "bad \x1b]0;pwned\x07 title \u202e", ""))
    report = json.loads((FIXTURES / "report-noforecast.json").read_text(encoding="utf-8"))
    report["attempts"][0]["failures"][0]["status_reason"] = "reason \x1b[31mred\x1b[0m"
    console = terminal(120)
    console.print(table)
    render_summary(report, console)
    out = console.export_text()
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "Queue\\x1b[2J" in out and "reason \\x1b[31mred" in out


# ------------------------------------------------------------------------------------------ sweep


def sweep_items() -> list:
    from datetime import timezone

    from orchestrator.aws.sweep import SweepItem

    arn = ("arn:aws:cloudformation:us-east-1:123456789012:stack/cfn-autofix-webtier-broken-20261201t2301-a1b2c3/"
           "0f1e2d3c-4b5a-6978-8899-aabbccddeeff")
    return [
        SweepItem("us-east-1", "cfn-autofix-webtier-broken-20261201t2301-a1b2c3", "20261201T230112Z-a1b2c3",
                  "CREATE_FAILED", datetime(2026, 12, 1, 23, 1, tzinfo=timezone.utc), ["tag", "journal"],
                  "would delete", f"journal entry pending; stack {arn}"),
        SweepItem("eu-west-1", "other-team-stack", None, "UPDATE_COMPLETE", None, ["journal"], "skipped",
                  "not ours to judge: the stack belongs to account 210987654321"),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_snapshot_fits_the_width_and_cuts_nothing(width: int) -> None:
    from orchestrator.cli.sweep import render_items

    console = terminal(width)
    render_items(sweep_items(), yes=False, console=console)
    out = text_of(console)
    assert max(len(line) for line in out.splitlines()) <= width
    for item in sweep_items():
        assert squeeze(item.stack_name) in squeeze(out) and squeeze(item.detail) in squeeze(out)
    check_golden(f"sweep-{width}.txt", out)


def test_sweep_in_a_pipe_is_never_hard_wrapped(capsys: pytest.CaptureFixture) -> None:
    from orchestrator.cli.sweep import render_items

    render_items(sweep_items(), yes=False, console=make_console(None))
    out = capsys.readouterr().out
    check_golden("sweep-pipe.txt", out)
    lines = out.splitlines()
    for item in sweep_items():
        assert f"  {item.detail}" in lines  # the whole ARN on one line
        assert any(line.endswith(item.stack_name) for line in lines)
    assert all(line == line.rstrip() for line in lines)

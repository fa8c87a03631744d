"""The stack journal: records before create, pending = recorded minus deleted, crash- and multi-process-safe."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from orchestrator.aws.journal import Journal


def test_pending_is_recorded_minus_deleted(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.record_stack("r1", "cfn-autofix-a-r1", "embedded", "us-east-1", "http://127.0.0.1:5000")
    journal.record_stack("r1", "cfn-autofix-b-r1", "aws", "eu-west-1")
    journal.mark_deleted("r1", "cfn-autofix-a-r1")
    pending = journal.pending()
    assert [(e.run_id, e.stack_name, e.target, e.region, e.endpoint_url) for e in pending] == [
        ("r1", "cfn-autofix-b-r1", "aws", "eu-west-1", None)
    ]
    assert pending[0].recorded_at.endswith("+00:00")


def test_a_stack_recreated_after_delete_is_pending_again(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.record_stack("r1", "s", "aws", "us-east-1")
    journal.mark_deleted("r1", "s")
    journal.record_stack("r1", "s", "aws", "us-east-1")
    assert [e.stack_name for e in journal.pending()] == ["s"]


def test_pending_survives_a_crash_with_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    Journal(path).record_stack("r1", "survivor", "aws", "us-east-1")
    # The process dies mid-write: half a record, no newline.
    with path.open("ab") as handle:
        handle.write(b'{"op":"create","run_id":"r2","stack_na')
    fresh = Journal(path)  # a new process after the crash
    assert [e.stack_name for e in fresh.pending()] == ["survivor"]
    fresh.record_stack("r3", "after-crash", "aws", "us-east-1")
    assert [e.stack_name for e in fresh.pending()] == ["survivor", "after-crash"]
    fresh.mark_deleted("r1", "survivor")
    assert [e.stack_name for e in Journal(path).pending()] == ["after-crash"]


def test_missing_journal_has_nothing_pending(tmp_path):
    assert Journal(tmp_path / "nope" / "j.jsonl").pending() == []


def test_default_path_is_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    journal = Journal()
    journal.record_stack("r", "s", "aws", "us-east-1")
    assert journal.path == tmp_path / ".cfn-autofix" / "journal.jsonl"
    assert (journal.path.stat().st_mode & 0o777) == 0o600


def _append_many(path: str, worker: int, count: int) -> None:
    journal = Journal(path)
    for n in range(count):
        journal.record_stack(f"run-{worker}", f"stack-{worker}-{n}", "aws", "us-east-1")


def _append_in_processes(path: Path, method: str, processes: int, count: int) -> None:
    context = multiprocessing.get_context(method)
    workers = [context.Process(target=_append_many, args=(str(path), w, count)) for w in range(processes)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0


def test_several_processes_append_whole_lines(tmp_path):
    path = tmp_path / "shared.jsonl"
    _append_in_processes(path, "spawn", 3, 40)
    lines = Path(path).read_text().splitlines()
    assert len(lines) == 120 and all(json.loads(line)["op"] == "create" for line in lines)
    assert len(Journal(path).pending()) == 120


def test_concurrent_appends_never_add_blank_lines(tmp_path):
    # Unlocked, the torn-line check could read the size of a line another process was still writing and start
    # a fresh line before its own record: 4-6 blank lines per 1,600 appends from 4 processes, before the lock.
    path = tmp_path / "busy.jsonl"
    _append_in_processes(path, "fork", 4, 400)
    text = path.read_text()
    assert "\n\n" not in text and not text.startswith("\n")
    assert len(text.splitlines()) == 1600

"""An append-only journal of stacks, written before each CreateStack, so a crashed run's stacks can be swept."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import structlog

from orchestrator import redact

log = structlog.get_logger(__name__)

DEFAULT_JOURNAL = Path("~/.cfn-autofix/journal.jsonl")


@dataclass(frozen=True)
class JournalEntry:
    run_id: str
    stack_name: str
    target: str
    region: str
    endpoint_url: str | None = None
    recorded_at: str = ""  # ISO 8601 UTC
    # The account the stack was created in and its StackId: a sweep judges a stack only in that account.
    account_id: str | None = None
    stack_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.run_id, self.stack_name)


class Journal:
    """JSON lines, one per record; each line is one O_APPEND write followed by fsync.

    A single write() of a line to an O_APPEND file lands whole at the end, and an append holds the file's lock
    (flock) while it checks for a torn last line, so several processes may append to the same journal; a line
    torn by a crash is skipped when reading.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path if path is not None else DEFAULT_JOURNAL).expanduser()

    def _append(self, record: dict) -> None:
        record = redact.current().value(record)
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # The torn-line check reads the file's size, which another process's append can be half-way through
            # growing (seen on a busy machine: a blank line added before a record). An exclusive lock for the
            # check and the write closes that window; a crashed holder's lock goes with its process.
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            # A crash can leave a torn last line; start on a fresh line so this record is not glued to it.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            # A new file's directory entry must reach the disk too, or the journal can vanish in a crash.
            self._fsync_dir()

    def _fsync_dir(self) -> None:
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            log.debug("journal_dir_fsync_unsupported", path=str(self.path.parent))
        finally:
            os.close(dir_fd)

    def record_stack(
        self, run_id: str, stack_name: str, target: str, region: str, endpoint_url: str | None = None,
        account_id: str | None = None,
    ) -> JournalEntry:
        """Record a stack about to be created; call BEFORE CreateStack."""
        entry = JournalEntry(run_id, stack_name, target, region, endpoint_url, _now(), account_id=account_id)
        self._append({"op": "create", **{k: v for k, v in asdict(entry).items() if k != "stack_id"}})
        return entry

    def record_stack_id(self, run_id: str, stack_name: str, stack_id: str) -> None:
        """Record the StackId CreateStack returned, so a sweep can look the stack up even once deleted."""
        self._append({"op": "stack_id", "run_id": run_id, "stack_name": stack_name, "stack_id": stack_id,
                      "recorded_at": _now()})

    def mark_deleted(self, run_id: str, stack_name: str, *, reason: str = "deleted") -> None:
        """Close a stack's entry: its deletion was confirmed, it never came to exist ("never created"), or the
        sandbox that held it was discarded ("sandbox discarded")."""
        self._append({"op": "deleted", "run_id": run_id, "stack_name": stack_name, "recorded_at": _now(),
                      "reason": reason})

    def read(self) -> list[dict]:
        """Every well-formed record, in file order."""
        if not self.path.exists():
            return []
        records = []
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    log.warning("journal_line_skipped", path=str(self.path), line=number)
                    continue
                if isinstance(record, dict) and record.get("op") in ("create", "stack_id", "deleted"):
                    records.append(record)
        return records

    def pending(self) -> list[JournalEntry]:
        """Stacks recorded and not (yet) confirmed deleted, oldest first."""
        live: dict[tuple[str, str], JournalEntry] = {}
        for record in self.read():
            key = (str(record.get("run_id")), str(record.get("stack_name")))
            if record["op"] == "create":
                if key not in live:
                    live[key] = JournalEntry(
                        run_id=key[0],
                        stack_name=key[1],
                        target=str(record.get("target", "")),
                        region=str(record.get("region", "")),
                        endpoint_url=record.get("endpoint_url"),
                        recorded_at=str(record.get("recorded_at", "")),
                        account_id=record.get("account_id") or None,
                    )
            elif record["op"] == "stack_id":
                if key in live and record.get("stack_id"):
                    live[key] = replace(live[key], stack_id=str(record["stack_id"]))
            else:
                live.pop(key, None)
        return list(live.values())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

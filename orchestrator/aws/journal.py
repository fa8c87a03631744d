"""An append-only journal of stacks, written before each CreateStack, so a crashed run's stacks can be swept."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
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

    @property
    def key(self) -> tuple[str, str]:
        return (self.run_id, self.stack_name)


class Journal:
    """JSON lines, one per record; each line is one O_APPEND write followed by fsync.

    A single write() of a line to an O_APPEND file lands whole at the end, so several processes may
    append to the same journal without locks; a line torn by a crash is skipped when reading.
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
        self, run_id: str, stack_name: str, target: str, region: str, endpoint_url: str | None = None
    ) -> JournalEntry:
        """Record a stack about to be created; call BEFORE CreateStack."""
        entry = JournalEntry(run_id, stack_name, target, region, endpoint_url, _now())
        self._append({"op": "create", **asdict(entry)})
        return entry

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
                if isinstance(record, dict) and record.get("op") in ("create", "deleted"):
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
                    )
            else:
                live.pop(key, None)
        return list(live.values())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""Reading inputs: regular files (or `-` for stdin) only, with the byte limit enforced while reading."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from orchestrator.errors import BadInput

__all__ = ["DATA_LIMIT", "STDIN", "read_input", "read_text_input"]

# Parameter files, matrices and shard results: far above any real one, far below what would hurt.
DATA_LIMIT = 64 * 1024 * 1024

STDIN = "-"
_CHUNK = 1 << 16
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _read_capped(fd: int, max_bytes: int) -> tuple[bytes, bool]:
    """Up to max_bytes bytes, and whether there was more: never more than one chunk past the limit is read."""
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)[:max_bytes], True


def read_text_input(path: str | Path, *, max_bytes: int, what: str = "file") -> str:
    """read_input decoded as UTF-8 (a leading BOM dropped); BadInput when it is not UTF-8."""
    data = read_input(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                       file="<stdin>" if str(path) == STDIN else str(path)) from None


def read_input(path: str | Path, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of an input named on the command line; BadInput (one line, exit 2) for anything else.

    Only a regular file, or "-" for stdin, is read: a FIFO would hang, /dev/zero never ends. The limit
    holds while reading, so neither a growing file nor an endless pipe is read past it.
    """
    name = str(path)
    if name == STDIN:
        data, more = _read_capped(sys.stdin.buffer.fileno(), max_bytes)
        if more:
            raise BadInput(f"{what} on stdin is over the {max_bytes:,}-byte limit (stopped reading there)",
                           file="<stdin>")
        return data
    try:
        # O_NONBLOCK: opening a FIFO without a writer must not block; it is refused just below.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInput(f"{what} not found", file=name) from None
    except IsADirectoryError:
        raise BadInput(f"is a directory, not a {what}", file=name) from None
    except PermissionError:
        raise BadInput(f"permission denied reading the {what}", file=name) from None
    except OSError as exc:
        raise BadInput(f"cannot read the {what}: {exc.strerror or exc}", file=name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"is {_kind(info.st_mode)}, not a regular file; give a file, or - for stdin", file=name)
        if info.st_size > max_bytes:
            raise BadInput(f"{what} is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit", file=name)
        try:
            data, more = _read_capped(fd, max_bytes)
        except OSError as exc:
            raise BadInput(f"cannot read the {what}: {exc.strerror or exc}", file=name) from None
        if more:
            size = os.fstat(fd).st_size
            raise BadInput(f"{what} is {size:,} bytes (it grew while being read), over the {max_bytes:,}-byte limit",
                           file=name)
        return data
    finally:
        os.close(fd)

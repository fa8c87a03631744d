"""Output paths checked before any work: never an input, never another output of the same run, never a special file."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from orchestrator.errors import BadInput

__all__ = ["check_outputs", "same_file"]

PathLike = str | os.PathLike


def _real(path: PathLike) -> str:
    return os.path.realpath(os.fspath(path))


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name one file: the same real path (symlinks resolved), or one inode (hard links)."""
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet): only the real paths could tell
        return False


def _special(path: PathLike) -> str | None:
    """What a path is when it is not a regular file an output may replace (None: fine, or absent)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"not usable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_outputs(inputs: Iterable[PathLike | None], outputs: Mapping[str, PathLike | None]) -> None:
    """Refuse (BadInput, exit 2) an output that is an input, another output, or a special file.

    `outputs` maps the option that named each path ("--report-json") to the path; None entries are skipped,
    as is the input "-" (stdin). Called before any work, so a bad path costs nothing.
    """
    sources = [Path(p) for p in inputs if p is not None and os.fspath(p) != "-"]
    seen: list[tuple[str, Path]] = []
    for option, raw in outputs.items():
        if raw is None:
            continue
        path = Path(raw)
        what = _special(path)
        if what is not None:
            raise BadInput(f"{option} is {what}, not a file an output can be written to", file=path)
        for source in sources:
            if same_file(path, source):
                raise BadInput(f"{option} would overwrite the input {source}; inputs are never modified", file=path)
        for other_option, other in seen:
            if same_file(path, other):
                raise BadInput(f"{option} and {other_option} name the same file; each output needs its own",
                               file=path)
        seen.append((option, path))

"""Signal handlers installed for the length of a block, the process's previous ones put back afterwards."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def handlers(installed: dict[int, Any]) -> Iterator[None]:
    """Install `installed` (signal -> handler) while the block runs, then restore what was there.

    Python takes handlers from the main thread only: elsewhere nothing is installed and the block just runs. An
    in-process caller (a test, an embedding tool) gets its own handlers back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in installed}
    try:
        for sig, handler in installed.items():
            signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            # getsignal() answers None for a handler not installed from Python; the default is the honest stand-in.
            signal.signal(sig, old if old is not None else signal.SIG_DFL)

"""Runs a function right after a given moto module is imported, however it is imported (a post-import hook).

moto's service packages load lazily (sandbox/lazy_models.py, or moto's own server on a service's first
request), so a seam on a service's model cannot be installed at start-up without paying that import. A hook
registered here runs once: at once when the module is already imported, otherwise right after the import
system has executed it, before any caller can use it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import types
from typing import Any, Callable

_LOCK = threading.RLock()
_PENDING: dict[str, list[Callable[[types.ModuleType], None]]] = {}


def spec_running(fullname: str, path: Any, before: Callable[[types.ModuleType], None] | None = None,
                 after: Callable[[types.ModuleType], None] | None = None) -> importlib.machinery.ModuleSpec | None:
    """The path finder's spec for a module, with `before`/`after` called around executing it (the one place
    the sandbox wraps a loader; lazy_models uses it too)."""
    spec = importlib.machinery.PathFinder.find_spec(fullname, path)
    if spec is None or spec.loader is None:
        return spec
    original_exec = spec.loader.exec_module

    def exec_module(module: types.ModuleType) -> None:
        if before is not None:
            before(module)
        original_exec(module)
        if after is not None:
            after(module)

    spec.loader.exec_module = exec_module  # type: ignore[method-assign]
    return spec


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loader of a module that has pending hooks so the hooks run after it executes."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _PENDING:
            return None
        return spec_running(fullname, path, after=lambda module: _run(fullname, module))


_FINDER = _Finder()


def _run(name: str, module: types.ModuleType) -> None:
    with _LOCK:
        hooks = _PENDING.pop(name, [])
    for hook in hooks:
        hook(module)


def when_imported(name: str, hook: Callable[[types.ModuleType], None]) -> None:
    """Call hook(module) once `name` is imported (now, if it already is)."""
    with _LOCK:
        module = sys.modules.get(name)
        if module is None:
            _PENDING.setdefault(name, []).append(hook)
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)
            return
    hook(module)

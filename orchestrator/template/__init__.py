"""Template I/O and analysis: decoding with line numbers, patching, rendering, references, the dependency graph.

The names below are the package's public surface; import them from here (`from orchestrator.template import
load_template`). The modules behind them are free to move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.template.decode import MAX_BYTES, MAX_DEPTH, SHORT_FORM_FUNCTIONS, read_data_yaml
    from orchestrator.template.files import write_atomic
    from orchestrator.template.jsonpatch import PatchError, pointer
    from orchestrator.template.load import Template, apply_patch, load_template, loads_template, unified_diff

# Resolved on first use (PEP 562): the sandbox and the graph import template.refs or template.graph
# without paying for the decoders (cfn-lint pulls in sympy).
_HOMES = {
    "MAX_BYTES": "decode", "MAX_DEPTH": "decode", "SHORT_FORM_FUNCTIONS": "decode", "read_data_yaml": "decode",
    "write_atomic": "files", "PatchError": "jsonpatch", "pointer": "jsonpatch", "Template": "load",
    "apply_patch": "load", "load_template": "load", "loads_template": "load", "unified_diff": "load",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "PatchError",
    "SHORT_FORM_FUNCTIONS",
    "Template",
    "apply_patch",
    "load_template",
    "loads_template",
    "pointer",
    "read_data_yaml",
    "unified_diff",
    "write_atomic",
]

"""Template I/O and analysis: decoding with line numbers, patching, rendering, references, the dependency graph.

The names below are the package's public surface; import them from here (`from orchestrator.template import
load_template`). The modules behind them are free to move.
"""

from orchestrator.template.decode import MAX_BYTES, MAX_DEPTH, SHORT_FORM_FUNCTIONS, read_data_yaml
from orchestrator.template.files import write_atomic
from orchestrator.template.jsonpatch import PatchError, pointer
from orchestrator.template.load import Template, apply_patch, load_template, loads_template, unified_diff

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

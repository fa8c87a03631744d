"""Template I/O and analysis: loading with line numbers, rendering, patching, references, the dependency graph."""

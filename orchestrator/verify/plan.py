"""A verify run's plan: the matrix (or a .taskcat.yml's tests) expanded into cells, linked by exports, sharded.

Light on purpose (no logging, no SDK): `verify` plans first and starts its workers' warm-up from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from orchestrator.errors import BadInput
from orchestrator.verify.matrix import Cell, Matrix, expand, load_matrix, matrix_digest, parse_matrix, select_shard


@dataclass
class VerifyPlan:
    """The whole matrix and the cells this process runs (its shard, or all of them)."""

    matrix: Matrix
    all_cells: list[Cell]
    cells: list[Cell]
    shard: tuple[int, int] | None = None

    @property
    def digest(self) -> str:
        return matrix_digest(self.all_cells)


def plan(
    templates: list[str] | None = None,
    *,
    matrix_path: str | Path | None = None,
    regions: list[str] | None = None,
    shard: tuple[int, int] | None = None,
    max_attempts: int | None = None,
    taskcat_path: str | Path | None = None,
    on_cells: Callable[[list[Cell]], None] | None = None,
) -> VerifyPlan:
    """Load the matrix (or a .taskcat.yml's tests, or a one-set matrix of the templates) and pick this shard's cells.

    Cells come in export -> import order; a cell importing another template's exports deploys it first.
    `on_cells` is told this shard's cells as soon as the matrix is expanded, before the templates are read
    (verify starts its workers' warm-up there, so that it overlaps the rest of the planning).
    """
    if taskcat_path is not None:
        from orchestrator.verify.taskcat import load_taskcat

        matrix, all_cells = load_taskcat(taskcat_path)
        if regions:
            all_cells = [c for c in all_cells if c.region in regions]
    else:
        if matrix_path is not None:
            matrix = load_matrix(matrix_path)
        elif templates:
            matrix = parse_matrix({}, base_dir=Path.cwd())
        else:
            raise BadInput("verify needs templates, --matrix FILE or --from-taskcat FILE")
        all_cells = expand(matrix, templates or None, regions)
    if on_cells is not None and all_cells:
        on_cells(select_shard(all_cells, *shard) if shard else all_cells)
    # Imported only now (networkx, the template tools): the warm-up started above does not wait for them.
    from orchestrator.template import load_template
    from orchestrator.verify.exports import link_cells

    all_cells = link_cells(all_cells, load_template)
    if max_attempts is not None:
        # The command line wins over the matrix and its per-template overrides.
        all_cells = [replace(cell, max_attempts=max_attempts) for cell in all_cells]
    if not all_cells:
        raise BadInput("the matrix has no cell (every region skipped?)", file=matrix_path)
    cells = select_shard(all_cells, *shard) if shard else all_cells
    return VerifyPlan(matrix=matrix, all_cells=all_cells, cells=cells, shard=shard)

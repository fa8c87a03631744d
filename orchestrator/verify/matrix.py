"""The verification matrix: TOML parsing, expansion into cells, and deterministic sharding."""

from __future__ import annotations

import glob
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import check_region
from orchestrator.errors import BadInput
from orchestrator.inputs import DATA_LIMIT, read_text_input

DEFAULT_REGION = "us-east-1"
DEFAULT_PARAMETER_SET = "default"
_TOP_KEYS = {"templates", "regions", "parameter_sets", "max_attempts", "strategy", "forecast"}
_OVERRIDE_KEYS = {"parameters", "max_attempts", "skip_regions"}
_STRATEGIES = {"keep", "recreate"}


@dataclass(frozen=True)
class ParameterSet:
    name: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Overrides:
    """Per-template settings; several matching globs merge in file order (later keys win)."""

    parameters: dict[str, str] = field(default_factory=dict)
    max_attempts: int | None = None
    skip_regions: list[str] = field(default_factory=list)

    def merged(self, other: Overrides) -> Overrides:
        return Overrides(
            parameters={**self.parameters, **other.parameters},
            max_attempts=other.max_attempts if other.max_attempts is not None else self.max_attempts,
            skip_regions=self.skip_regions + [r for r in other.skip_regions if r not in self.skip_regions],
        )


@dataclass(frozen=True)
class Cell:
    """One unit of verification: a template deployed in a region with one parameter set."""

    template: Path
    label: str  # the template as shown in reports: relative to the matrix file, posix separators
    region: str
    parameter_set: str
    parameters: dict[str, str]
    # None: the configuration's [deploy] value applies.
    max_attempts: int | None = None
    strategy: str | None = None
    forecast: bool | None = None

    @property
    def id(self) -> str:
        return cell_id(self.label, self.region, self.parameter_set)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "template": self.label,
            "template_path": str(self.template),
            "region": self.region,
            "parameter_set": self.parameter_set,
            "parameters": dict(self.parameters),
            "max_attempts": self.max_attempts,
        }


def cell_id(label: str, region: str, parameter_set: str) -> str:
    return f"{label}|{region}|{parameter_set}"


@dataclass
class Matrix:
    path: Path | None
    base_dir: Path
    templates: list[str]  # globs, in file order
    regions: list[str]
    parameter_sets: list[ParameterSet]
    overrides: dict[str, Overrides]  # glob -> overrides, in file order
    # None: the configuration's [deploy] value applies.
    max_attempts: int | None = None
    strategy: str | None = None
    forecast: bool | None = None


def _bad(path: Path | None, key: str, what: str) -> BadInput:
    return BadInput(f"key '{key}': {what}", file=path)


def _str_list(value: Any, path: Path | None, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(path, key, "expected a list of non-empty strings")
    return list(value)


def _regions(value: Any, path: Path | None, key: str) -> list[str]:
    regions = _str_list(value, path, key)
    for region in regions:
        try:
            check_region(region)
        except BadInput as exc:
            raise _bad(path, key, str(exc)) from None
    return list(dict.fromkeys(regions))


def _parameters(value: Any, path: Path | None, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad(path, key, "expected a table of parameter name = value")
    out: dict[str, str] = {}
    for name, raw in value.items():
        # CloudFormation parameters are strings on the wire; lists become CommaDelimitedList values.
        if isinstance(raw, bool):
            out[name] = "true" if raw else "false"
        elif isinstance(raw, (str, int, float)):
            out[name] = str(raw)
        elif isinstance(raw, list) and all(isinstance(v, (str, int, float)) for v in raw):
            out[name] = ",".join(str(v) for v in raw)
        else:
            raise _bad(path, f"{key}.{name}", "expected a string, number, boolean or list of them")
    return out


def _positive_int(value: Any, path: Path | None, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(path, key, "expected a positive integer")
    return value


def _overrides(value: Any, path: Path | None, key: str) -> Overrides:
    if not isinstance(value, dict):
        raise _bad(path, key, "expected a table")
    unknown = sorted(set(value) - _OVERRIDE_KEYS)
    if unknown:
        raise _bad(path, f"{key}.{unknown[0]}", f"unknown key (expected one of {', '.join(sorted(_OVERRIDE_KEYS))})")
    return Overrides(
        parameters=_parameters(value.get("parameters", {}), path, f"{key}.parameters"),
        max_attempts=(
            _positive_int(value["max_attempts"], path, f"{key}.max_attempts") if "max_attempts" in value else None
        ),
        skip_regions=_regions(value.get("skip_regions", []), path, f"{key}.skip_regions"),
    )


def parse_matrix(data: dict[str, Any], *, path: Path | None = None, base_dir: Path | None = None) -> Matrix:
    """Validate a decoded matrix document; every problem names the file and the key."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _bad(path, unknown[0], f"unknown key (expected one of {', '.join(sorted(_TOP_KEYS))})")
    templates: list[str] = []
    overrides: dict[str, Overrides] = {}
    raw_templates = data.get("templates", [])
    # Two spellings: a plain list of globs, or a table keyed by glob whose entries may carry overrides.
    if isinstance(raw_templates, dict):
        for pattern, entry in raw_templates.items():
            key = f'templates."{pattern}"'
            if not isinstance(entry, dict):
                raise _bad(path, key, "expected a table (optionally with an 'overrides' table)")
            extra = sorted(set(entry) - {"overrides"})
            if extra:
                raise _bad(path, f"{key}.{extra[0]}", "unknown key (expected 'overrides')")
            templates.append(pattern)
            if "overrides" in entry:
                overrides[pattern] = _overrides(entry["overrides"], path, f"{key}.overrides")
    else:
        templates = _str_list(raw_templates, path, "templates") if raw_templates != [] else []

    regions = _regions(data.get("regions", [DEFAULT_REGION]), path, "regions")
    if not regions:
        raise _bad(path, "regions", "lists no region")

    sets: list[ParameterSet] = []
    raw_sets = data.get("parameter_sets", [])
    if not isinstance(raw_sets, list):
        raise _bad(path, "parameter_sets", "expected an array of tables ([[parameter_sets]])")
    for index, entry in enumerate(raw_sets):
        key = f"parameter_sets[{index}]"
        if not isinstance(entry, dict):
            raise _bad(path, key, "expected a table with 'name' and 'values'")
        extra = sorted(set(entry) - {"name", "values"})
        if extra:
            raise _bad(path, f"{key}.{extra[0]}", "unknown key (expected 'name', 'values')")
        name = entry.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name or ""):
            raise _bad(path, f"{key}.name", "expected a name of letters, digits, '-', '_' or '.'")
        if any(s.name == name for s in sets):
            raise _bad(path, f"{key}.name", f"duplicate parameter set '{name}'")
        sets.append(ParameterSet(name, _parameters(entry.get("values", {}), path, f"{key}.values")))
    if not sets:
        sets = [ParameterSet(DEFAULT_PARAMETER_SET, {})]

    strategy = data.get("strategy")
    if strategy is not None and strategy not in _STRATEGIES:
        raise _bad(path, "strategy", f"expected one of {', '.join(sorted(_STRATEGIES))}")
    forecast = data.get("forecast")
    if forecast is not None and not isinstance(forecast, bool):
        raise _bad(path, "forecast", "expected true or false")
    return Matrix(
        path=path,
        base_dir=base_dir or (path.parent if path else Path.cwd()),
        templates=templates,
        regions=regions,
        parameter_sets=sets,
        overrides=overrides,
        max_attempts=_positive_int(data["max_attempts"], path, "max_attempts") if "max_attempts" in data else None,
        strategy=strategy,
        forecast=forecast,
    )


def load_matrix(path: str | Path) -> Matrix:
    path = Path(path)
    text = read_text_input(path, max_bytes=DATA_LIMIT, what="matrix file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        raise BadInput(f"not valid TOML: {exc}", file=path, line=line) from None
    return parse_matrix(data, path=path, base_dir=path.parent)


def _toml_error_line(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _label(path: Path, base_dir: Path) -> str:
    try:
        return path.resolve().relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _matches(label: str, pattern: str) -> bool:
    # Same semantics as the expansion: "**" crosses directories, "*" does not.
    return _glob_regex(pattern).fullmatch(label) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def resolve_templates(matrix: Matrix, cli_templates: list[str] | None = None) -> list[tuple[Path, str]]:
    """The matrix's template files as (path, label), deduplicated, sorted by label.

    Templates named on the command line replace the matrix's list; the matrix's overrides still apply.
    """
    found: dict[str, Path] = {}
    if cli_templates:
        for raw in cli_templates:
            path = Path(raw)
            if not path.is_file():
                raise BadInput("template file not found", file=path)
            found.setdefault(_label(path, matrix.base_dir), path)
    else:
        if not matrix.templates:
            raise _bad(matrix.path, "templates", "lists no template (name templates on the command line or in the matrix)")
        for pattern in matrix.templates:
            full = pattern if Path(pattern).is_absolute() else str(matrix.base_dir / pattern)
            hits = sorted(p for p in glob.glob(full, recursive=True) if Path(p).is_file())
            if not hits:
                raise _bad(matrix.path, f'templates."{pattern}"', "matches no file")
            for hit in hits:
                path = Path(hit)
                found.setdefault(_label(path, matrix.base_dir), path)
    return sorted(((path, label) for label, path in found.items()), key=lambda item: item[1])


def overrides_for(matrix: Matrix, label: str) -> Overrides:
    merged = Overrides()
    for pattern, over in matrix.overrides.items():
        if _matches(label, pattern):
            merged = merged.merged(over)
    return merged


def expand(matrix: Matrix, cli_templates: list[str] | None = None, regions: list[str] | None = None) -> list[Cell]:
    """Every cell of the matrix (template x region x parameter set minus skip_regions), sorted by id."""
    use_regions = _regions(regions, None, "--regions") if regions else matrix.regions
    cells: list[Cell] = []
    for path, label in resolve_templates(matrix, cli_templates):
        over = overrides_for(matrix, label)
        for region in use_regions:
            if region in over.skip_regions:
                continue
            for pset in matrix.parameter_sets:
                cells.append(
                    Cell(
                        template=path,
                        label=label,
                        region=region,
                        parameter_set=pset.name,
                        # The template's own overrides are more specific than a matrix-wide set.
                        parameters={**pset.values, **over.parameters},
                        max_attempts=over.max_attempts or matrix.max_attempts,
                        strategy=matrix.strategy,
                        forecast=matrix.forecast,
                    )
                )
    return sorted(cells, key=lambda c: c.id)


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' with 1 <= K <= N -> (K, N)."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not found:
        raise BadInput(f"--shard '{text}': expected K/N, e.g. 2/4")
    k, n = int(found.group(1)), int(found.group(2))
    if n < 1 or not 1 <= k <= n:
        raise BadInput(f"--shard '{text}': K must be between 1 and N")
    return k, n


def shard_of(cell_identifier: str, count: int) -> int:
    """The 1-based shard a cell id belongs to; sha256, so every machine and Python process agrees."""
    digest = hashlib.sha256(cell_identifier.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(cells: list[Cell], k: int, n: int) -> list[Cell]:
    return [cell for cell in cells if shard_of(cell.id, n) == k]


def matrix_digest(cells: list[Cell]) -> str:
    """Identifies the full matrix so that shard results from different matrices are never merged."""
    return hashlib.sha256("\n".join(sorted(c.id for c in cells)).encode("utf-8")).hexdigest()[:16]

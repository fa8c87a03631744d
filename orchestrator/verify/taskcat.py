"""`verify --from-taskcat FILE`: the tests of a .taskcat.yml as verify cells (template x region, one parameter set per test).

taskcat's format: `project` (name, regions, parameters, template) and `tests` (name -> template,
parameters, regions); a test inherits the project's regions, parameters and template. Parameter values
keep their `$[taskcat_*]` tokens, which every deploy resolves (orchestrator/deploy/values.py); the two
that only the file knows, `$[taskcat_project_name]` and `$[taskcat_test_name]`, are filled in here.
Settings that have no meaning for a sandbox run (auth, s3_bucket, package_lambda, ...) are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from orchestrator.deploy.values import AUTO
from orchestrator.errors import BadInput
from orchestrator.verify.matrix import Cell, Matrix, parse_matrix

log = structlog.get_logger(__name__)

_USED = {"name", "regions", "parameters", "template"}
OVERRIDE = "--override--"


def _value(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return ",".join(_value(item) for item in raw)
    return "" if raw is None else str(raw)


def _section(data: Any, path: Path, key: str) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"'{key}' must be a mapping", file=path)
    return data


def load_taskcat(path: str | Path) -> tuple[Matrix, list[Cell]]:
    """The matrix (for reports) and the cells of a .taskcat.yml; problems name the file and the key."""
    from orchestrator.template import read_data_yaml

    path = Path(path)
    data = read_data_yaml(path)
    if not isinstance(data, dict):
        raise BadInput("expected a mapping with 'project' and 'tests'", file=path)
    project = _section(data.get("project"), path, "project")
    tests = _section(data.get("tests"), path, "tests")
    if not tests:
        raise BadInput("the file declares no tests", file=path)
    ignored = sorted(set(project) - _USED)
    if ignored:
        log.info("taskcat_settings_ignored", keys=ignored)
    base = path.parent
    project_name = str(project.get("name") or base.resolve().name)
    project_params = _section(project.get("parameters"), path, "project.parameters")
    cells: list[Cell] = []
    regions_seen: list[str] = []
    for test_name, test in tests.items():
        test = _section(test, path, f"tests.{test_name}")
        template = test.get("template") or project.get("template")
        if not isinstance(template, str) or not template:
            raise BadInput(f"key 'tests.{test_name}.template': no template (and no project.template)", file=path)
        regions = test.get("regions") or project.get("regions") or ["us-east-1"]
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise BadInput(f"key 'tests.{test_name}.regions': expected a list of region names", file=path)
        raw = {**project_params, **_section(test.get("parameters"), path, f"tests.{test_name}.parameters")}
        parameters = {
            str(k): _value(v).replace("$[taskcat_project_name]", project_name).replace("$[taskcat_test_name]", str(test_name))
            for k, v in raw.items()
        }
        # taskcat's placeholder for "supplied by the overrides file": on a sandbox a fixture supplies it.
        parameters = {k: (AUTO if v == OVERRIDE else v) for k, v in parameters.items()}
        template_path = (base / template).resolve()
        if not template_path.is_file():
            raise BadInput(f"key 'tests.{test_name}.template': {template} does not exist", file=path)
        label = Path(template).as_posix()
        for region in regions:
            regions_seen.append(region)
            cells.append(Cell(template=template_path, label=label, region=region, parameter_set=str(test_name),
                              parameters=parameters))
    matrix = parse_matrix({"regions": list(dict.fromkeys(regions_seen))}, path=path, base_dir=base)
    return matrix, cells

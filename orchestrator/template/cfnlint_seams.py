"""The cfn-lint internals this tool relies on, checked once at start-up so an incompatible cfn-lint fails loudly.

Like the moto seam table (orchestrator/sandbox/patches.py): we use cfn-lint's YAML decoder classes, its
rule runner and its bundled data, none of which is a public API. pyproject.toml pins cfn-lint compatibly
(CFN_LINT_REQUIREMENT); this check names exactly what is missing when another version is installed.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from importlib import import_module
from pathlib import Path

from orchestrator.errors import AutofixError

CFN_LINT_REQUIREMENT = "cfn-lint~=1.58"
MIN_VERSION = (1, 58)  # ~=1.58: 1.58 or later, below 2

# (module, dotted attribute) pairs the decoder, the lint guard and the privilege tables use.
SEAMS: tuple[tuple[str, str], ...] = (
    ("cfnlint.decode.cfn_yaml", "CfnFullLoader"),
    ("cfnlint.decode.cfn_yaml", "NodeConstructor.flatten_mapping"),
    ("cfnlint.decode.cfn_yaml", "multi_constructor"),
    ("cfnlint.decode.cfn_yaml", "CfnParseError"),
    ("cfnlint.decode.cfn_yaml", "NodeConstructor.construct_yaml_map"),
    ("cfnlint.decode.node", "str_node"),
    ("cfnlint.decode.node", "dict_node"),
    ("cfnlint.decode.decode", "decode_str"),
    ("cfnlint.runner", "run_template_by_data"),
    ("cfnlint.config", "ConfigMixIn"),
    ("cfnlint.runner", "Runner"),
)
# Data files read straight from cfn-lint's package folder (data_path), never through an import of cfn-lint.
DATA_FILES: tuple[tuple[str, str], ...] = (
    ("cfnlint.data.AdditionalSpecs", "Policies.json"),  # iam/privilege.py
    ("cfnlint.data.AdditionalSpecs", "LmbdRuntimeLifecycle.json"),  # template/lambda_runtimes.py
    ("cfnlint.data.schemas.providers", "us-east-1.json"),  # template/names.py: type -> registry schema
    ("cfnlint.data.schemas.providers", "sam.json"),
    # template/rds_offerings.py: engines, versions (current and deprecated) and instance classes RDS offers.
    ("cfnlint.data.schemas.extensions.aws_rds_dbinstance", "engine_version.json"),
    ("cfnlint.data.schemas.extensions.aws_rds_dbinstance", "engine_version_deprecated.json"),
    ("cfnlint.data.schemas.extensions.aws_rds_dbinstance", "db_instance_class.json"),
    ("cfnlint.data.schemas.extensions.aws_rds_dbcluster", "engine_version.json"),
    ("cfnlint.data.schemas.extensions.aws_rds_dbcluster", "engine_version_deprecated.json"),
)


@cache
def package_dir() -> Path:
    """cfn-lint's installed package folder, found without importing cfn-lint.

    Importing any part of cfn-lint runs its package __init__, which loads all of it (rules, templates, sympy:
    about a second of CPU). Reading its bundled data needs none of that, so the commands that only read
    data (forecast of a JSON template, graph, playbooks) never pay for it.
    """
    found = importlib.util.find_spec("cfnlint")
    if found is None or not found.submodule_search_locations:
        raise CfnLintSeamError(f"cfn-lint is not installed (install {CFN_LINT_REQUIREMENT})")
    return Path(next(iter(found.submodule_search_locations)))


def data_path(*parts: str) -> Path:
    """A file of cfn-lint's bundled data (cfnlint/data/...), found without importing cfn-lint."""
    return package_dir().joinpath("data", *parts)


class CfnLintSeamError(AutofixError):
    """The installed cfn-lint lacks an internal this tool uses (one stderr line from the CLI, exit 1)."""


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def problems() -> list[str]:
    """What is wrong with the installed cfn-lint, empty when nothing is."""
    found: list[str] = []
    try:
        version = import_module("cfnlint.version").__version__
    except (ImportError, AttributeError):
        return ["cfn-lint is not installed (or has no cfnlint.version)"]
    installed = _version_tuple(version)
    if not (MIN_VERSION <= installed < (MIN_VERSION[0] + 1,)):
        found.append(f"cfn-lint {version} installed, the tool is built against {CFN_LINT_REQUIREMENT}")
    for module_name, dotted in SEAMS:
        try:
            owner: object = import_module(module_name)
        except ImportError as exc:
            found.append(f"{module_name} cannot be imported ({exc})")
            continue
        for part in dotted.split("."):
            owner = getattr(owner, part, None)
            if owner is None:
                found.append(f"{module_name}.{dotted} is missing")
                break
    for package, name in DATA_FILES:
        try:
            present = data_path(*package.split(".")[2:], name).is_file()
        except CfnLintSeamError:
            present = False
        if not present:
            found.append(f"{package}/{name} is missing")
    return found


@cache
def check_seams() -> None:
    """Raise CfnLintSeamError naming every missing internal; runs once per process."""
    found = problems()
    if found:
        raise CfnLintSeamError("incompatible cfn-lint: " + "; ".join(found) + f" (install {CFN_LINT_REQUIREMENT})")

"""The layout's rules, read from the source with ast: imports flow one way (docs/architecture.md), only the AWS
package imports boto3, only the template package decodes YAML, and no module or signature grows past its limit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The rank of every package: a module may import its own package and packages of a LOWER rank only, so
# siblings of one rank never import each other (repairs never run detectors; catalog, remedy and aws are
# independent). The longest matching prefix decides.
RANKS = {
    "orchestrator": 0,  # errors, model, config, options, logs
    "orchestrator.template": 1,
    "orchestrator.iam": 1,
    "orchestrator.detectors": 2,
    "orchestrator.repairs": 2,
    "orchestrator.sandbox": 2,
    "orchestrator.catalog": 3,
    "orchestrator.remedy": 3,
    "orchestrator.aws": 3,
    "orchestrator.forecast": 4,
    "orchestrator.deploy": 5,
    "orchestrator.verify": 6,
    "orchestrator.cli": 7,
}
# The package's own facade (lazy deploy_with_autofix) and `python -m orchestrator` sit above everything.
ENTRY_MODULES = {"orchestrator", "orchestrator.__main__"}

# Third-party imports confined to one place. cfn-lint: its decoder only in the template package, its rule
# runner only in the lint guard. moto: the sandbox, and the managed-policy catalog moto ships (iam.policy).
CONFINED = {
    "boto3": ("orchestrator.aws",),
    # The sandbox's bootstrap shares the region lists moto's import-time scans ask botocore for (a seam on
    # moto's own use of botocore, like the moto seams; it never makes an AWS call).
    "botocore": ("orchestrator.aws", "orchestrator.sandbox.bootstrap"),
    "yaml": ("orchestrator.template",),
    "ruamel": ("orchestrator.template",),
    "cfnlint": ("orchestrator.template", "orchestrator.remedy.lint_guard"),
    "moto": ("orchestrator.sandbox", "orchestrator.iam.policy"),
}

MAX_LINES = 500
MAX_PARAMETERS = 8


def _sources() -> dict[str, Path]:
    """Module name -> file, for the orchestrator package and the folders installed into it."""
    found: dict[str, Path] = {}
    for folder, package in ((ROOT / "orchestrator", "orchestrator"), (ROOT / "repairs", "orchestrator.repairs")):
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


SOURCES = _sources()


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every module `module` imports (at the top or inside functions), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((name, node.lineno))
            # `from orchestrator import detectors` imports a subpackage: judge the subpackage.
            out += [(f"{name}.{alias.name}", node.lineno) for alias in node.names
                    if f"{name}.{alias.name}" in SOURCES]
    return out


def _package(module: str) -> str:
    matches = [prefix for prefix in RANKS if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=len)


def _rank(module: str) -> int:
    return RANKS[_package(module)]


def test_every_package_has_a_rank():
    for module in SOURCES:
        assert _package(module), module


def test_imports_flow_one_way():
    upward = []
    for module, path in SOURCES.items():
        if module in ENTRY_MODULES:
            continue
        for name, line in _imports(module, path):
            if not name.startswith("orchestrator") or name in ("orchestrator",):
                continue
            if name == "orchestrator.__init__" or _package(name) == _package(module):
                continue
            if _rank(name) >= _rank(module):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {name}")
    assert upward == [], "imports against the layering:\n" + "\n".join(upward)


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_third_party_imports_stay_in_their_package(library):
    allowed = CONFINED[library]
    stray = []
    for module, path in SOURCES.items():
        for name, line in _imports(module, path):
            if name == library or name.startswith(library + "."):
                if not any(module == a or module.startswith(a + ".") for a in allowed):
                    stray.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert stray == [], f"{library} imported outside {', '.join(allowed)}:\n" + "\n".join(stray)


def test_the_sandbox_server_and_the_moto_patches_do_not_import_each_other():
    patches = {name for name, _ in _imports("orchestrator.sandbox.patches", SOURCES["orchestrator.sandbox.patches"])}
    assert "orchestrator.sandbox.server" not in patches


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rule itself can fail: a template module importing the deploy loop is reported."""
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from orchestrator.deploy.loop import deploy_with_autofix\n")
    names = [name for name, _ in _imports("orchestrator.template.fake", fake)]
    assert any(_rank(n) >= _rank("orchestrator.template.fake") for n in names if n.startswith("orchestrator."))


def test_no_module_over_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for p in SOURCES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _parameter_count(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    count = len(names) + (1 if a.vararg else 0) + (1 if a.kwarg else 0)
    if names and names[0].arg in ("self", "cls"):
        count -= 1
    return count


def _is_cli_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A typer command's parameters are its command-line options (one per flag), not a keyword list."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in ("command", "callback"):
            return True
    return False


def test_no_function_takes_more_than_eight_parameters():
    wide = []
    for module, path in SOURCES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _is_cli_command(node):
                if _parameter_count(node) > MAX_PARAMETERS:
                    wide.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {_parameter_count(node)}")
    assert wide == [], "functions with more than 8 parameters (pass an options object):\n" + "\n".join(wide)


def test_every_module_starts_with_a_docstring():
    missing = [str(p.relative_to(ROOT)) for p in SOURCES.values()
               if p.read_text().strip() and ast.get_docstring(ast.parse(p.read_text())) is None]
    assert missing == []

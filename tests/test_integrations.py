"""The ecosystem's habits, run for real on a temporary git repository: the pre-commit hook and the GitHub Action."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "deploy"
BIN = Path(sys.executable).parent


def git_repo(path: Path, files: dict[str, Path]) -> Path:
    path.mkdir()
    for name, source in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path / name)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "init", "-q"], cwd=path, check=True, env=env)
    return path


def tool_env(tmp_path: Path) -> dict[str, str]:
    # The installed cfn-autofix first on PATH; pre-commit's cache inside the test's folder.
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}


# ------------------------------------------------------------------------------------------ pre-commit


def local_config(hooks_file: Path, files: str) -> str:
    """Our .pre-commit-hooks.yaml as a local repository: the same entry and options, run with the
    cfn-autofix this test suite has installed instead of a fresh virtualenv pip-installed from PyPI.
    `files` narrows the hook to the templates, as the hooks file tells users to (any YAML would match)."""
    hooks = yaml.safe_load(hooks_file.read_text(encoding="utf-8"))
    local = [{**hook, "language": "system", "files": files} for hook in hooks]
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": local}]}, sort_keys=False)


def pre_commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return subprocess.run([str(BIN / "pre-commit"), "run", "--all-files", "--color", "never"], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=600)


def test_pre_commit_hook_fails_a_broken_template_and_passes_a_correct_one(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["cfn-autofix-forecast"]
    assert hooks[0]["entry"] == "cfn-autofix forecast" and hooks[0]["language"] == "python"
    repo = git_repo(tmp_path / "repo", {"templates/route.yaml": FIXTURES / "igw-route.yaml",
                                        "templates/ok.yaml": FIXTURES / "correct.yaml",
                                        "README.md": ROOT / "README.md"})
    (repo / ".pre-commit-config.yaml").write_text(local_config(ROOT / ".pre-commit-hooks.yaml", r"^templates/.*\.ya?ml$"))
    env = tool_env(tmp_path)

    failed = pre_commit(repo, env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "cfn-autofix forecast" in failed.stdout and "Failed" in failed.stdout
    assert re.search(r"templates/route\.yaml:\d+: missing-depends-on: DefaultRoute", failed.stdout), failed.stdout
    assert "templates/ok.yaml: no known failure forecast" in failed.stdout

    shutil.copyfile(FIXTURES / "correct.yaml", repo / "templates" / "route.yaml")
    passed = pre_commit(repo, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


# ------------------------------------------------------------------------------------------ GitHub Action

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _outputs(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _value(expression: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    if expression.startswith("inputs."):
        return inputs[expression[len("inputs."):]]
    match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
    if match:
        return outputs.get(match[1], {}).get(match[2], "")
    raise AssertionError(f"expression the test runner does not know: {expression}")


def _runs(condition: str | None, inputs: dict[str, str]) -> bool:
    """The `if:` forms action.yml uses on its shell steps."""
    if condition is None:
        return True
    match = re.fullmatch(r"inputs\.([\w-]+) != '([^']*)'", condition.strip())
    assert match, f"condition the test runner does not know: {condition}"
    return inputs[match[1]] != match[2]


def run_action(action: dict, inputs: dict[str, str], workdir: Path, env: dict[str, str]) -> dict:
    """Run the action's shell steps as the runner would (bash, env, GITHUB_OUTPUT per step); `uses` steps
    (setup-python, upload-sarif, upload-artifact) are GitHub's own and are listed, not run."""
    outputs: dict[str, dict[str, str]] = {}
    summary = workdir / "step-summary.md"
    ran, listed, last = [], [], None
    for number, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            listed.append(step["uses"])
            continue
        if not _runs(step.get("if"), inputs):
            continue
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs reach scripts through env only"
        output_file = workdir / f"output-{number}"
        output_file.write_text("")
        step_env = {**env, "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_ACTION_PATH": str(ROOT)}
        for key, raw in (step.get("env") or {}).items():
            step_env[key] = _EXPR.sub(lambda m: _value(m[1], inputs, outputs), str(raw))
        last = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workdir, env=step_env, capture_output=True,
                              text=True, timeout=900)
        ran.append((step.get("name", step.get("id")), last.returncode, last.stdout + last.stderr))
        if "id" in step:
            outputs[step["id"]] = _outputs(output_file)
        if last.returncode != 0:
            break
    return {"ran": ran, "listed": listed, "outputs": outputs, "summary": summary, "code": last.returncode if last else None}


@pytest.fixture(scope="module")
def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_action_metadata_is_a_composite_with_documented_inputs(action: dict) -> None:
    assert action["runs"]["using"] == "composite"
    assert all(spec.get("description") for spec in action["inputs"].values())
    uses = [step["uses"].split("@")[0] for step in action["runs"]["steps"] if "uses" in step]
    assert uses == ["actions/setup-python", "github/codeql-action/upload-sarif", "actions/upload-artifact"]
    upload = next(s for s in action["runs"]["steps"] if s.get("uses", "").startswith("github/codeql-action"))
    assert upload["with"]["sarif_file"] == "${{ steps.forecast.outputs.sarif }}"


def test_action_forecasts_to_sarif_and_verifies_to_junit(action: dict, tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"templates/route.yaml": FIXTURES / "igw-route.yaml"})
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(templates="templates/route.yaml", regions="us-east-1", install="none")
    result = run_action(action, inputs, repo, tool_env(tmp_path))
    names = [name for name, _, _ in result["ran"]]
    assert names == ["Forecast (SARIF)", "Verify", "Result"], result["ran"]
    assert result["code"] == 0, result["ran"]

    sarif = json.loads((repo / inputs["sarif"]).read_text())
    rules = {r["ruleId"] for run in sarif["runs"] for r in run["results"]}
    assert rules == {"missing-depends-on"}
    assert result["outputs"]["forecast"]["sarif"] == inputs["sarif"]

    junit = ET.parse(repo / inputs["junit"]).getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == 1 and not junit.findall(".//failure") and not junit.findall(".//error")
    assert result["outputs"]["verify"]["exit-code"] == "0"
    assert "route.yaml" in result["summary"].read_text()


def test_action_fails_when_asked_to_fail_on_a_repair(action: dict, tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", {"templates/route.yaml": FIXTURES / "igw-route.yaml"})
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(templates="templates/route.yaml", regions="us-east-1", install="none",
                  **{"fail-on-repair": "true"})
    result = run_action(action, inputs, repo, tool_env(tmp_path))
    assert result["outputs"]["verify"]["exit-code"] == "1"
    assert result["ran"][-1][0] == "Result" and result["code"] == 1

"""Packaging: the wheel installs one top-level package, and files in the user's working directory shadow nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the sources: building writes build/ and egg-info, never into the working tree.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("orchestrator", "repairs", "playbooks", "config"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    # --no-build-isolation: the build backend comes with the test extra; the suite never needs the network.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    (found,) = out.glob("cfn_autofix-*.whl")
    return found


def test_the_wheel_installs_exactly_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"orchestrator"}
    dist_info = next(n for n in names if n.endswith(".dist-info/top_level.txt")) if any(
        n.endswith("top_level.txt") for n in names) else None
    if dist_info:
        assert zipfile.ZipFile(wheel).read(dist_info).decode().split() == ["orchestrator"]


def test_the_wheel_carries_repairs_playbooks_config_and_data_under_orchestrator(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "orchestrator/repairs/base.py" in names
    assert "orchestrator/playbooks/transient.yaml" in names
    assert "orchestrator/playbooks/index.json" in names  # without it every start parses the playbooks' YAML
    assert "orchestrator/defaults/default.toml" in names
    assert "orchestrator/data/dependson_cases.json" in names
    assert "orchestrator/data/sandbox_self_test.json" in names
    assert not any(n.startswith(("repairs/", "playbooks/", "config/")) for n in names)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_config_module_and_a_repairs_folder_in_the_working_directory_change_nothing(tmp_path):
    (tmp_path / "config.py").write_text("raise SystemExit('the user config.py was imported')\n")
    (tmp_path / "repairs").mkdir()
    (tmp_path / "repairs" / "__init__.py").write_text("raise SystemExit('the user repairs/ was imported')\n")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "__init__.py").write_text("raise SystemExit('the user playbooks/ was imported')\n")
    clean = tmp_path.parent / f"{tmp_path.name}-clean"
    clean.mkdir()

    for args in (["--help"], ["playbooks", "--format", "json"]):
        shadowed, reference = _run(args, tmp_path), _run(args, clean)
        assert shadowed.returncode == 0, shadowed.stderr
        assert shadowed.stdout == reference.stdout
        assert "was imported" not in shadowed.stderr + shadowed.stdout
    assert '"id": "transient"' in _run(["playbooks", "--format", "json"], tmp_path).stdout

"""The cfn-lint seam check: every internal we use exists on the pinned version, and a missing one is named."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from orchestrator.template import cfnlint_seams

ROOT = Path(__file__).resolve().parents[1]


def test_installed_cfn_lint_has_every_seam():
    assert cfnlint_seams.problems() == []
    cfnlint_seams.check_seams()


def test_pyproject_pins_the_version_the_seams_were_checked_against():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert cfnlint_seams.CFN_LINT_REQUIREMENT in dependencies
    pinned = re.search(r"^cfn-lint==(\S+)$", (ROOT / "constraints.txt").read_text(), flags=re.M)
    assert pinned, "constraints.txt pins cfn-lint"
    major, minor = (int(x) for x in pinned.group(1).split(".")[:2])
    assert cfnlint_seams.MIN_VERSION <= (major, minor) < (cfnlint_seams.MIN_VERSION[0] + 1,)


def test_a_missing_internal_is_named(monkeypatch):
    from cfnlint.decode import cfn_yaml

    monkeypatch.delattr(cfn_yaml, "multi_constructor")
    found = cfnlint_seams.problems()
    assert found == ["cfnlint.decode.cfn_yaml.multi_constructor is missing"]


def test_another_major_version_is_refused(monkeypatch):
    import cfnlint.version

    monkeypatch.setattr(cfnlint.version, "__version__", "2.0.1")
    with pytest.raises(cfnlint_seams.CfnLintSeamError, match=r"cfn-lint 2\.0\.1 installed.*cfn-lint~=1\.58"):
        cfnlint_seams.check_seams.__wrapped__()

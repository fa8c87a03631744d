"""The packaged managed-policy catalog is exactly moto's (the sandbox's), so forecast and sandbox agree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from gen_managed_policies import TARGET, moto_catalog, render  # noqa: E402

from orchestrator.iam.policy import managed_policy, managed_policy_catalog  # noqa: E402


def test_packaged_catalog_equals_motos() -> None:
    theirs = moto_catalog()
    assert managed_policy_catalog() == theirs, "run tools/gen_managed_policies.py after a moto upgrade"


def test_packaged_file_is_the_generator_output() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(json.loads(TARGET.read_text(encoding="utf-8")))


def test_catalog_knows_the_codedeploy_policy_at_its_service_role_path() -> None:
    assert managed_policy("arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole") is not None
    assert managed_policy("arn:aws:iam::aws:policy/AWSCodeDeployRole") is None


def test_the_catalog_parses_each_policy_on_first_use_and_equals_the_whole_file() -> None:
    from orchestrator.iam.policy import _Catalog, _entries

    text = TARGET.read_text(encoding="utf-8")
    raw = _entries(text)
    assert raw is not None, "the packaged file is one policy a line: the lazy catalog must be the one in use"
    catalog = _Catalog(raw)
    assert "AWSCodeDeployRole" in catalog and "NoSuchPolicy" not in catalog and catalog.get("NoSuchPolicy") is None
    assert catalog["AWSCodeDeployRole"]["Path"] == "/service-role/"
    assert len(catalog._parsed) == 1  # only what was asked for
    assert dict(catalog.items()) == json.loads(text)
    # Any other form of the file (hand-edited, pretty-printed) is not split into lines but parsed whole.
    assert _entries(json.dumps(json.loads(text), indent=2)) is None

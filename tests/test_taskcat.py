"""`verify --from-taskcat FILE`: a .taskcat.yml's tests become verify cells, and its $[taskcat_*] values work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import BadInput
from orchestrator.verify.taskcat import load_taskcat

PROJECT = Path(__file__).parent / "fixtures" / "taskcat"


def test_tests_become_cells_with_inherited_regions_template_and_parameters() -> None:
    matrix, cells = load_taskcat(PROJECT / ".taskcat.yml")
    assert [(c.parameter_set, c.region) for c in cells] == [("defaults", "us-east-1"), ("defaults", "eu-west-1"), ("secured", "us-east-1")]
    assert matrix.regions == ["us-east-1", "eu-west-1"]
    assert {c.label for c in cells} == {"templates/queue.template.yaml"}
    assert all(c.template == (PROJECT / "templates" / "queue.template.yaml").resolve() for c in cells)
    defaults, secured = cells[0].parameters, cells[2].parameters
    # The project's name and the test's name are filled in here; the rest stays for the deploy to resolve.
    assert defaults["QueueName"] == "queue-project-defaults-$[taskcat_random-string]"
    assert secured["QueueName"] == "queue-project-secured-$[taskcat_random-string]"
    assert defaults["ArtifactBucket"] == "$[taskcat_autobucket]"
    assert secured == {**secured, "Retention": "1209600", "Fifo": "false", "Tags": "a,b", "Password": "$[taskcat_genpass_16S]"}


@pytest.mark.parametrize("text, message", [
    ("project: {name: x}\n", "declares no tests"),
    ("tests:\n  t: {parameters: {}}\n", "key 'tests.t.template': no template"),
    ("tests:\n  t: {template: nowhere.yaml}\n", "nowhere.yaml does not exist"),
    ("tests:\n  t: {template: templates/queue.template.yaml, regions: us-east-1}\n", "expected a list of region names"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_files_are_one_line_bad_input(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "queue.template.yaml").write_text((PROJECT / "templates" / "queue.template.yaml").read_text())
    path = tmp_path / ".taskcat.yml"
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        load_taskcat(path)


def test_verify_from_taskcat_runs_the_tests_on_the_sandbox(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--log-json", "verify", "--from-taskcat", str(PROJECT / ".taskcat.yml"),
                                      "--regions", "us-east-1", "--workers", "1", "--out-dir", str(tmp_path / "out"),
                                      "--report-json", str(tmp_path / "verify.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "verify.json").read_text())
    cells = {c["parameter_set"]: c for c in run["cells"]}
    assert sorted(cells) == ["defaults", "secured"]
    for name, cell in cells.items():
        report = cell["report"]
        assert report["status"] == "succeeded", report["stop_reason"]
        generated = {g["parameter"]: g["value"] for g in report["generated_values"]}
        assert generated["QueueName"].startswith(f"queue-project-{name}-") and len(generated["QueueName"]) == len(f"queue-project-{name}-") + 20
        assert generated["ArtifactBucket"].startswith("cfn-autofix-templates-")
        assert generated["Zones"] == "us-east-1a,us-east-1b"
    assert {g["parameter"]: g["value"] for g in cells["secured"]["report"]["generated_values"]}["Password"] == "****"
    assert "$[" not in json.dumps(run).replace("$[taskcat_", "")  # only the expressions keep their tokens


PUBLIC = Path(__file__).parent / "fixtures" / "taskcat-public" / "quickstart-aws-vpc"


def test_a_public_quickstart_taskcat_file_runs_unchanged(tmp_path: Path) -> None:
    """aws-quickstart/quickstart-aws-vpc's own .taskcat.yml (SOURCE.md): seven tests with $[taskcat_getaz_N]."""
    result = CliRunner().invoke(app, ["--log-json", "verify", "--from-taskcat", str(PUBLIC / ".taskcat.yml"),
                                      "--regions", "us-east-1", "--workers", "1", "--out-dir", str(tmp_path / "out"),
                                      "--report-json", str(tmp_path / "verify.json")], catch_exceptions=False)
    run = json.loads((tmp_path / "verify.json").read_text())
    cells = {c["parameter_set"]: c["report"] for c in run["cells"]}
    assert sorted(cells) == sorted(["vpc-complete-all-possible-regions", "vpc-defaults-all-possible-regions",
                                    "vpc-public-all-possible-regions", "vpc-private-all-possible-regions",
                                    "3az-complete-all-possible-regions", "4az-complete-all-possible-regions",
                                    "4az-public-all-possible-regions"])
    for name, report in cells.items():
        assert report["status"] == "succeeded", (name, report["stop_reason"])
        zones = {g["parameter"]: g["value"] for g in report["generated_values"]}["AvailabilityZones"].split(",")
        wanted = 4 if name.startswith("4az") else 3 if name.startswith("3az") else 2
        assert len(zones) == len(set(zones)) == wanted and all(z.startswith("us-east-1") for z in zones)
    assert result.exit_code == 0, result.output
    assert (PUBLIC / ".taskcat.yml").read_bytes().startswith(b"project:\n  name: quickstart-aws-vpc")  # unchanged input

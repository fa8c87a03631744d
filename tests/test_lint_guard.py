"""The cfn-lint guard: repairs that add cfn-lint errors are rejected and never applied."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.errors import RepairRejected
from orchestrator.forecast.run import forecast_and_fix
from orchestrator.remedy.lint_guard import check_repair, guard, lint_errors
from orchestrator.model import PatchOp, RepairPlan
from orchestrator.catalog.playbooks import load_playbooks
from orchestrator.template import apply_patch, load_template, loads_template
from orchestrator.repairs.base import Repair, RepairRegistry

FIXTURES = Path(__file__).parent / "fixtures" / "forecast"

BUCKET = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: "2010-09-09"
    Resources:
      Bucket:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: my-bucket-name
    """
)


def test_a_clean_change_passes():
    before = loads_template(BUCKET, fmt="yaml")
    after = apply_patch(before, [PatchOp("add", "/Resources/Bucket/Properties/Tags", [{"Key": "a", "Value": "b"}])])
    assert check_repair(before, after, "us-east-1") == []
    guard(before, after, "us-east-1")


def test_a_new_error_is_reported_with_its_line():
    before = loads_template(BUCKET, fmt="yaml")
    after = apply_patch(before, [PatchOp("add", "/Resources/Bucket/Properties/NoSuchProperty", True)])
    errors = check_repair(before, after, "us-east-1")
    assert len(errors) == 1
    assert errors[0].startswith("line 7: E3002 ")
    assert "NoSuchProperty" in errors[0]
    with pytest.raises(RepairRejected, match="NoSuchProperty"):
        guard(before, after, "us-east-1", repair="bad-repair")


def test_errors_the_original_already_had_are_not_blamed_on_the_repair():
    broken = BUCKET + "      Bogus: 1\n"
    before = loads_template(broken, fmt="yaml")
    assert [e.rule for e in lint_errors(before)] == ["E3002"]
    after = apply_patch(before, [PatchOp("add", "/Resources/Other", {"Type": "AWS::SNS::Topic"})])
    assert check_repair(before, after, "us-east-1") == []


class _BadRepair(Repair):
    """Deliberately wrong: sets DependsOn to a resource that does not exist (cfn-lint E3005)."""

    id = "add-depends-on"

    def plan(self, template, graph, failures, params):
        ops = [PatchOp("add", f"/Resources/{f.logical_id}/DependsOn", "NoSuchResource") for f in failures]
        return RepairPlan(repair=self.id, operations=ops, rationale="deliberately bad", resources=[f.logical_id for f in failures])


def test_forecast_and_fix_rejects_a_repair_that_lint_refuses():
    tpl = load_template(FIXTURES / "broken-network.yaml")
    registry = RepairRegistry()
    registry.register(_BadRepair())
    books = [b for b in load_playbooks() if b.repair == "add-depends-on"]
    result = forecast_and_fix(tpl, playbooks=books, registry=registry)
    fixed, findings, plans, rejected = result.template, result.findings, result.plans, result.rejected
    assert findings and plans == []
    assert fixed is tpl  # nothing applied
    assert [r["repair"] for r in rejected] == ["add-depends-on"]
    assert all("E3005" in line and "NoSuchResource" in line for line in rejected[0]["errors"])
    assert len(rejected[0]["errors"]) == len({f.logical_id for f in findings if f.fixable})


def _many_buckets(count: int) -> str:
    lines = ['AWSTemplateFormatVersion: "2010-09-09"', "Resources:"]
    for index in range(count):
        lines += [f"  Bucket{index}:", "    Type: AWS::S3::Bucket"]
    lines += ["  Reader:", "    Type: AWS::SNS::Topic", "    Properties:", "      TopicName: !GetAtt Bucket3.Arn"]
    return "\n".join(lines) + "\n"


def test_a_big_template_is_linted_around_the_change_with_the_template_lines():
    from orchestrator.remedy import lint_guard

    before = loads_template(_many_buckets(40) + "      Bogus: 1\n", fmt="yaml")
    after = apply_patch(before, [PatchOp("add", "/Resources/Bucket7/Properties", {"NoSuchProperty": True})])
    assert lint_guard._focus(before, after) is not None, "a one-resource change is linted as a neighbourhood"
    errors = check_repair(before, after, "us-east-1")
    assert len(errors) == 1 and "NoSuchProperty" in errors[0], "the old error elsewhere is not blamed"
    assert errors[0].startswith(f"line {after.line_of(['Resources', 'Bucket7', 'Properties', 'NoSuchProperty'])}: ")


def test_a_change_that_breaks_an_untouched_referrer_is_caught():
    before = loads_template(_many_buckets(40), fmt="yaml")
    # The untouched Reader still reads Bucket3.Arn: its new error lies outside the change and must be found.
    after = apply_patch(before, [PatchOp("remove", "/Resources/Bucket3")])
    errors = check_repair(before, after, "us-east-1")
    assert errors and all("Bucket3" in line for line in errors), errors


def test_a_dependson_into_the_rest_of_a_big_template_is_judged_with_its_target():
    before = loads_template(_many_buckets(40), fmt="yaml")
    good = apply_patch(before, [PatchOp("add", "/Resources/Bucket7/DependsOn", "Bucket30")])
    assert check_repair(before, good, "us-east-1") == [], "the DependsOn target is linted with the change"
    bad = apply_patch(before, [PatchOp("add", "/Resources/Bucket7/DependsOn", "NoSuchResource")])
    assert any("E3005" in line for line in check_repair(before, bad, "us-east-1"))


def test_one_rule_set_serves_every_lint_and_region(monkeypatch):
    # Loading cfn-lint's rules costs seconds: lints of new texts in several regions load them at most once.
    import cfnlint.runner.cli as cli

    from orchestrator.remedy import lint_guard

    built = []
    original = cli.Runner.__init__
    monkeypatch.setattr(cli.Runner, "__init__", lambda self, config: (built.append(config), original(self, config))[1])
    lint_guard._runner.cache_clear()
    bad = loads_template(BUCKET + "      Bogus: 1\n", fmt="yaml")
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        assert [e.rule for e in lint_guard.lint_errors(bad, region)] == ["E3002"]
    assert len(built) == 1


@pytest.mark.parametrize(("change", "why"), [
    ([PatchOp("add", "/Outputs", {"Name": {"Value": {"Ref": "Bucket1"}}})], "a section besides Resources changed"),
    ([PatchOp("add", "/Resources/Bucket1/Properties", {"BucketName": "x-y"}),
      *[PatchOp("add", f"/Resources/Bucket{i}/Properties", {"BucketName": f"b-{i}"}) for i in range(2, 30)]],
     "most resources changed: the cut would save nothing"),
    ([], "nothing changed"),
])
def test_the_whole_template_is_linted_when_a_cut_would_not_be_faithful(change, why):
    from orchestrator.remedy import lint_guard

    before = loads_template(_many_buckets(40), fmt="yaml")
    after = apply_patch(before, change)
    assert lint_guard._focus(before, after) is None, why
    assert check_repair(before, after, "us-east-1") == []


def test_a_cfn_lint_crash_is_one_stable_error_that_does_not_block_a_repair(monkeypatch):
    import cfnlint.runner

    from orchestrator.remedy import lint_guard

    def crash(*_args, **_kwargs):
        raise TypeError("string indices must be integers")

    lint_guard._lint_text.cache_clear()
    monkeypatch.setattr(cfnlint.runner, "run_template_by_data", crash)
    before = loads_template(BUCKET, fmt="yaml")
    after = apply_patch(before, [PatchOp("add", "/Resources/Bucket/Properties/Tags", [{"Key": "a", "Value": "b"}])])
    try:
        errors = lint_errors(after)
        assert [(e.rule, e.message) for e in errors] == [("E0000", "cfn-lint could not check the template (TypeError)")]
        # The same crash before and after the repair is nothing new.
        assert check_repair(before, after, "us-east-1") == []
    finally:
        lint_guard._lint_text.cache_clear()

"""The corpus bench's grading: stand-ins make a green hollow; resources a false Condition skips do not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "bench" / "bench_corpus.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_corpus", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GREEN = {"expected": {"outcome": "green"}, "prerequisites": [], "parameters": {}}


@pytest.mark.parametrize(("modeled", "stand_in", "skipped", "verdict"), [
    (8, 0, 60, "substantive green"),   # wordpress-01: 60 resources of unused zones skipped by their conditions
    (9, 1, 0, "substantive green"),    # exactly 10% stand-ins
    (8, 1, 0, "hollow green"),         # 1 of 9 built is a stand-in
    (0, 0, 12, "hollow green"),        # nothing built at all
    (0, 130, 0, "hollow green"),
])
def test_skipped_by_condition_is_not_a_stand_in(bench, modeled, stand_in, skipped, verdict):
    measured = {"status": "succeeded", "modeled": modeled, "stand_in": stand_in, "skipped": skipped}
    assert bench.verdict(GREEN, measured) == verdict


def test_totals_report_the_skipped_resources(bench):
    rows = [{"verdict": "substantive green", "expected": {"outcome": "green"},
             "measured": {"skipped": 60, "seconds": 1.0, "http_5xx": 0}},
            {"verdict": "hollow green", "expected": {"outcome": "green"},
             "measured": {"skipped": None, "seconds": 2.0, "http_5xx": 0}}]
    totals = bench.totals(rows)
    assert totals["skipped_by_condition"] == 60 and totals["substantive green"] == 1 and totals["hollow green"] == 1


FAILS = {"expected": {"outcome": "failure", "class": "lambda-runtime-deprecated"}, "prerequisites": [], "parameters": {}}


@pytest.mark.parametrize(("classes", "verdict"), [
    (["lambda-runtime-deprecated"], "expected failure"),  # the sandbox refused as AWS does; the tool repaired it
    ([], "unexpected green"),                             # nothing refused: the sandbox lacks AWS's rule
    (["unknown"], "unexpected green"),
])
def test_a_green_after_repairing_the_recorded_failure_is_that_failure(bench, classes, verdict):
    measured = {"status": "succeeded", "modeled": 7, "stand_in": 0, "skipped": 0, "failure_classes": classes}
    assert bench.verdict(FAILS, measured) == verdict


def test_a_green_the_forecast_repaired_before_deploying_did_not_test_the_sandbox(bench):
    measured = {"status": "succeeded", "modeled": 7, "stand_in": 0, "skipped": 0, "failure_classes": [],
                "forecast_classes": ["lambda-runtime-deprecated"]}
    assert bench.verdict(FAILS, measured) == "repaired by forecast"
    assert "repaired by forecast" in bench.totals([{"verdict": "repaired by forecast", "expected": FAILS["expected"],
                                                    "measured": measured}])

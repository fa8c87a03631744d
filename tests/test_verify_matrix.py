"""The verification matrix: TOML parsing, errors naming file and key, expansion, overrides and sharding."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import BadInput
from orchestrator.verify.matrix import (
    Cell,
    expand,
    load_matrix,
    matrix_digest,
    parse_shard,
    select_shard,
    shard_of,
)

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
MATRIX = FIXTURES / "matrix.toml"


def test_fixture_matrix_expands_to_cells_sorted_by_id():
    cells = expand(load_matrix(MATRIX))
    ids = [c.id for c in cells]
    assert ids == sorted(ids)
    # 2 yaml templates x 2 regions x 2 sets + the legacy json in us-east-1 only x 2 sets
    assert len(cells) == 10
    assert {c.label for c in cells} == {"templates/bucket.yaml", "templates/queue.yaml", "templates/legacy/deployer.json"}


def test_overrides_apply_to_matching_templates_only():
    cells = expand(load_matrix(MATRIX))
    legacy = [c for c in cells if c.label == "templates/legacy/deployer.json"]
    assert {c.region for c in legacy} == {"us-east-1"}
    assert all(c.max_attempts == 2 for c in legacy)
    assert all(c.parameters["InstanceType"] == "t3.micro" for c in legacy)
    bucket_prod = next(c for c in cells if c.id == "templates/bucket.yaml|eu-west-1|prod")
    assert bucket_prod.max_attempts == 4
    assert bucket_prod.parameters == {"Env": "prod", "Unused": "3"}


def test_template_override_parameters_win_over_the_parameter_set(tmp_path):
    (tmp_path / "a.yaml").write_text("Resources: {}\n")
    (tmp_path / "m.toml").write_text(
        '[[parameter_sets]]\nname = "x"\nvalues = { Size = "big", Env = "dev" }\n'
        '[templates."a.yaml".overrides]\nparameters = { Size = "small" }\n'
    )
    (cell,) = expand(load_matrix(tmp_path / "m.toml"))
    assert cell.parameters == {"Size": "small", "Env": "dev"}
    assert cell.region == "us-east-1" and cell.parameter_set == "x"


def test_templates_as_a_plain_list_and_cli_regions(tmp_path):
    (tmp_path / "t").mkdir()
    for name in ("b.yaml", "a.json"):
        (tmp_path / "t" / name).write_text("Resources: {}\n")
    (tmp_path / "m.toml").write_text('templates = ["t/*"]\n')
    cells = expand(load_matrix(tmp_path / "m.toml"), regions=["eu-west-1", "ap-southeast-1"])
    assert [c.id for c in cells] == [
        "t/a.json|ap-southeast-1|default",
        "t/a.json|eu-west-1|default",
        "t/b.yaml|ap-southeast-1|default",
        "t/b.yaml|eu-west-1|default",
    ]


def test_cli_templates_replace_the_matrix_list_but_keep_overrides():
    legacy = str(FIXTURES / "templates" / "legacy" / "deployer.json")
    cells = expand(load_matrix(MATRIX), [legacy])
    assert {c.label for c in cells} == {"templates/legacy/deployer.json"}
    assert all(c.max_attempts == 2 and c.region == "us-east-1" for c in cells)


@pytest.mark.parametrize(
    "case,text,expected",
    [
        ("unknown-top-key", "regionz = []\n", "key 'regionz': unknown key"),
        ("regions-not-list", "regions = 3\n", "key 'regions': expected a list"),
        ("bad-region", 'regions = ["mars-1"]\n', "'mars-1' is not an AWS region name"),
        ("set-without-name", '[[parameter_sets]]\nvalues = {}\n', "key 'parameter_sets[0].name'"),
        (
            "duplicate-set",
            '[[parameter_sets]]\nname = "a"\n[[parameter_sets]]\nname = "a"\n',
            "duplicate parameter set 'a'",
        ),
        ("bad-value", '[[parameter_sets]]\nname = "a"\nvalues = { X = { y = 1 } }\n', "key 'parameter_sets[0].values.X'"),
        (
            "unknown-override",
            '[templates."*.yaml".overrides]\nretries = 3\n',
            "key 'templates.\"*.yaml\".overrides.retries': unknown key",
        ),
        ("bad-max-attempts", '[templates."*.yaml".overrides]\nmax_attempts = 0\n', "overrides.max_attempts': expected a positive"),
        ("no-match", '[templates."nothing/*.yaml"]\n', "key 'templates.\"nothing/*.yaml\"': matches no file"),
        ("bad-toml", "regions = [\n", "not valid TOML"),
        ("bad-strategy", 'strategy = "yolo"\n', "key 'strategy'"),
    ],
)
def test_bad_matrix_names_file_and_key(tmp_path, case, text, expected):
    (tmp_path / "x.yaml").write_text("Resources: {}\n")
    path = tmp_path / "matrix.toml"
    path.write_text(text)
    with pytest.raises(BadInput) as err:
        expand(load_matrix(path))
    assert expected in err.value.one_line()
    assert err.value.one_line().startswith(str(path))
    assert "\n" not in err.value.one_line()


def test_missing_matrix_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="matrix file not found"):
        load_matrix(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "case,text,expected",
    [("first", "1/4", (1, 4)), ("last", "4/4", (4, 4)), ("spaces", " 2 / 3 ", (2, 3)), ("single", "1/1", (1, 1))],
)
def test_parse_shard(case, text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("case,text", [("zero-k", "0/4"), ("k-above-n", "5/4"), ("no-slash", "2"), ("zero-n", "0/0")])
def test_parse_shard_rejects(case, text):
    with pytest.raises(BadInput, match="--shard"):
        parse_shard(text)


def test_shard_assignment_is_stable_across_processes():
    # sha256-based: these values never change between Python processes or machines.
    assert shard_of("templates/bucket.yaml|us-east-1|dev", 4) == shard_of("templates/bucket.yaml|us-east-1|dev", 4)
    import os
    import subprocess
    import sys

    code = "from orchestrator.verify.matrix import shard_of; print(shard_of('templates/bucket.yaml|us-east-1|dev', 7))"
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert runs == {f"{shard_of('templates/bucket.yaml|us-east-1|dev', 7)}\n"}


def _cells(ids: list[tuple[str, str, str]]) -> list[Cell]:
    return [Cell(Path(t), t, r, p, {}, 3) for t, r, p in ids]


_names = st.text(alphabet="abcxyz/-._", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.tuples(_names, st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"]), _names), unique=True, max_size=40),
    count=st.integers(min_value=1, max_value=9),
)
def test_shards_partition_the_matrix_exactly_once(ids, count):
    cells = _cells(ids)
    shards = [select_shard(cells, k, count) for k in range(1, count + 1)]
    seen = [c.id for shard in shards for c in shard]
    assert sorted(seen) == sorted(c.id for c in cells)
    assert len(seen) == len(set(seen))


def test_shards_spread_a_realistic_matrix():
    cells = _cells([(f"t/{i}.yaml", r, "default") for i in range(40) for r in ("us-east-1", "eu-west-1")])
    sizes = [len(select_shard(cells, k, 4)) for k in range(1, 5)]
    assert sum(sizes) == 80 and min(sizes) >= 10


def test_matrix_digest_depends_on_the_cells_not_their_order():
    cells = expand(load_matrix(MATRIX))
    assert matrix_digest(cells) == matrix_digest(list(reversed(cells)))
    assert matrix_digest(cells) != matrix_digest(cells[1:])

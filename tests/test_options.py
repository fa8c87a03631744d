"""RunOptions: built once from Config plus overrides; one-way CLI flags now override the configuration both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.config import load_config
from orchestrator.errors import BadInput
from orchestrator.options import RunOptions

FLAGS = ("forecast", "keep_stack", "allow_widening")


def _config(tmp_path: Path, value: bool):
    path = tmp_path / "cfn-autofix.toml"
    path.write_text("[deploy]\n" + "".join(f"{name} = {str(value).lower()}\n" for name in FLAGS))
    return path, load_config(config_file=path, env={})


@pytest.mark.parametrize("configured", [True, False])
def test_overrides_win_both_ways_and_none_keeps_the_configuration(tmp_path, configured):
    _, cfg = _config(tmp_path, configured)
    kept = RunOptions.build(cfg, **{name: None for name in FLAGS})
    assert [getattr(kept, name) for name in FLAGS] == [configured] * 3
    flipped = RunOptions.build(cfg, **{name: not configured for name in FLAGS})
    assert [getattr(flipped, name) for name in FLAGS] == [not configured] * 3


def test_unknown_option_and_bad_values_are_refused(tmp_path):
    _, cfg = _config(tmp_path, True)
    with pytest.raises(TypeError, match="unknown run option 'colour'"):
        RunOptions.build(cfg, colour="red")
    with pytest.raises(BadInput, match="unknown strategy"):
        RunOptions.build(cfg, strategy="yolo")
    with pytest.raises(BadInput, match="max attempts"):
        RunOptions.build(cfg, max_attempts=0)


@pytest.mark.parametrize(
    "configured, flags, expected",
    [
        (True, ["--no-forecast", "--no-keep-stack", "--no-allow-widening"], False),
        (False, ["--forecast", "--keep-stack", "--allow-widening"], True),
        (True, [], True),
        (False, [], False),
    ],
)
def test_cli_flags_override_a_config_file_either_way(tmp_path, monkeypatch, configured, flags, expected):
    """Unit test of the flag wiring only (the deploy itself is stubbed); end-to-end deploys are in test_deploy."""
    import orchestrator.deploy.loop as loop

    path, _ = _config(tmp_path, configured)
    template = tmp_path / "t.yaml"
    template.write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    seen: list[RunOptions] = []

    class Done(Exception):
        pass

    def fake_deploy(template, *, options=None, config=None, **overrides):
        seen.append(options)
        raise Done

    monkeypatch.setattr(loop, "deploy_with_autofix", fake_deploy)
    result = CliRunner().invoke(app, ["--config", str(path), "deploy", str(template), *flags])
    assert isinstance(result.exception, Done), result.output
    (options,) = seen
    assert [getattr(options, name) for name in FLAGS] == [expected] * 3

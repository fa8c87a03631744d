"""Configuration layering (default < project file < env < CLI) and key/type checking."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields

import pytest

from orchestrator.config import Config, default_config_path, load_config
from orchestrator.errors import ConfigError


def test_defaults_match_the_documented_default_file():
    config = load_config(project_dir=None, env={})
    assert config.deploy.region == "us-east-1" and config.deploy.target == "embedded"
    assert config.deploy.max_attempts == 5 and config.deploy.strategy == "keep"
    assert config.deploy.forecast is True and config.deploy.keep_stack is False
    assert config.deploy.stack_prefix == "cfa-" and config.deploy.managed_policy_strategy == "inline"
    assert config.deploy.allow_widening is False
    assert (config.aws.profile, config.aws.role_arn, config.aws.allowed_accounts) == ("", "", [])
    assert (config.watch.poll_min_s, config.watch.poll_max_s) == (0.2, 5.0)
    assert (config.retry.max_attempts, config.retry.max_wait_s) == (8, 60.0)
    assert (config.sandbox.race_probability, config.sandbox.seed) == (1.0, 0)
    assert config.run.journal == "~/.cfn-autofix/journal.jsonl"
    assert config.playbooks.extra_dirs == [] and config.verify.workers == 4
    assert (config.log.json, config.log.level) == (False, "info")
    assert set(config.sources.values()) == {"default"}


def test_every_key_in_the_default_file_is_documented_and_matches_the_dataclasses():
    text = default_config_path().read_text()
    data = tomllib.loads(text)
    sections = {f.name for f in fields(Config) if f.name != "sources"}
    assert set(data) == sections
    lines = text.splitlines()
    for section, values in data.items():
        assert set(values) == {f.name for f in fields(getattr(Config(), section))}
        for key in values:
            index = next(i for i, line in enumerate(lines) if re.match(rf"{key}\s*=", line))
            assert lines[index - 1].startswith("#"), f"{section}.{key} has no comment"


def test_precedence_default_project_env_cli(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.cfn-autofix.deploy]\nregion = "eu-west-1"\nmax_attempts = 3\nstack_prefix = "pp-"\n'
    )
    (tmp_path / "cfn-autofix.toml").write_text('[deploy]\nregion = "eu-west-2"\nmax_attempts = 4\n')
    env = {"CFN_AUTOFIX_DEPLOY_MAX_ATTEMPTS": "6", "CFN_AUTOFIX_AWS_ALLOWED_ACCOUNTS": "111111111111, 222222222222",
           "CFN_AUTOFIX_DEPLOY_FORECAST": "false", "CFN_AUTOFIX_SANDBOX_RACE_PROBABILITY": "0.5", "HOME": "/x"}
    config = load_config({"deploy.region": "ap-southeast-1", "deploy.keep_stack": None}, tmp_path, env=env)
    assert config.deploy.region == "ap-southeast-1"
    assert config.deploy.max_attempts == 6
    assert config.deploy.stack_prefix == "pp-"
    assert config.deploy.forecast is False
    assert config.deploy.keep_stack is False  # None overrides are "not given"
    assert config.aws.allowed_accounts == ["111111111111", "222222222222"]
    assert config.sandbox.race_probability == 0.5
    assert config.sources["deploy.region"] == "command line"
    assert config.sources["deploy.max_attempts"] == "environment CFN_AUTOFIX_DEPLOY_MAX_ATTEMPTS"
    assert config.sources["deploy.stack_prefix"].endswith("pyproject.toml [tool.cfn-autofix]")


def test_project_variables_with_the_prefix_are_not_config_keys(tmp_path):
    # The corpus/mirror/golden switches share the prefix; with them set every command must still start,
    # while a misspelt key is still an error.
    env = {"CFN_AUTOFIX_CORPUS": "/corpus", "CFN_AUTOFIX_MIRRORS": "/mirrors", "CFN_AUTOFIX_UPDATE_GOLDEN": "1",
           "CFN_AUTOFIX_DEPLOY_MAX_ATTEMPTS": "4"}
    config = load_config(None, tmp_path, env=env)
    assert config.deploy.max_attempts == 4
    assert not any("CORPUS" in source or "MIRRORS" in source for source in config.sources.values())
    with pytest.raises(ConfigError, match="unknown config key 'corpu.'"):
        load_config(None, tmp_path, env={"CFN_AUTOFIX_CORPU": "/corpus"})


def test_explicit_config_file_replaces_project_lookup(tmp_path):
    (tmp_path / "cfn-autofix.toml").write_text('[deploy]\nregion = "eu-west-2"\n')
    other = tmp_path / "ci.toml"
    other.write_text('[verify]\nworkers = 8\n[retry]\nmax_wait_s = 5\n')
    config = load_config(project_dir=tmp_path, config_file=other, env={})
    assert config.deploy.region == "us-east-1"
    assert config.verify.workers == 8 and config.retry.max_wait_s == 5.0
    assert isinstance(config.retry.max_wait_s, float)


def test_nested_cli_overrides():
    config = load_config({"log": {"json": True, "level": "debug"}}, env={})
    assert (config.log.json, config.log.level) == (True, "debug")
    assert config.get("log.level") == "debug"
    assert config.to_dict()["log"] == {"json": True, "level": "debug"}


@pytest.mark.parametrize(
    "case_id, file_text, env, cli, needle",
    [
        ("unknown-key", "[deploy]\nregoin = 'x'\n", {}, None, "unknown config key 'deploy.regoin' ("),
        ("unknown-section", "[deplo]\nregion = 'x'\n", {}, None, "unknown config section [deplo] ("),
        ("wrong-type-int", "[deploy]\nmax_attempts = '5'\n", {}, None, "'deploy.max_attempts' must be an integer"),
        ("wrong-type-bool", "[deploy]\nforecast = 1\n", {}, None, "'deploy.forecast' must be true or false"),
        ("wrong-type-list", "[aws]\nallowed_accounts = '111111111111'\n", {}, None, "must be a list of strings"),
        ("bad-choice", "[deploy]\ntarget = 'cloud'\n", {}, None, "must be one of embedded, aws, endpoint"),
        ("out-of-range", "[sandbox]\nrace_probability = 2.0\n", {}, None, "must be between 0.0 and 1.0"),
        ("bad-account", "[aws]\nallowed_accounts = ['abc']\n", {}, None, "not a 12-digit account id"),
        ("invalid-toml", "[deploy\nregion = 'x'\n", {}, None, "invalid TOML"),
        ("env-unknown-key", "", {"CFN_AUTOFIX_DEPLOY_REGOIN": "x"}, None,
         "unknown config key 'deploy.regoin' (environment CFN_AUTOFIX_DEPLOY_REGOIN)"),
        ("env-bad-value", "", {"CFN_AUTOFIX_VERIFY_WORKERS": "four"}, None,
         "'verify.workers' must be an integer, not 'four' (environment CFN_AUTOFIX_VERIFY_WORKERS)"),
        ("cli-bad-type", "", {}, {"deploy.max_attempts": "x"}, "'deploy.max_attempts' must be an integer, not 'x' (command line)"),
        ("cli-unknown", "", {}, {"deploy.nope": 1}, "unknown config key 'deploy.nope' (command line)"),
        ("endpoint-without-url", "[deploy]\ntarget = 'endpoint'\n", {}, None, "'deploy.endpoint_url' is required"),
    ],
)
def test_bad_config_raises_config_error_naming_key_and_source(case_id, file_text, env, cli, needle, tmp_path):
    project = tmp_path / "cfn-autofix.toml"
    project.write_text(file_text)
    with pytest.raises(ConfigError) as info:
        load_config(cli, tmp_path, env=env)
    text = str(info.value)
    assert needle in text
    if file_text and not env and not cli and case_id != "endpoint-without-url":
        assert str(project) in text
    assert info.value.exit_code == 2


def test_invalid_toml_reports_the_line(tmp_path):
    (tmp_path / "cfn-autofix.toml").write_text("[deploy]\nregion = 'x'\nmax_attempts = = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(project_dir=tmp_path, env={})
    assert info.value.line == 3


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(config_file=tmp_path / "nope.toml", env={})


def test_the_projects_own_tooling_variables_are_not_config_keys(tmp_path):
    # The brief has everyone export CFN_AUTOFIX_CORPUS before running tests; the tool must still start.
    env = {"CFN_AUTOFIX_CORPUS": "/somewhere", "CFN_AUTOFIX_UPDATE_GOLDEN": "1", "CFN_AUTOFIX_MIRRORS": "/m",
           "CFN_AUTOFIX_DEPLOY_MAX_ATTEMPTS": "3"}
    assert load_config(None, tmp_path, env=env).deploy.max_attempts == 3
    with pytest.raises(ConfigError, match="unknown config key 'corpus.x'"):
        load_config(None, tmp_path, env={"CFN_AUTOFIX_CORPUS_X": "1"})

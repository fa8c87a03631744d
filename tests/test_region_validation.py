"""One region check for every command: a bad name is exit 2 with one line before any work; target refusals precede the forecast."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.forecast import run as forecast_module
from orchestrator import sandbox as sandbox_package
from orchestrator.aws import targets
from orchestrator.cli import app
from orchestrator.config import check_region, load_config
from orchestrator.errors import BadInput
from orchestrator.deploy.loop import deploy_with_autofix

FIXTURES = Path(__file__).parent / "fixtures" / "deploy"
CORRECT = FIXTURES / "correct.yaml"
MANAGED_POLICY = FIXTURES / "managed-policy.yaml"
LINE = "cfn-autofix: error: 'mars-1' is not an AWS region name (like us-east-1)"


def stderr_lines(result) -> list[str]:
    """stderr without structlog's JSON lines."""
    return [line for line in result.stderr.splitlines() if line and not line.startswith("{")]


@pytest.fixture
def no_work(monkeypatch, tmp_path):
    """Any sandbox start, target opening, forecast or server fails the test: a refusal must come first."""
    def forbidden(what):
        def fail(*args, **kwargs):
            raise AssertionError(f"{what} ran before the refusal")
        return fail

    monkeypatch.setattr(sandbox_package.Sandbox, "start", forbidden("a sandbox start"))
    monkeypatch.setattr(sandbox_package, "serve", forbidden("the sandbox server"))
    monkeypatch.setattr(forecast_module, "forecast", forbidden("the forecast"))
    monkeypatch.setattr(forecast_module, "forecast_and_fix", forbidden("the forecast"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfn-autofix.toml").write_text(f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    return tmp_path


@pytest.mark.parametrize("args", [
    ["deploy", str(CORRECT), "--region", "mars-1"],
    ["deploy", str(CORRECT), "-r", "mars-1", "--target", "aws"],
    ["forecast", str(MANAGED_POLICY), "--region", "mars-1"],
    ["forecast", str(MANAGED_POLICY), "--region", "mars-1", "--fix"],
    ["verify", str(CORRECT), "--regions", "us-east-1,mars-1"],
    ["sweep", "--target", "endpoint", "--endpoint-url", "http://127.0.0.1:9", "--regions", "mars-1"],
    ["sandbox", "--region", "mars-1"],
], ids=["deploy", "deploy-aws", "forecast", "forecast-fix", "verify", "sweep", "sandbox"])
def test_a_bad_region_is_one_line_and_exit_2_before_any_work(no_work, args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert stderr_lines(result) == [LINE]
    assert result.stdout == ""
    assert not list(no_work.glob("*.fixed.*")) and not (FIXTURES / "managed-policy.fixed.yaml").exists()


@pytest.mark.parametrize("name", ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "us-iso-east-1",
                                  "cn-north-1", "il-central-1"])
def test_real_region_names_pass(name):
    assert check_region(name) == name


@pytest.mark.parametrize("name", ["mars-1", "", "US-EAST-1", "us-east", "us-east-1 ", "useast1", "us_east_1",
                                  "us-east-12x", None, 7])
def test_names_that_are_not_regions_are_bad_input(name):
    with pytest.raises(BadInput) as caught:
        check_region(name)
    assert str(caught.value) == f"{name!r} is not an AWS region name (like us-east-1)"


def test_the_library_checks_the_region_before_any_work(no_work):
    with pytest.raises(BadInput, match="'mars-1' is not an AWS region name"):
        deploy_with_autofix(CORRECT, region="mars-1", config=load_config(project_dir=no_work))


def test_a_config_file_region_is_checked_the_same_way(no_work):
    (no_work / "cfn-autofix.toml").write_text('[deploy]\nregion = "mars-1"\n')
    result = CliRunner().invoke(app, ["deploy", str(CORRECT)])
    assert result.exit_code == 2, result.output
    (line,) = stderr_lines(result)
    assert line.startswith("cfn-autofix: error: config key 'deploy.region' is wrong: 'mars-1' is not an AWS region name")


def test_verify_matrix_regions_use_the_same_check(no_work):
    matrix = no_work / "matrix.toml"
    matrix.write_text(f'templates = ["{CORRECT}"]\nregions = ["mars-1"]\n')
    result = CliRunner().invoke(app, ["verify", "--matrix", str(matrix)])
    assert result.exit_code == 2, result.output
    (line,) = stderr_lines(result)
    assert line.endswith("key 'regions': 'mars-1' is not an AWS region name (like us-east-1)"), line


# ------------------------------------------------------------------------------------------ --target aws refusals


@pytest.fixture
def no_aws_credentials(monkeypatch, no_work):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                 "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(no_work / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(no_work / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return no_work


def test_aws_target_with_no_allowed_account_is_refused_before_the_forecast(no_aws_credentials, monkeypatch):
    # Canary keys: if anything tried the network or STS, the spies below or the refusal text would show it.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACANARYCANARY0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary")
    result = CliRunner().invoke(app, ["deploy", str(MANAGED_POLICY), "--target", "aws"])
    assert result.exit_code == 3, (result.output, result.exception)
    assert stderr_lines(result) == ["cfn-autofix: refused: refusing to deploy: [aws] allowed_accounts is empty, so "
                                    "nothing may be written to real AWS; list the sandbox account ids"]


def test_aws_target_without_credentials_is_refused_before_the_forecast(no_aws_credentials):
    (no_aws_credentials / "cfn-autofix.toml").write_text(
        f'[aws]\nallowed_accounts = ["123456789012"]\n[run]\njournal = "{no_aws_credentials / "j.jsonl"}"\n')
    result = CliRunner().invoke(app, ["deploy", str(MANAGED_POLICY), "--target", "aws"])
    assert result.exit_code == 3, (result.output, result.exception)
    (line,) = stderr_lines(result)
    assert line.startswith("cfn-autofix: refused: refusing to deploy: no usable AWS credentials"), line


def test_open_target_refuses_an_empty_allow_list_without_a_session(monkeypatch):
    from orchestrator.aws import session as aws
    from orchestrator.errors import Refusal

    monkeypatch.setattr(aws, "AwsSession", lambda *a, **k: pytest.fail("a session was made"))
    with pytest.raises(Refusal, match="allowed_accounts is empty"):
        with targets.open_target("aws", "us-east-1", allowed_accounts=()):
            pass

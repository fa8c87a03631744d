"""Configuration: config/default.toml < project file < CFN_AUTOFIX_<SECTION>_<KEY> env < CLI, checked key by key."""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, get_type_hints

from orchestrator.errors import BadInput, ConfigError

__all__ = ["Config", "ENV_PREFIX", "PROJECT_FILE", "check_region", "default_config_path", "load_config"]

ENV_PREFIX = "CFN_AUTOFIX_"
# Variables with the prefix that are not config keys: the test and bench tooling's corpus
# location (tests/corpora/corpus_files.py), golden-file regeneration (tests), fetched mirrors (bench), and
# the verify fork server's warm-up plan (verify/preload.py), which its worker processes inherit.
# Any other CFN_AUTOFIX_* variable must name a config key (a typo is an error, not silently ignored).
ENV_NOT_CONFIG = frozenset({"CFN_AUTOFIX_CORPUS", "CFN_AUTOFIX_UPDATE_GOLDEN", "CFN_AUTOFIX_MIRRORS",
                            "CFN_AUTOFIX_VERIFY_PRELOAD"})
PROJECT_FILE = "cfn-autofix.toml"

# The shape of every AWS region name (us-east-1, us-gov-west-1, us-iso-east-1, ap-southeast-4, ...).
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


def check_region(region: str) -> str:
    """`region` when it is shaped like an AWS region name; BadInput (exit 2) otherwise.

    The one region check of the tool: every command and the library call it before any work, so a typo
    never reaches a sandbox start, a forecast or an endpoint that answers with HTML error pages.
    """
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise BadInput(f"{region!r} is not an AWS region name (like us-east-1)")
    return region


@dataclass
class DeployConfig:
    region: str = "us-east-1"
    target: str = "embedded"
    endpoint_url: str = ""
    max_attempts: int = 5
    strategy: str = "keep"
    forecast: bool = True
    keep_stack: bool = False
    stack_prefix: str = "cfa-"
    managed_policy_strategy: str = "inline"
    allow_widening: bool = False


@dataclass
class AwsConfig:
    profile: str = ""
    role_arn: str = ""
    allowed_accounts: list[str] = field(default_factory=list)
    emulator_endpoints: list[str] = field(default_factory=list)


@dataclass
class WatchConfig:
    poll_min_s: float = 0.2
    poll_max_s: float = 5.0


@dataclass
class RetryConfig:
    max_attempts: int = 8
    max_wait_s: float = 60.0
    base_s: float = 0.5
    cap_s: float = 20.0


@dataclass
class SandboxSection:
    race_probability: float = 1.0
    seed: int = 0
    faults: str = ""


@dataclass
class RunConfig:
    journal: str = "~/.cfn-autofix/journal.jsonl"


@dataclass
class PlaybooksConfig:
    extra_dirs: list[str] = field(default_factory=list)


@dataclass
class LogConfig:
    json: bool = False
    level: str = "info"


@dataclass
class VerifyConfig:
    workers: int = 4
    processes: bool = True
    worker_memory_mb: int = 4096
    cells_per_worker: int = 20


@dataclass
class Config:
    deploy: DeployConfig = field(default_factory=DeployConfig)
    aws: AwsConfig = field(default_factory=AwsConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    sandbox: SandboxSection = field(default_factory=SandboxSection)
    run: RunConfig = field(default_factory=RunConfig)
    playbooks: PlaybooksConfig = field(default_factory=PlaybooksConfig)
    log: LogConfig = field(default_factory=LogConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    # "section.key" -> where its value came from: "default", a file path, "env NAME" or "cli".
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dict(vars(getattr(self, name))) for name in _SECTIONS}

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return getattr(getattr(self, section), key)


_SECTION_TYPES: dict[str, type] = {f.name: get_type_hints(Config)[f.name] for f in fields(Config) if f.name != "sources"}
_SECTIONS = tuple(_SECTION_TYPES)
_KEY_TYPES: dict[str, dict[str, Any]] = {name: get_type_hints(cls) for name, cls in _SECTION_TYPES.items()}

# Keys whose value must be one of a fixed set.
_CHOICES: dict[str, tuple[str, ...]] = {
    "deploy.target": ("embedded", "aws", "endpoint"),
    "deploy.strategy": ("keep", "recreate"),
    "deploy.managed_policy_strategy": ("inline", "fix-arn"),
    "log.level": ("debug", "info", "warning", "error"),
}
_RANGES: dict[str, tuple[float, float]] = {
    "deploy.max_attempts": (1, 100),
    "retry.max_attempts": (1, 100),
    "sandbox.race_probability": (0.0, 1.0),
    "verify.workers": (1, 256),
    "verify.worker_memory_mb": (0, 1_048_576),
    "verify.cells_per_worker": (0, 1_000_000),
    "watch.poll_min_s": (0.0, 3600.0),
    "watch.poll_max_s": (0.0, 3600.0),
    "retry.max_wait_s": (0.0, 86400.0),
}


def default_config_path() -> Path:
    return Path(str(resources.files("orchestrator.defaults").joinpath("default.toml")))


def load_config(
    cli_overrides: Mapping[str, Any] | None = None,
    project_dir: Path | None = None,
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge every layer; ConfigError names the key and the source for an unknown key or a bad value.

    cli_overrides: {"deploy.region": "eu-west-1"} or {"deploy": {"region": ...}}; None values are skipped.
    config_file: replaces the project-file lookup in project_dir (the --config option).
    """
    config = Config()
    default = default_config_path()
    _apply(config, _read_toml(default), str(default))
    for key in _all_keys():
        config.sources[key] = "default"

    if config_file is not None:
        path = Path(config_file).expanduser()
        if not path.is_file():
            raise ConfigError("config file not found", file=str(config_file))
        data = _read_toml(path)
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("cfn-autofix", {})
        _apply(config, data, str(path))
    else:
        base = Path(project_dir) if project_dir is not None else Path.cwd()
        pyproject = base / "pyproject.toml"
        if pyproject.is_file():
            tool = _read_toml(pyproject).get("tool", {})
            if "cfn-autofix" in tool:
                _apply(config, tool["cfn-autofix"], f"{pyproject} [tool.cfn-autofix]")
        project = base / PROJECT_FILE
        if project.is_file():
            _apply(config, _read_toml(project), str(project))

    _apply_env(config, os.environ if env is None else env)
    if cli_overrides:
        _apply(config, _nest(cli_overrides), "command line")
    _check_cross(config)
    return config


def _all_keys() -> list[str]:
    return [f"{section}.{key}" for section, keys in _KEY_TYPES.items() for key in keys]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(f"invalid TOML: {message}", file=str(path), line=int(match.group(1)) if match else None) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None


def _nest(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            for inner, inner_value in value.items():
                if inner_value is not None:
                    nested.setdefault(key, {})[inner] = inner_value
        elif value is not None:
            if "." not in key:
                raise ConfigError(f"unknown config key '{key}' (command line); use section.key")
            section, inner = key.split(".", 1)
            nested.setdefault(section, {})[inner] = value
    return nested


def _apply(config: Config, data: Mapping[str, Any], source: str) -> None:
    for section, values in data.items():
        if section not in _KEY_TYPES:
            raise ConfigError(f"unknown config section [{section}] ({source})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"config section [{section}] must be a table ({source})")
        target = getattr(config, section)
        for key, value in values.items():
            dotted = f"{section}.{key}"
            if key not in _KEY_TYPES[section]:
                raise ConfigError(f"unknown config key '{dotted}' ({source})")
            setattr(target, key, _coerce(dotted, _KEY_TYPES[section][key], value, source))
            config.sources[dotted] = source


def _coerce(dotted: str, expected: Any, value: Any, source: str) -> Any:
    def bad(what: str) -> ConfigError:
        return ConfigError(f"config key '{dotted}' {what} ({source})")

    if expected is bool:
        if not isinstance(value, bool):
            raise bad(f"must be true or false, not {value!r}")
    elif expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"must be an integer, not {value!r}")
    elif expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"must be a number, not {value!r}")
        value = float(value)
    elif expected is str:
        if not isinstance(value, str):
            raise bad(f"must be a string, not {value!r}")
    else:  # list[str]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(f"must be a list of strings, not {value!r}")
        value = list(value)
    if dotted in _CHOICES and value not in _CHOICES[dotted]:
        raise bad(f"must be one of {', '.join(_CHOICES[dotted])}, not {value!r}")
    if dotted == "deploy.region":
        try:
            check_region(value)
        except BadInput as exc:
            raise bad(f"is wrong: {exc}") from None
    if dotted in _RANGES:
        low, high = _RANGES[dotted]
        if not low <= value <= high:
            raise bad(f"must be between {low} and {high}, not {value!r}")
    return value


def _apply_env(config: Config, env: Mapping[str, str]) -> None:
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_CONFIG:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        source = f"environment {name}"
        if section not in _KEY_TYPES or key not in _KEY_TYPES[section]:
            raise ConfigError(f"unknown config key '{section}.{key}' ({source})")
        value = _parse_env(f"{section}.{key}", _KEY_TYPES[section][key], raw, source)
        _apply(config, {section: {key: value}}, source)


def _parse_env(dotted: str, expected: Any, raw: str, source: str) -> Any:
    text = raw.strip()
    try:
        if expected is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if expected is int:
            return int(text)
        if expected is float:
            return float(text)
        if expected is str:
            return raw
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}.get(expected, "a list")
        raise ConfigError(f"config key '{dotted}' must be {kind}, not {raw!r} ({source})") from None


def _check_cross(config: Config) -> None:
    if config.watch.poll_min_s > config.watch.poll_max_s:
        raise ConfigError(
            f"config key 'watch.poll_min_s' ({config.watch.poll_min_s}) is above 'watch.poll_max_s' "
            f"({config.watch.poll_max_s}) ({config.sources.get('watch.poll_min_s', 'default')})"
        )
    if config.deploy.target == "endpoint" and not config.deploy.endpoint_url:
        raise ConfigError(
            f"config key 'deploy.endpoint_url' is required when deploy.target is 'endpoint' "
            f"({config.sources.get('deploy.target', 'default')})"
        )
    for account in config.aws.allowed_accounts:
        if not re.fullmatch(r"\d{12}", account):
            raise ConfigError(
                f"config key 'aws.allowed_accounts' holds {account!r}, not a 12-digit account id "
                f"({config.sources.get('aws.allowed_accounts', 'default')})"
            )

"""RunOptions: everything one deploy-with-autofix run is told, built once from the typed Config plus overrides."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from orchestrator.config import Config, check_region, load_config
from orchestrator.errors import BadInput

STRATEGIES = ("keep", "recreate")
MANAGED_POLICY_STRATEGIES = ("inline", "fix-arn")


@dataclass(frozen=True)
class RunOptions:
    """One run's settings, passed whole. `None` in an override means "what the configuration says"."""

    config: Config = field(default_factory=Config, repr=False)
    region: str = "us-east-1"
    target: str = "embedded"
    endpoint_url: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    credentials: dict | None = field(default=None, repr=False)
    max_attempts: int = 5
    strategy: str = "keep"
    forecast: bool = True
    parameters: dict[str, str] = field(default_factory=dict, repr=False)
    keep_stack: bool = False
    allow_widening: bool = False
    managed_policy_strategy: str = "inline"
    stack_name: str | None = None
    run_id: str | None = None
    out: str | Path | None = None
    report_json: str | Path | None = None
    write_template: bool = True
    progress: bool = False
    sandbox_config: Any = None
    cancel_event: threading.Event | None = field(default=None, repr=False, compare=False)
    on_state: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, config: Config | None = None, **overrides: Any) -> "RunOptions":
        """Config values, with every override that is not None on top; unknown names are a TypeError."""
        cfg = config or load_config()
        known = {f.name for f in dataclasses.fields(cls)} - {"config"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown run option {unknown[0]!r}")
        deploy, aws = cfg.deploy, cfg.aws
        values: dict[str, Any] = {
            "region": deploy.region,
            "target": deploy.target,
            "endpoint_url": deploy.endpoint_url or None,
            "profile": aws.profile or None,
            "role_arn": aws.role_arn or None,
            "max_attempts": deploy.max_attempts,
            "strategy": deploy.strategy,
            "forecast": deploy.forecast,
            "keep_stack": deploy.keep_stack,
            "allow_widening": deploy.allow_widening,
            "managed_policy_strategy": deploy.managed_policy_strategy,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["parameters"] = {str(k): str(v) for k, v in (values.get("parameters") or {}).items()}
        options = cls(config=cfg, **values)
        options.check()
        return options

    def check(self) -> None:
        check_region(self.region)
        if self.strategy not in STRATEGIES:
            raise BadInput(f"unknown strategy {self.strategy!r}: use keep or recreate")
        if self.managed_policy_strategy not in MANAGED_POLICY_STRATEGIES:
            raise BadInput(f"unknown managed-policy strategy {self.managed_policy_strategy!r}: use inline or fix-arn")
        if not isinstance(self.max_attempts, int) or isinstance(self.max_attempts, bool) or self.max_attempts < 1:
            raise BadInput(f"max attempts must be a positive integer, not {self.max_attempts!r}")

    def replace(self, **changes: Any) -> "RunOptions":
        return dataclasses.replace(self, **changes)

    @property
    def repair_params(self) -> dict[str, dict]:
        """Run-level choices that override playbook params, by repair id."""
        return {"managed-policy-inline": {"strategy": self.managed_policy_strategy}}

    @property
    def journal_path(self) -> Path | None:
        path = self.config.run.journal
        return Path(path).expanduser() if path else None

"""Per-account sandbox state: which moto accounts belong to an embedded sandbox and with which settings."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from orchestrator.sandbox.config import SandboxConfig


@dataclass
class SandboxContext:
    """What the fidelity rules need to know about one sandbox account."""

    account_id: str
    region: str
    config: SandboxConfig
    # One lock per account: CloudFormation operations of an account run one at a time, as AWS serialises
    # operations on a stack; other accounts (other sandboxes) proceed in parallel.
    lock: threading.RLock = field(default_factory=threading.RLock)
    race_rng: random.Random = field(init=False)
    transient_failed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.race_rng = random.Random(self.config.seed)

    def loses_race(self) -> bool:
        probability = self.config.race_probability
        if probability >= 1.0:
            return True
        if probability <= 0.0:
            return False
        return self.race_rng.random() < probability


_REGISTRY: dict[str, SandboxContext] = {}
_REGISTRY_LOCK = threading.Lock()
# Set by `cfn-autofix sandbox`: every account on that server gets the fidelity rules, so the AWS CLI or
# any tool works with whatever keys it has (moto maps unknown keys to its default account).
_ALL_ACCOUNTS: tuple[str, SandboxConfig] | None = None
_ON_DEMAND: set[str] = set()


def serve_all_accounts(region: str | None, config: SandboxConfig | None = None) -> None:
    """Apply the rules to every account of this process's moto (region None turns that off again)."""
    global _ALL_ACCOUNTS
    with _REGISTRY_LOCK:
        _ALL_ACCOUNTS = (region, config or SandboxConfig()) if region else None
        if _ALL_ACCOUNTS is None:
            for account_id in _ON_DEMAND:
                _REGISTRY.pop(account_id, None)
            _ON_DEMAND.clear()


def register(ctx: SandboxContext) -> None:
    with _REGISTRY_LOCK:
        _REGISTRY[ctx.account_id] = ctx


def unregister(account_id: str) -> None:
    with _REGISTRY_LOCK:
        _REGISTRY.pop(account_id, None)


def context_for(account_id: str | None) -> SandboxContext | None:
    """The sandbox owning this account, or None: moto then behaves exactly as unpatched."""
    if account_id is None:
        return None
    ctx = _REGISTRY.get(account_id)
    if ctx is None and _ALL_ACCOUNTS is not None:
        with _REGISTRY_LOCK:
            ctx = _REGISTRY.get(account_id)
            if ctx is None and _ALL_ACCOUNTS is not None:
                region, config = _ALL_ACCOUNTS
                ctx = _REGISTRY[account_id] = SandboxContext(account_id=account_id, region=region, config=config)
                _ON_DEMAND.add(account_id)
    return ctx

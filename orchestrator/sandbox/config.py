"""Settings of an embedded sandbox: the DependsOn race model and fault injection."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultConfig:
    """Faults injected for reliability tests; every draw comes from a generator seeded with `seed`.

    throttle_rate / error_5xx_rate: share (0..1) of API calls answered with Throttling ("Rate exceeded",
    HTTP 400) or InternalFailure (HTTP 500); limited to `operations` (e.g. ("DescribeStacks",)) when given.
    connection_resets: how many calls (of `operations` when given) get their connection dropped.
    lost_responses: how many calls are carried out and then have their connection dropped before the answer
    (the client sees a reset, as after a timeout, although the server acted).
    failing_resources: logical ids that fail once with an "Internal Failure" reason, then succeed.
    """

    throttle_rate: float = 0.0
    error_5xx_rate: float = 0.0
    connection_resets: int = 0
    lost_responses: int = 0
    operations: tuple[str, ...] = ()
    failing_resources: tuple[str, ...] = ()
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """`throttle=0.3,5xx=0.05,resets=2,lost=1,seed=7,ops=CreateStack|DescribeStacks` (every key optional;
        "" or "none": no faults). ValueError names the first bad item."""
        values: dict[str, object] = {}
        text = (spec or "").strip()
        if text.lower() in ("", "none", "off"):
            return cls()
        for item in text.split(","):
            key, sep, raw = item.strip().partition("=")
            key, raw = key.strip().lower(), raw.strip()
            if not sep or key not in _FAULT_KEYS:
                raise ValueError(f"{item.strip()!r}: expected one of {', '.join(k + '=' for k in _FAULT_KEYS)}")
            name, kind = _FAULT_KEYS[key]
            try:
                value: object = tuple(p for p in raw.split("|") if p) if kind is tuple else kind(raw)
            except ValueError:
                raise ValueError(f"{item.strip()!r}: {raw!r} is not {'a number' if kind is float else 'an integer'}") from None
            if kind is float and not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
                raise ValueError(f"{item.strip()!r}: a rate between 0 and 1")
            if kind is int and name != "seed" and int(value) < 0:  # type: ignore[call-overload]
                raise ValueError(f"{item.strip()!r}: a count of 0 or more")
            values[name] = value
        config = cls(**values)  # type: ignore[arg-type]
        if config.throttle_rate + config.error_5xx_rate > 1.0:
            raise ValueError("throttle + 5xx rates add up to more than 1")
        return config

    @property
    def any_api_faults(self) -> bool:
        return (self.throttle_rate > 0 or self.error_5xx_rate > 0 or self.connection_resets > 0
                or self.lost_responses > 0)


# --faults / [sandbox] faults keys -> (FaultConfig field, type)
_FAULT_KEYS: dict[str, tuple[str, type]] = {
    "throttle": ("throttle_rate", float),
    "5xx": ("error_5xx_rate", float),
    "resets": ("connection_resets", int),
    "lost": ("lost_responses", int),
    "seed": ("seed", int),
    "ops": ("operations", tuple),
}


@dataclass
class SandboxConfig:
    """race_probability: chance that a resource with no dependency path to what it needs loses the race.

    1.0 (the default) makes the documented DependsOn races deterministic; a lower value with `seed`
    models the intermittent failures seen on AWS. time_scale maps simulated CloudFormation seconds onto
    event timestamps (0.001: a 90 s NAT gateway spans 90 ms of timestamps).
    """

    race_probability: float = 1.0
    seed: int = 0
    faults: FaultConfig = field(default_factory=FaultConfig)
    time_scale: float = 0.001

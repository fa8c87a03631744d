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

    @property
    def any_api_faults(self) -> bool:
        return (self.throttle_rate > 0 or self.error_5xx_rate > 0 or self.connection_resets > 0
                or self.lost_responses > 0)


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

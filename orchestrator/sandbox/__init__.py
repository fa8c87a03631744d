"""The embedded sandbox: moto's server plus the AWS CloudFormation behaviours moto lacks (fidelity rules)."""

from orchestrator.sandbox.config import FaultConfig, SandboxConfig
from orchestrator.sandbox.server import Sandbox, serve

__all__ = ["FaultConfig", "Sandbox", "SandboxConfig", "serve"]

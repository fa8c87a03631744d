"""The embedded sandbox: moto's server plus the AWS CloudFormation behaviours moto lacks (fidelity rules)."""

from orchestrator.sandbox import bootstrap, lazy_models
from orchestrator.sandbox.config import FaultConfig, SandboxConfig

# Before moto is first imported: its import-time region scans then parse EC2's model once, not four times.
bootstrap.share_region_lists()
# Before moto.cloudformation is first imported: service packages load when a template names their types.
lazy_models.defer_service_imports()
from orchestrator.sandbox.server import Sandbox, serve  # noqa: E402

__all__ = ["FaultConfig", "Sandbox", "SandboxConfig", "serve"]

"""Static detectors: each finds one known failure class in a template before anything is deployed.

Every detector is registered here, explicitly, in one place (like cfn-lint's rules and our repairs).
"""

from orchestrator.detectors.base import Detector, DetectorContext, DetectorRegistry
from orchestrator.detectors.dependson import DEPENDS_ON_DOCS, DependsOnCases
from orchestrator.detectors.logs_kms import LogsKmsKeyPolicy
from orchestrator.detectors.managed_policy import ManagedPolicyCatalog

REGISTRY = DetectorRegistry()
managed_policy_catalog = REGISTRY.register(ManagedPolicyCatalog())
logs_kms_key_policy = REGISTRY.register(LogsKmsKeyPolicy())
dependson_cases = REGISTRY.register(DependsOnCases())

# The names playbooks may use in their `forecast:` key.
DETECTORS = REGISTRY
get = REGISTRY.get

__all__ = [
    "DEPENDS_ON_DOCS",
    "DETECTORS",
    "Detector",
    "DetectorContext",
    "DetectorRegistry",
    "REGISTRY",
    "dependson_cases",
    "get",
    "logs_kms_key_policy",
    "managed_policy_catalog",
]

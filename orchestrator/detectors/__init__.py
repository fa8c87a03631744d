"""Static detectors: each finds one known failure class in a template before anything is deployed.

Every detector is registered here, explicitly, in one place (like cfn-lint's rules and our repairs).
"""

from orchestrator.detectors.base import Detector, DetectorContext, DetectorRegistry
from orchestrator.detectors.dependson import DEPENDS_ON_DOCS, DependsOnCases
from orchestrator.detectors.lambda_runtime import LambdaRuntimeDeprecated
from orchestrator.detectors.logs_kms import LogsKmsKeyPolicy
from orchestrator.detectors.managed_policy import ManagedPolicyCatalog
from orchestrator.detectors.names import NameRules
from orchestrator.detectors.policy_version import PolicyVersionMissing
from orchestrator.detectors.rds import RdsEngineRetired, RdsInstanceClassNotOffered
from orchestrator.detectors.waf_scope import WafCloudFrontScope
from orchestrator.detectors.zones import ZoneNotInRegion

REGISTRY = DetectorRegistry()
managed_policy_catalog = REGISTRY.register(ManagedPolicyCatalog())
logs_kms_key_policy = REGISTRY.register(LogsKmsKeyPolicy())
dependson_cases = REGISTRY.register(DependsOnCases())
lambda_runtime_deprecated = REGISTRY.register(LambdaRuntimeDeprecated())
name_rules = REGISTRY.register(NameRules())
policy_version_missing = REGISTRY.register(PolicyVersionMissing())
zone_not_in_region = REGISTRY.register(ZoneNotInRegion())
rds_engine_retired = REGISTRY.register(RdsEngineRetired())
rds_instance_class = REGISTRY.register(RdsInstanceClassNotOffered())
wafv2_cloudfront_scope = REGISTRY.register(WafCloudFrontScope())

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

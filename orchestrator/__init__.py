"""cfn-autofix: deploy a CloudFormation template, diagnose its failures, repair and redeploy until green."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["DeployResult", "deploy_with_autofix", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import orchestrator.model` stays cheap (the loop pulls in moto, boto3, cfn-lint).
    if name in ("deploy_with_autofix", "DeployResult"):
        from orchestrator.deploy import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")

"""cfn-autofix: deploy a CloudFormation template, diagnose its failures, repair and redeploy until green."""

__version__ = "0.1.0"

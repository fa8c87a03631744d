"""CloudFormation models for AWS Backup vaults and plans, which moto's Backup backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _GlueModel, _props

# CloudFormation's BackupRuleResourceType keys -> the CreateBackupPlan API's BackupRuleInput keys.
_RULE_KEYS = {"TargetBackupVault": "TargetBackupVaultName"}


def _backup(account_id: str, region: str) -> Any:
    from moto.backup.models import backup_backends

    return backup_backends[account_id][region]


class BackupVault(_GlueModel):
    """AWS::Backup::BackupVault: Backup CreateBackupVault; Ref and GetAtt BackupVaultName are its name, GetAtt
    BackupVaultArn its ARN (a second vault of the same name fails AlreadyExistsException)."""

    resource_type = "AWS::Backup::BackupVault"
    attributes = {"BackupVaultName": "physical_resource_id", "BackupVaultArn": "arn"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "BackupVault":
        props = _props(cloudformation_json)
        name = props.get("BackupVaultName") or resource_name
        vault = _backup(account_id, region_name).create_backup_vault(
            name, dict(props.get("BackupVaultTags") or {}), props.get("EncryptionKeyArn"), None)
        model = cls(name, account_id, region_name)
        model.arn = vault.backup_vault_arn
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        _backup(account_id, region_name).delete_backup_vault(self.physical_resource_id)


class BackupPlan(_GlueModel):
    """AWS::Backup::BackupPlan: Backup CreateBackupPlan with the template's rules (BackupPlanRule, TargetBackupVault
    as the API's Rules, TargetBackupVaultName); Ref and GetAtt BackupPlanId are the plan id, GetAtt
    BackupPlanArn and VersionId as AWS answers them."""

    resource_type = "AWS::Backup::BackupPlan"
    attributes = {"BackupPlanId": "physical_resource_id", "BackupPlanArn": "arn", "VersionId": "version_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "BackupPlan":
        props = _props(cloudformation_json)
        spec = dict(props.get("BackupPlan") or {})
        rules = [{_RULE_KEYS.get(k, k): v for k, v in rule.items()} for rule in spec.pop("BackupPlanRule", []) or []
                 if isinstance(rule, dict)]
        plan = _backup(account_id, region_name).create_backup_plan(
            {**spec, "Rules": rules}, dict(props.get("BackupPlanTags") or {}), None)
        model = cls(plan.backup_plan_id, account_id, region_name)
        model.arn, model.version_id = plan.backup_plan_arn, plan.version_id
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        _backup(account_id, region_name).delete_backup_plan(self.physical_resource_id)


MODELS = (BackupVault, BackupPlan)

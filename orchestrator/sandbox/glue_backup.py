"""CloudFormation models for AWS Backup vaults and plans, which moto's Backup backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _BackendModel

# CloudFormation's BackupRuleResourceType keys -> the CreateBackupPlan API's BackupRuleInput keys.
_RULE_KEYS = {"TargetBackupVault": "TargetBackupVaultName"}


class BackupVault(_BackendModel):
    """AWS::Backup::BackupVault: Backup CreateBackupVault; Ref and GetAtt BackupVaultName are its name, GetAtt
    BackupVaultArn its ARN (a second vault of the same name fails AlreadyExistsException)."""

    resource_type = "AWS::Backup::BackupVault"
    service = "backup"
    attributes = {"BackupVaultName": "physical_resource_id", "BackupVaultArn": "arn"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        name = props.get("BackupVaultName") or name
        vault = backend.create_backup_vault(name, dict(props.get("BackupVaultTags") or {}), props.get("EncryptionKeyArn"), None)
        self.arn = vault.backup_vault_arn
        return name

    def _delete(self, backend: Any) -> None:
        backend.delete_backup_vault(self.physical_resource_id)


class BackupPlan(_BackendModel):
    """AWS::Backup::BackupPlan: Backup CreateBackupPlan with the template's rules (BackupPlanRule, TargetBackupVault
    as the API's Rules, TargetBackupVaultName); Ref and GetAtt BackupPlanId are the plan id, GetAtt
    BackupPlanArn and VersionId as AWS answers them."""

    resource_type = "AWS::Backup::BackupPlan"
    service = "backup"
    attributes = {"BackupPlanId": "physical_resource_id", "BackupPlanArn": "arn", "VersionId": "version_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        spec = dict(props.get("BackupPlan") or {})
        rules = [{_RULE_KEYS.get(k, k): v for k, v in rule.items()} for rule in spec.pop("BackupPlanRule", []) or []
                 if isinstance(rule, dict)]
        plan = backend.create_backup_plan({**spec, "Rules": rules}, dict(props.get("BackupPlanTags") or {}), None)
        self.arn, self.version_id = plan.backup_plan_arn, plan.version_id
        return plan.backup_plan_id

    def _delete(self, backend: Any) -> None:
        backend.delete_backup_plan(self.physical_resource_id)


class BackupSelection(_BackendModel):
    """AWS::Backup::BackupSelection: Backup CreateBackupSelection on its plan (which must exist); Ref and GetAtt
    Id/SelectionId are the selection id, GetAtt BackupPlanId its plan. moto lacks the operation: the sandbox
    adds it to moto's Backup backend (sandbox/moto_backup.py), so GetBackupSelection answers as on AWS."""

    resource_type = "AWS::Backup::BackupSelection"
    service = "backup"
    attributes = {"Id": "physical_resource_id", "SelectionId": "physical_resource_id", "BackupPlanId": "plan_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.plan_id = props["BackupPlanId"]
        return backend.create_backup_selection(self.plan_id, dict(props.get("BackupSelection") or {}),
                                               None)["SelectionId"]

    def _delete(self, backend: Any) -> None:
        backend.delete_backup_selection(self.plan_id, self.physical_resource_id)


MODELS = (BackupVault, BackupPlan, BackupSelection)

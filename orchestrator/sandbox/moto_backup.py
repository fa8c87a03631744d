"""AWS Backup's selection operations (Create/Get/List/DeleteBackupSelection), which moto 5.2.5's Backup backend lacks.

Added to moto's BackupBackend and BackupResponse by patches.install (as `ADDITIONS`: each must be absent
from moto, so an upgrade that brings moto's own version is reported by the seam check, never shadowed).
A selection belongs to a plan that must exist (ResourceNotFoundException otherwise, as AWS answers), and
a plan with selections cannot be deleted (InvalidRequestException, AWS's text).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Callable

from moto.backup.exceptions import InvalidRequestException, ResourceNotFoundException
from moto.backup.models import BackupBackend
from moto.backup.responses import BackupResponse
from moto.core.responses import ActionResult, EmptyResult

from orchestrator.sandbox.context import context_for
from orchestrator.sandbox.patches_template import ORIGINALS


def _selections(backend: BackupBackend) -> dict[str, dict[str, dict]]:
    """Plan id -> selection id -> the selection as GetBackupSelection answers it (kept on the backend so an
    account reset drops it with the plans)."""
    return backend.__dict__.setdefault("sandbox_selections", {})


def create_backup_selection(self: BackupBackend, backup_plan_id: str, selection: dict,
                            creator_request_id: str | None) -> dict:
    self.get_backup_plan(backup_plan_id, None)
    if not selection.get("SelectionName") or not selection.get("IamRoleArn"):
        raise InvalidRequestException(msg="BackupSelection must have SelectionName and IamRoleArn")
    selection_id = str(uuid.uuid4())
    stored = {"BackupPlanId": backup_plan_id, "SelectionId": selection_id, "BackupSelection": dict(selection),
              "CreationDate": datetime.datetime.now(datetime.timezone.utc), "CreatorRequestId": creator_request_id}
    _selections(self).setdefault(backup_plan_id, {})[selection_id] = stored
    return stored


def get_backup_selection(self: BackupBackend, backup_plan_id: str, selection_id: str) -> dict:
    stored = _selections(self).get(backup_plan_id, {}).get(selection_id)
    if stored is None:
        raise ResourceNotFoundException(msg=f"Failed reading selection {selection_id} of plan {backup_plan_id}")
    return stored


def delete_backup_selection(self: BackupBackend, backup_plan_id: str, selection_id: str) -> None:
    get_backup_selection(self, backup_plan_id, selection_id)
    del _selections(self)[backup_plan_id][selection_id]


def list_backup_selections(self: BackupBackend, backup_plan_id: str) -> list[dict]:
    self.get_backup_plan(backup_plan_id, None)
    return list(_selections(self).get(backup_plan_id, {}).values())


def delete_backup_plan(self: BackupBackend, backup_plan_id: str) -> Any:
    if context_for(self.account_id) is not None and _selections(self).get(backup_plan_id):
        raise InvalidRequestException(msg="Related backup plan selections must be deleted prior to backup plan deletion")
    return ORIGINALS["backup_delete_plan"](self, backup_plan_id)


def _summary(stored: dict) -> dict:
    return {"SelectionId": stored["SelectionId"], "SelectionName": stored["BackupSelection"]["SelectionName"],
            "BackupPlanId": stored["BackupPlanId"], "CreationDate": stored["CreationDate"],
            "IamRoleArn": stored["BackupSelection"]["IamRoleArn"]}


def response_create(self: BackupResponse) -> ActionResult:
    stored = self.backup_backend.create_backup_selection(
        self.uri_match["backupPlanId"], self._get_param("BackupSelection") or {}, self._get_param("CreatorRequestId"))
    return ActionResult({k: stored[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})


def response_get(self: BackupResponse) -> ActionResult:
    return ActionResult(self.backup_backend.get_backup_selection(self.uri_match["backupPlanId"],
                                                                 self.uri_match["selectionId"]))


def response_delete(self: BackupResponse) -> EmptyResult:
    self.backup_backend.delete_backup_selection(self.uri_match["backupPlanId"], self.uri_match["selectionId"])
    return EmptyResult()


def response_list(self: BackupResponse) -> ActionResult:
    found = self.backup_backend.list_backup_selections(self.uri_match["backupPlanId"])
    return ActionResult({"BackupSelectionsList": [_summary(s) for s in found]})


# (key, owner, attribute, implementation) of operations moto lacks; patches.py checks they are still absent.
ADDITIONS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    ("backup_create_selection", BackupBackend, "create_backup_selection", create_backup_selection),
    ("backup_get_selection", BackupBackend, "get_backup_selection", get_backup_selection),
    ("backup_delete_selection", BackupBackend, "delete_backup_selection", delete_backup_selection),
    ("backup_list_selections", BackupBackend, "list_backup_selections", list_backup_selections),
    ("backup_response_create_selection", BackupResponse, "create_backup_selection", response_create),
    ("backup_response_get_selection", BackupResponse, "get_backup_selection", response_get),
    ("backup_response_delete_selection", BackupResponse, "delete_backup_selection", response_delete),
    ("backup_response_list_selections", BackupResponse, "list_backup_selections", response_list),
]

# (key, owner, attribute, replacement) seams of moto's own Backup operations, in patches.py's seam table.
SEAMS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    ("backup_delete_plan", BackupBackend, "delete_backup_plan", delete_backup_plan),
]

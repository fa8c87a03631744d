"""The retry repair: transient failures need the same template deployed again with backoff, no change."""

from __future__ import annotations

from orchestrator.model import Failure, RepairPlan
from orchestrator.repairs.base import Repair


class Retry(Repair):
    id = "retry"
    description = "deploy the same template again after a backoff"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html"
    retries = True

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        return RepairPlan(
            repair=self.id,
            operations=[],
            rationale="retry with backoff: the failure is transient (throttling, internal error or eventual "
            "consistency); the template is deployed again unchanged",
            resources=sorted({failure.logical_id for failure in failures}),
        )

"""The needs-human repair: classes no template edit can fix safely stop the run at once with their explanation."""

from __future__ import annotations

from orchestrator.model import Failure, RepairPlan
from orchestrator.repairs.base import Repair


class NeedsHuman(Repair):
    """Never changes the template: quotas, certificates, custom resource logic, permissions of the deploying
    principal and the like need a decision or an action outside the template. The loop stops on it."""

    id = "needs-human"
    description = "stop the run: the failure needs a person (quota, certificate, handler logic, permissions, ...)"
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        return RepairPlan(
            repair=self.id,
            operations=[],
            rationale="no safe template change exists for this failure; it needs a person (see the playbook's "
            "explanation and documentation link)",
            resources=sorted({failure.logical_id for failure in failures}),
        )

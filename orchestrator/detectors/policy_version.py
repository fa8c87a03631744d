"""Detector: policy documents without Version, which IAM and S3 read as the 2008-10-17 language and refuse."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.iam.documents import missing_version
from orchestrator.model import Finding


class PolicyVersionMissing(Detector):
    id = "policy_version_missing"
    description = "Policy documents without Version 2012-10-17."
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        return [
            Finding(
                playbook="policy-version-missing", logical_id=lid, resource_type=rtype,
                message=f"{lid}: the policy document at Properties/{'/'.join(map(str, where))} has no Version; "
                "it is read as the 2008-10-17 language",
                line=ctx.line("Resources", lid, "Properties", *where), fixable=True, severity="error",
                details={"pointer": "/".join(map(str, where))},
            )
            for lid, where, rtype in missing_version(ctx.document)
        ]

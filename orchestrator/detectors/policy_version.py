"""Detector: policy documents whose language Version makes their create call fail or changes their meaning."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.iam.documents import CURRENT, VersionProblem, version_problems
from orchestrator.model import Finding

VERSION_DOCS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"

# What each kind rests on. A missing Version alone is NOT a finding: IAM and S3 read it as 2008-10-17 and
# accept the document (IAM Version element page; S3 stores it as 2008-10-17, versity/versitygw#1536;
# "only required if using IAM policy variables", Netflix/security_monkey#210); 13 public templates of the
# corpus carry 40 such trust, inline, queue and topic policies. Only these fail or change meaning:
_WHY = {
    # IAM CreatePolicy: "Policy document must be version 2012-10-17 or greater" / console "A managed policy
    # must have a version string" (Meteor-CollectionFS#630, wercker/step-s3sync#25, SUSE/suse-best-practices#317).
    "managed-policy-language": "IAM creates a managed policy only in the 2012-10-17 policy language "
                               "(CreatePolicy: Policy document must be version 2012-10-17 or greater)",
    # IAM and S3 accept only the two values ("The policy must contain a valid version string", codevise/pageflow#902).
    "invalid-version": "IAM and S3 accept only the Version values 2012-10-17 and 2008-10-17 (MalformedPolicy: "
                       "the policy must contain a valid version string)",
    # IAM Version element page: without 2012-10-17, variables such as ${aws:username} are literal strings.
    "variables-read-literally": "the document is created, but in the 2008-10-17 language its policy variables "
                                "are read as literal text, so it does not mean what it says",
}


class PolicyVersionMissing(Detector):
    id = "policy_version_missing"
    description = ("Policy documents whose Version the create call refuses (a managed policy not in the 2012-10-17 "
                   "language; a Version value other than 2012-10-17/2008-10-17), and, as a warning never repaired, "
                   "documents whose policy variables the 2008-10-17 language reads literally. A document without "
                   "Version is otherwise accepted (read as 2008-10-17) and not reported.")
    source_url = VERSION_DOCS

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        return [_finding(ctx, problem) for problem in version_problems(ctx.document)]


def _finding(ctx: DetectorContext, problem: VersionProblem) -> Finding:
    pointer = "/".join(map(str, problem.where))
    written = f"Version {problem.version!r}" if problem.version is not None else "no Version"
    # A missing or 2008-10-17 Version on a managed policy is repaired (the create call fails, so the repair
    # replaces nothing that was granted); an invalid value's intent is unknown; variables change meaning.
    fixable = problem.kind == "managed-policy-language"
    variables = f" (policy variables {', '.join(problem.variables)})" if problem.variables else ""
    advice = f"set Version: {CURRENT}" if fixable else "not repaired: decide the intended Version"
    return Finding(
        playbook="policy-version-missing", logical_id=problem.logical_id, resource_type=problem.resource_type,
        message=f"{problem.logical_id}: the policy document at Properties/{pointer} has {written}: "
                f"{_WHY[problem.kind]}{variables}; {advice} (see {VERSION_DOCS})",
        line=ctx.line("Resources", problem.logical_id, "Properties", *problem.where),
        fixable=fixable, severity="warning" if problem.kind == "variables-read-literally" else "error",
        details={"pointer": pointer, "kind": problem.kind, "version": problem.version,
                 **({"variables": list(problem.variables)} if problem.variables else {})},
    )

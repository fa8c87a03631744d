"""Detector: CLOUDFRONT-scoped WAFv2 entities in a stack whose region is not US East (N. Virginia)."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.model import Finding

SCOPE_DOCS = "https://docs.aws.amazon.com/waf/latest/developerguide/how-aws-waf-works-resources.html"
# Every WAFv2 type with a Scope property: a web ACL, and what it refers to.
_SCOPED = ("AWS::WAFv2::WebACL", "AWS::WAFv2::IPSet", "AWS::WAFv2::RegexPatternSet", "AWS::WAFv2::RuleGroup")
# Where CLOUDFRONT scope is served: CloudFront is global, its WAF lives in this region of the partition.
_HOME = {"aws": "us-east-1"}


class WafCloudFrontScope(Detector):
    id = "wafv2_cloudfront_scope"
    description = ("WAFv2 web ACLs, IP sets, regex pattern sets and rule groups with Scope CLOUDFRONT in a stack "
                   "outside us-east-1: WAF creates CLOUDFRONT-scoped entities only in US East (N. Virginia).")
    source_url = SCOPE_DOCS

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        home = _HOME.get(ctx.partition)
        if home is None or ctx.region == home:
            return []
        findings = []
        for lid in sorted(ctx.resources):
            rtype = ctx.rtype(lid)
            if rtype not in _SCOPED or ctx.known_value(lid, "Scope") != "CLOUDFRONT":
                continue
            findings.append(Finding(
                playbook="wafv2-cloudfront-scope", logical_id=lid, resource_type=rtype,
                message=(f"{lid}: Scope CLOUDFRONT is served only in {home}, and this stack deploys to {ctx.region}: "
                         f"deploy the CloudFront protection from a {home} stack, or use Scope REGIONAL for a "
                         f"regional resource (ALB, API Gateway stage) (see {SCOPE_DOCS})"),
                line=ctx.line("Resources", lid, "Properties", "Scope"), fixable=False, severity="error",
                details={"scope": "CLOUDFRONT", "region": ctx.region, "served_in": home},
            ))
        return findings

"""CloudFormation models for CloudFront distributions and origin access controls and for WAFv2 web ACLs, IP sets
and associations, which moto's cloudfront and wafv2 backends have but its CloudFormation lacks."""

from __future__ import annotations

import uuid
from typing import Any

from orchestrator.sandbox.glue import _BackendModel

# CloudFormation's spelling of DistributionConfig keys -> the CloudFront API's.
_KEYS = {"AcmCertificateArn": "ACMCertificateArn", "IamCertificateId": "IAMCertificateId"}
# List-valued properties the API wraps as {Quantity, Items}.
_WRAPPED = frozenset({"Aliases", "Origins", "CacheBehaviors", "CustomErrorResponses", "TrustedSigners",
                      "TrustedKeyGroups", "LambdaFunctionAssociations", "FunctionAssociations", "OriginSslProtocols",
                      "Headers", "QueryStringCacheKeys", "WhitelistedNames", "OriginCustomHeaders",
                      "Cookies", "QueryStrings"})


def _wrap(items: list) -> dict:
    return {"Quantity": len(items), "Items": items}


def _api_config(node: Any, key: str = "") -> Any:
    """A CloudFormation DistributionConfig in the shape of the CloudFront API's (lists as {Quantity, Items},
    AllowedMethods with its CachedMethods, Logging enabled when given, S3OriginConfig's identity defaulted)."""
    if isinstance(node, list):
        items = [_api_config(item) for item in node]
        return _wrap(items) if key in _WRAPPED else items
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for name, value in node.items():
        if name == "CachedMethods":
            continue
        if name == "AllowedMethods":
            out[name] = {**_wrap(list(value)), "CachedMethods": _wrap(list(node.get("CachedMethods") or ["GET", "HEAD"]))}
            continue
        if name == "OriginCustomHeaders":
            out["CustomHeaders"] = _api_config(value, name)
            continue
        if name == "Locations":
            out.update(_wrap(list(value)))
            continue
        out[_KEYS.get(name, name)] = _api_config(value, name)
    if key == "Logging":
        out.setdefault("Enabled", True)
    if key == "S3OriginConfig":
        out.setdefault("OriginAccessIdentity", "")
    return out


def _web_acl_exists(account_id: str, web_acl: str) -> bool:
    """A distribution's WebACLId: a WAFv2 ARN must name a CLOUDFRONT-scoped web ACL of the account (WAF Classic
    ids are not modelled and pass)."""
    if ":wafv2:" not in web_acl:
        return True
    from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

    return web_acl.split(":")[4] == account_id and web_acl in wafv2_backends[account_id][GLOBAL_REGION].wacls


class CloudFrontDistribution(_BackendModel):
    """AWS::CloudFront::Distribution: CloudFront CreateDistributionWithTags; Ref and GetAtt Id are the
    distribution id, GetAtt DomainName its *.cloudfront.net name."""

    resource_type = "AWS::CloudFront::Distribution"
    service, global_service = "cloudfront", True
    attributes = {"Id": "physical_resource_id", "DomainName": "domain_name"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.cloudfront.exceptions import CloudFrontException

        from orchestrator.sandbox.moto_cloudfront import identity_exists

        config = _api_config(dict(props["DistributionConfig"]))
        config.setdefault("CallerReference", str(uuid.uuid4()))
        for origin in config["Origins"]["Items"]:
            identity = (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity")
            if identity and not identity_exists(backend, identity):
                raise CloudFrontException("InvalidOriginAccessIdentity",
                                          "The specified origin access identity does not exist or is not valid.")
        if not _web_acl_exists(self.account_id, str(config.get("WebACLId") or "")):
            raise CloudFrontException("InvalidWebACLId", "Web ACL is not accessible by the requester.")
        distribution, _, _ = backend.create_distribution(config, list(props.get("Tags") or []))
        self.domain_name = distribution.domain_name
        return distribution.distribution_id

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.distributions:
            backend.delete_distribution(self.physical_resource_id, True)


class CloudFrontOriginAccessControl(_BackendModel):
    """AWS::CloudFront::OriginAccessControl: CloudFront CreateOriginAccessControl; Ref and GetAtt Id are its id."""

    resource_type = "AWS::CloudFront::OriginAccessControl"
    service, global_service = "cloudfront", True
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        return backend.create_origin_access_control(dict(props["OriginAccessControlConfig"])).id

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.origin_access_controls:
            backend.delete_origin_access_control(self.physical_resource_id)


class CloudFrontCachePolicy(_BackendModel):
    """AWS::CloudFront::CachePolicy: CloudFront CreateCachePolicy (which the sandbox adds to moto,
    sandbox/moto_cloudfront_policies.py; header, cookie and query-string lists in the API's {Quantity, Items});
    Ref and GetAtt Id are its id, GetAtt LastModifiedTime as CloudFront answers it."""

    resource_type = "AWS::CloudFront::CachePolicy"
    service, global_service = "cloudfront", True
    attributes = {"Id": "physical_resource_id", "LastModifiedTime": "last_modified"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        policy = backend.create_cache_policy(_api_config(dict(props["CachePolicyConfig"])))
        self.last_modified = policy["LastModifiedTime"].isoformat()
        return policy["Id"]

    def _delete(self, backend: Any) -> None:
        backend.delete_cache_policy(self.physical_resource_id)


class _WafModel(_BackendModel):
    """WAFv2 keeps CLOUDFRONT-scoped entities apart from the region's (moto: in its "global" backend)."""

    service = "wafv2"
    scope = "REGIONAL"

    def backend(self) -> Any:
        from moto.wafv2.models import GLOBAL_REGION, wafv2_backends

        return wafv2_backends[self.account_id][GLOBAL_REGION] if self.scope == "CLOUDFRONT" else super().backend()

    def _scoped(self, props: dict) -> Any:
        self.scope = props["Scope"]
        return self.backend()


class CloudFrontOriginAccessIdentity(_BackendModel):
    """AWS::CloudFront::CloudFrontOriginAccessIdentity: CloudFront CreateCloudFrontOriginAccessIdentity (which the
    sandbox adds to moto, sandbox/moto_cloudfront.py); Ref and GetAtt Id are its id, GetAtt S3CanonicalUserId the
    canonical user S3 bucket policies grant."""

    resource_type = "AWS::CloudFront::CloudFrontOriginAccessIdentity"
    service, global_service = "cloudfront", True
    attributes = {"Id": "physical_resource_id", "S3CanonicalUserId": "canonical_user"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        config = {"CallerReference": str(uuid.uuid4()), **dict(props["CloudFrontOriginAccessIdentityConfig"])}
        identity = backend.create_cloud_front_origin_access_identity(config)
        self.canonical_user = identity["S3CanonicalUserId"]
        return identity["Id"]

    def _delete(self, backend: Any) -> None:
        backend.delete_cloud_front_origin_access_identity(self.physical_resource_id)


class WafWebAcl(_WafModel):
    """AWS::WAFv2::WebACL: WAFv2 CreateWebACL; Ref is `name|id|scope` as CloudFormation documents it, GetAtt
    Arn, Id, Capacity and LabelNamespace as GetWebACL answers them."""

    resource_type = "AWS::WAFv2::WebACL"
    attributes = {"Arn": "arn", "Id": "web_acl_id", "Capacity": "capacity", "LabelNamespace": "label_namespace"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.name, backend = props.get("Name") or name, self._scoped(props)
        acl = backend.create_web_acl(
            self.name, props["VisibilityConfig"], props["DefaultAction"], self.scope, props.get("Description"),
            list(props.get("Tags") or []), [dict(rule) for rule in props.get("Rules") or []],
            props.get("AssociationConfig"), props.get("CaptchaConfig"), props.get("ChallengeConfig"),
            props.get("CustomResponseBodies"), props.get("TokenDomains"))
        self.arn, self.web_acl_id, self.capacity, self.label_namespace = acl.arn, acl.id, acl.capacity, acl.label_namespace
        return f"{self.name}|{acl.id}|{self.scope}"

    def _delete(self, backend: Any) -> None:
        acl = backend.wacls.get(self.arn)
        if acl is not None:
            backend.delete_web_acl(self.name, self.scope, self.web_acl_id, acl.lock_token)


class WafIpSet(_WafModel):
    """AWS::WAFv2::IPSet: WAFv2 CreateIPSet; Ref is `name|id|scope`, GetAtt Arn and Id."""

    resource_type = "AWS::WAFv2::IPSet"
    attributes = {"Arn": "arn", "Id": "ip_set_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.name, backend = props.get("Name") or name, self._scoped(props)
        ip_set = backend.create_ip_set(self.name, self.scope, props.get("Description"), props["IPAddressVersion"],
                                       list(props.get("Addresses") or []), list(props.get("Tags") or []))
        self.arn, self.ip_set_id = ip_set.arn, ip_set.ip_set_id
        return f"{self.name}|{ip_set.ip_set_id}|{self.scope}"

    def _delete(self, backend: Any) -> None:
        ip_set = backend.ip_sets.get(self.arn)
        if ip_set is not None:
            backend.delete_ip_set(self.name, self.scope, self.ip_set_id, ip_set.lock_token)


class WafWebAclAssociation(_BackendModel):
    """AWS::WAFv2::WebACLAssociation: WAFv2 AssociateWebACL (the web ACL must exist:
    WAFNonexistentItemException otherwise); GetWebACLForResource then answers the ACL."""

    resource_type = "AWS::WAFv2::WebACLAssociation"
    service = "wafv2"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.resource_arn = props["ResourceArn"]
        backend.associate_web_acl(props["WebACLArn"], self.resource_arn)
        return f"{self.resource_arn}|{props['WebACLArn']}"

    def _delete(self, backend: Any) -> None:
        backend.disassociate_web_acl(self.resource_arn)


MODELS = (CloudFrontDistribution, CloudFrontOriginAccessControl, CloudFrontOriginAccessIdentity, CloudFrontCachePolicy,
          WafWebAcl, WafIpSet, WafWebAclAssociation)

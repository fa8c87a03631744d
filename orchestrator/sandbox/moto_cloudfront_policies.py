"""CloudFront's cache policy operations (Create/Get/List/DeleteCachePolicy), which moto 5.2.5's CloudFront lacks.

Added to moto by patches.install through the checked additions table, like the origin access identities
(sandbox/moto_cloudfront.py). CloudFront's rules and texts: names are unique in the account
(CachePolicyAlreadyExists), MinTTL <= DefaultTTL <= MaxTTL (InvalidArgument), a policy a distribution's cache
behavior uses cannot be deleted (CachePolicyInUse), an unknown id is NoSuchCachePolicy.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Callable

from moto.cloudfront import urls
from moto.cloudfront.exceptions import CloudFrontException
from moto.cloudfront.models import CloudFrontBackend
from moto.cloudfront.responses import CloudFrontResponse
from moto.core.responses import ActionResult, EmptyResult


def _store(backend: CloudFrontBackend) -> dict[str, dict]:
    return backend.__dict__.setdefault("sandbox_cache_policies", {})


def create_cache_policy(self: CloudFrontBackend, config: dict) -> dict:
    if any(p["CachePolicyConfig"]["Name"] == config.get("Name") for p in _store(self).values()):
        raise CloudFrontException("CachePolicyAlreadyExists", "A cache policy with this name already exists. You must "
                                  "provide a unique name. To modify an existing cache policy, use UpdateCachePolicy.")
    ttl = [int(config.get(key, default)) for key, default in (("MinTTL", 0), ("DefaultTTL", 86400), ("MaxTTL", 31536000))]
    if not ttl[0] <= ttl[1] <= ttl[2]:
        raise CloudFrontException("InvalidArgument", "The cache policy's MinTTL must be less than or equal to its "
                                  "DefaultTTL, and its DefaultTTL less than or equal to its MaxTTL.")
    policy = {"Id": str(uuid.uuid4()), "LastModifiedTime": datetime.datetime.now(datetime.timezone.utc),
              "CachePolicyConfig": dict(config), "ETag": uuid.uuid4().hex[:14].upper()}
    _store(self)[policy["Id"]] = policy
    return policy


def get_cache_policy(self: CloudFrontBackend, policy_id: str) -> dict:
    policy = _store(self).get(policy_id)
    if policy is None:
        raise CloudFrontException("NoSuchCachePolicy", "The cache policy does not exist.")
    return policy


def delete_cache_policy(self: CloudFrontBackend, policy_id: str) -> None:
    get_cache_policy(self, policy_id)
    for distribution in self.distributions.values():
        config = distribution.distribution_config
        behaviors = [config.DefaultCacheBehavior, *(config.CacheBehaviors.get("Items") or [])]
        if any(getattr(b, "cache_policy_id", None) == policy_id for b in behaviors):
            raise CloudFrontException("CachePolicyInUse", "Cannot delete the cache policy because it is attached to "
                                      "one or more cache behaviors.")
    del _store(self)[policy_id]


def _body(policy: dict) -> dict:
    return {k: policy[k] for k in ("Id", "LastModifiedTime", "CachePolicyConfig")}


def response_create(self: CloudFrontResponse) -> ActionResult:
    policy = self.backend.create_cache_policy(self._get_param("CachePolicyConfig") or {})
    return ActionResult({"CachePolicy": _body(policy), "ETag": policy["ETag"],
                         "Location": f"https://cloudfront.amazonaws.com/2020-05-31/cache-policy/{policy['Id']}"})


def response_get(self: CloudFrontResponse) -> ActionResult:
    policy = self.backend.get_cache_policy(self._get_param("Id"))
    return ActionResult({"CachePolicy": _body(policy), "ETag": policy["ETag"]})


def response_list(self: CloudFrontResponse) -> ActionResult:
    kind = self._get_param("Type")
    items = [{"Type": "custom", "CachePolicy": _body(p)} for p in _store(self.backend).values()] if kind != "managed" else []
    return ActionResult({"CachePolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}})


def response_delete(self: CloudFrontResponse) -> EmptyResult:
    self.backend.delete_cache_policy(self._get_param("Id"))
    return EmptyResult()


# (key, owner, attribute, implementation) of what moto lacks; patches.py checks each is still absent.
ADDITIONS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    ("cloudfront_create_cache_policy", CloudFrontBackend, "create_cache_policy", create_cache_policy),
    ("cloudfront_get_cache_policy", CloudFrontBackend, "get_cache_policy", get_cache_policy),
    ("cloudfront_delete_cache_policy", CloudFrontBackend, "delete_cache_policy", delete_cache_policy),
    ("cloudfront_response_create_cache_policy", CloudFrontResponse, "create_cache_policy", response_create),
    ("cloudfront_response_get_cache_policy", CloudFrontResponse, "get_cache_policy", response_get),
    ("cloudfront_response_list_cache_policies", CloudFrontResponse, "list_cache_policies", response_list),
    ("cloudfront_response_delete_cache_policy", CloudFrontResponse, "delete_cache_policy", response_delete),
    ("cloudfront_url_cache_policy", urls.url_paths, "{0}/2020-05-31/cache-policy$", CloudFrontResponse.dispatch),
    ("cloudfront_url_cache_policy_id", urls.url_paths, "{0}/2020-05-31/cache-policy/(?P<policy_id>[^/]+)$",
     CloudFrontResponse.dispatch),
]

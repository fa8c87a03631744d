"""CloudFront's origin access identity operations (Create/Get/GetConfig/List/DeleteCloudFrontOriginAccessIdentity),
which moto 5.2.5's CloudFront backend lacks.

Added to moto's CloudFrontBackend, CloudFrontResponse and URL table by patches.install (as `ADDITIONS`: each
must be absent from moto, so an upgrade that brings moto's own is reported by the seam check). Errors carry
CloudFront's codes and texts: NoSuchCloudFrontOriginAccessIdentity, CloudFrontOriginAccessIdentityAlreadyExists
(same CallerReference, other config) and CloudFrontOriginAccessIdentityInUse (a distribution's origin uses it).
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Any, Callable

from moto.cloudfront import urls
from moto.cloudfront.exceptions import CloudFrontException
from moto.cloudfront.models import CloudFrontBackend
from moto.cloudfront.responses import CloudFrontResponse
from moto.core.responses import ActionResult, EmptyResult

_PATH = "origin-access-identity/cloudfront/"


def _store(backend: CloudFrontBackend) -> dict[str, dict]:
    """Id -> identity as GetCloudFrontOriginAccessIdentity answers it (kept on the backend, reset with it)."""
    return backend.__dict__.setdefault("sandbox_origin_access_identities", {})


def create_identity(self: CloudFrontBackend, config: dict) -> dict:
    for identity in _store(self).values():
        if identity["CloudFrontOriginAccessIdentityConfig"]["CallerReference"] == config.get("CallerReference"):
            if identity["CloudFrontOriginAccessIdentityConfig"] == config:
                return identity
            raise CloudFrontException("CloudFrontOriginAccessIdentityAlreadyExists",
                                      "If the CallerReference is a value you already sent in a previous request to "
                                      "create an identity but the content of the CloudFrontOriginAccessIdentityConfig "
                                      "is different from the original request, CloudFront returns this error.")
    identity_id = "E" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))
    identity = {"Id": identity_id, "CloudFrontOriginAccessIdentityConfig": dict(config),
                "S3CanonicalUserId": hashlib.sha384(identity_id.encode()).hexdigest(), "ETag": secrets.token_hex(7).upper()}
    _store(self)[identity_id] = identity
    return identity


def get_identity(self: CloudFrontBackend, identity_id: str) -> dict:
    identity = _store(self).get(identity_id)
    if identity is None:
        raise CloudFrontException("NoSuchCloudFrontOriginAccessIdentity",
                                  "The specified origin access identity does not exist.")
    return identity


def delete_identity(self: CloudFrontBackend, identity_id: str) -> None:
    get_identity(self, identity_id)
    for distribution in self.distributions.values():
        for origin in distribution.distribution_config.Origins["Items"]:
            if origin.s3_access_identity == _PATH + identity_id:
                raise CloudFrontException("CloudFrontOriginAccessIdentityInUse",
                                          "The Origin Access Identity specified is already in use.")
    del _store(self)[identity_id]


def identity_exists(backend: CloudFrontBackend, reference: str) -> bool:
    """Whether an origin's S3OriginConfig.OriginAccessIdentity ("origin-access-identity/cloudfront/ID") exists."""
    return reference.startswith(_PATH) and reference[len(_PATH):] in _store(backend)


def _body(identity: dict) -> dict:
    return {k: identity[k] for k in ("Id", "S3CanonicalUserId", "CloudFrontOriginAccessIdentityConfig")}


def response_create(self: CloudFrontResponse) -> ActionResult:
    identity = self.backend.create_cloud_front_origin_access_identity(
        self._get_param("CloudFrontOriginAccessIdentityConfig") or {})
    return ActionResult({"CloudFrontOriginAccessIdentity": _body(identity), "ETag": identity["ETag"],
                         "Location": f"https://cloudfront.amazonaws.com/2020-05-31/{_PATH}{identity['Id']}"})


def response_get(self: CloudFrontResponse) -> ActionResult:
    identity = self.backend.get_cloud_front_origin_access_identity(self._get_param("Id"))
    return ActionResult({"CloudFrontOriginAccessIdentity": _body(identity), "ETag": identity["ETag"]})


def response_get_config(self: CloudFrontResponse) -> ActionResult:
    identity = self.backend.get_cloud_front_origin_access_identity(self._get_param("Id"))
    return ActionResult({"CloudFrontOriginAccessIdentityConfig": identity["CloudFrontOriginAccessIdentityConfig"],
                         "ETag": identity["ETag"]})


def response_list(self: CloudFrontResponse) -> ActionResult:
    items = [{"Id": i["Id"], "S3CanonicalUserId": i["S3CanonicalUserId"],
              "Comment": i["CloudFrontOriginAccessIdentityConfig"].get("Comment", "")} for i in _store(self.backend).values()]
    return ActionResult({"CloudFrontOriginAccessIdentityList": {
        "Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": len(items), "Items": items}})


def response_delete(self: CloudFrontResponse) -> EmptyResult:
    self.backend.delete_cloud_front_origin_access_identity(self._get_param("Id"))
    return EmptyResult()


# (key, owner, attribute, implementation) of what moto lacks (owner a class or moto's URL table); patches.py
# checks each is still absent.
ADDITIONS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    ("cloudfront_create_oai", CloudFrontBackend, "create_cloud_front_origin_access_identity", create_identity),
    ("cloudfront_get_oai", CloudFrontBackend, "get_cloud_front_origin_access_identity", get_identity),
    ("cloudfront_delete_oai", CloudFrontBackend, "delete_cloud_front_origin_access_identity", delete_identity),
    ("cloudfront_response_create_oai", CloudFrontResponse, "create_cloud_front_origin_access_identity", response_create),
    ("cloudfront_response_get_oai", CloudFrontResponse, "get_cloud_front_origin_access_identity", response_get),
    ("cloudfront_response_get_oai_config", CloudFrontResponse, "get_cloud_front_origin_access_identity_config",
     response_get_config),
    ("cloudfront_response_list_oai", CloudFrontResponse, "list_cloud_front_origin_access_identities", response_list),
    ("cloudfront_response_delete_oai", CloudFrontResponse, "delete_cloud_front_origin_access_identity", response_delete),
    ("cloudfront_url_oai", urls.url_paths, "{0}/2020-05-31/origin-access-identity/cloudfront$", CloudFrontResponse.dispatch),
    ("cloudfront_url_oai_id", urls.url_paths, "{0}/2020-05-31/origin-access-identity/cloudfront/(?P<oai_id>[^/]+)$",
     CloudFrontResponse.dispatch),
    ("cloudfront_url_oai_config", urls.url_paths,
     "{0}/2020-05-31/origin-access-identity/cloudfront/(?P<oai_id>[^/]+)/config$", CloudFrontResponse.dispatch),
]

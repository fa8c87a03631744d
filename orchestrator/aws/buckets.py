"""The S3 side of AwsSession: the bucket that carries template bodies over CloudFormation's inline limit."""

from __future__ import annotations

from typing import Any

import structlog

from orchestrator.aws.errors import AwsError, TemplateRejected

log = structlog.get_logger(__name__)

TEMPLATE_BUCKET_PREFIX = "cfn-autofix-templates-"
TEMPLATE_URL_LIMIT = 1_000_000


class TemplateBuckets:
    """Methods of AwsSession that manage template buckets (mixed in; they use the session's _call and client)."""

    def template_bucket(self) -> str:
        """The sandbox bucket large templates are staged in: one per account and region."""
        return f"{TEMPLATE_BUCKET_PREFIX}{self.account_id}-{self.region}"

    def template_url(self, bucket: str, key: str) -> str:
        # The virtual-hosted AWS form is what CloudFormation accepts, and moto resolves it to its own S3 too.
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://{bucket}.s3.{self.region}.{suffix}/{key}"

    def ensure_bucket(self, bucket: str) -> None:
        """Create the bucket if it does not exist yet (tagged so `sweep` can recognise it)."""
        try:
            self._call("s3", "head_bucket", Bucket=bucket)
            return
        except AwsError as exc:
            if exc.status_code != 404 and exc.code not in ("404", "NoSuchBucket", "NotFound"):
                raise
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._call("s3", "create_bucket", **kwargs)
        except AwsError as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise
        self._call("s3", "put_bucket_tagging", Bucket=bucket, Tagging={"TagSet": [{"Key": "cfn-autofix:managed", "Value": "true"}]})
        log.info("template_bucket_created", bucket=bucket, region=self.region)

    def upload_template(self, bucket: str, key: str, body: str) -> str:
        """Put a template body into S3 (creating the bucket on demand); returns its TemplateURL."""
        data = body.encode("utf-8")
        if len(data) > TEMPLATE_URL_LIMIT:
            raise TemplateRejected(
                f"the template is {len(data):,} bytes; CloudFormation accepts at most {TEMPLATE_URL_LIMIT:,} bytes",
                operation="PutObject",
            )
        self.ensure_bucket(bucket)
        self._call("s3", "put_object", Bucket=bucket, Key=key, Body=data, ContentType="text/plain")
        url = self.template_url(bucket, key)
        log.info("template_uploaded", bucket=bucket, key=key, bytes=len(data))
        return url

    def list_template_buckets(self, prefix: str = TEMPLATE_BUCKET_PREFIX) -> list[str]:
        """Buckets this tool staged templates in (by name prefix)."""
        answer = self._call("s3", "list_buckets")
        return [b["Name"] for b in answer.get("Buckets") or [] if str(b["Name"]).startswith(prefix)]

    def delete_bucket_contents(self, bucket: str) -> int:
        """Delete every object version and delete marker in a bucket (so it can be deleted); returns the count."""

        def read() -> list[dict[str, str]]:
            keys: list[dict[str, str]] = []
            for page in self.client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket):
                for item in (page.get("Versions") or []) + (page.get("DeleteMarkers") or []):
                    entry = {"Key": item["Key"]}
                    if item.get("VersionId"):
                        entry["VersionId"] = item["VersionId"]
                    keys.append(entry)
            return keys

        objects = self._retrying("ListObjectVersions", read)
        for start in range(0, len(objects), 1000):
            batch = objects[start : start + 1000]
            self._call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        log.info("bucket_emptied", bucket=bucket, objects=len(objects))
        return len(objects)

    def delete_bucket(self, bucket: str) -> None:
        """Empty and delete a template bucket."""
        self.delete_bucket_contents(bucket)
        self._call("s3", "delete_bucket", Bucket=bucket)
        log.info("bucket_deleted", bucket=bucket)

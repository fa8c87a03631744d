"""AWS calls behind prerequisites: zones, SSM values, images, key pairs, exports and artifact objects."""

from __future__ import annotations

from typing import Any

import structlog

from orchestrator.aws.errors import AwsError

log = structlog.get_logger(__name__)

_NOT_FOUND = ("ParameterNotFound", "NoSuchKey", "NotFound", "404", "NoSuchBucket", "InvalidKeyPair.NotFound")


def _missing(exc: AwsError) -> bool:
    return exc.status_code == 404 or exc.code in _NOT_FOUND


def availability_zones(session: Any) -> list[str]:
    """The region's available zone names, sorted (what Fn::GetAZs and taskcat's genaz draw from)."""
    answer = session._call("ec2", "describe_availability_zones",
                           Filters=[{"Name": "state", "Values": ["available"]}])
    return sorted(z["ZoneName"] for z in answer.get("AvailabilityZones") or [])


def ssm_parameter(session: Any, name: str) -> str | None:
    """An SSM parameter's value (decrypted), or None when it does not exist."""
    try:
        answer = session._call("ssm", "get_parameter", Name=name, WithDecryption=True)
    except AwsError as exc:
        if _missing(exc):
            return None
        raise
    return str(answer["Parameter"]["Value"])


def amazon_image(session: Any) -> str | None:
    """Some Amazon-owned x86_64 image of the region (a stand-in when no SSM public parameter answers)."""
    answer = session._call("ec2", "describe_images", Owners=["amazon"],
                           Filters=[{"Name": "architecture", "Values": ["x86_64"]}])
    images = sorted(answer.get("Images") or [], key=lambda i: i["ImageId"])
    return images[0]["ImageId"] if images else None


def create_key_pair(session: Any, name: str, run_id: str) -> str:
    """Create a key pair tagged with the run id; the private key is discarded (nobody logs in to a sandbox)."""
    from orchestrator.aws.session import RUN_ID_TAG

    session._call("ec2", "create_key_pair", KeyName=name,
                  TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": RUN_ID_TAG, "Value": run_id}]}])
    log.info("key_pair_created", key_name=name)
    return name


def _delete(session: Any, service: str, operation: str, **params: Any) -> None:
    """One delete call; what is already gone counts as deleted."""
    try:
        session._call(service, operation, **params)
    except AwsError as exc:
        if not (_missing(exc) or exc.code == "ResourceNotFoundException"):
            raise
    log.info("fixture_deleted", operation=operation, **params)


def delete_key_pair(session: Any, name: str) -> None:
    _delete(session, "ec2", "delete_key_pair", KeyName=name)


def list_exports(session: Any) -> dict[str, str]:
    """Every export of the region: name -> exporting stack id."""
    exports: dict[str, str] = {}
    token: str | None = None
    while True:
        answer = session._call("cloudformation", "list_exports", **({"NextToken": token} if token else {}))
        for item in answer.get("Exports") or []:
            exports[str(item["Name"])] = str(item.get("ExportingStackId", ""))
        token = answer.get("NextToken")
        if not token:
            return exports


def stack_outputs(session: Any, name: str) -> dict[str, str]:
    stack = session.describe_stack(name) or {}
    return {str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in stack.get("Outputs") or []}


def object_exists(session: Any, bucket: str, key: str) -> bool:
    try:
        session._call("s3", "head_object", Bucket=bucket, Key=key)
    except AwsError as exc:
        if _missing(exc) or exc.status_code == 403:
            return False
        raise
    return True


def put_object(session: Any, bucket: str, key: str, data: bytes) -> None:
    session.ensure_bucket(bucket)
    session._call("s3", "put_object", Bucket=bucket, Key=key, Body=data)
    log.info("artifact_uploaded", bucket=bucket, key=key, bytes=len(data))


def security_group_id(session: Any, vpc_id: str, name: str) -> str | None:
    """The id of the security group `name` in `vpc_id` (GetAtt GroupId answers differ between emulators)."""
    answer = session._call("ec2", "describe_security_groups",
                           Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}])
    groups = answer.get("SecurityGroups") or []
    return str(groups[0]["GroupId"]) if groups else None


def delete_run_key_pairs(session: Any, run_id: str) -> list[str]:
    """Delete the key pairs a run's fixtures created (tagged with its id); `sweep` calls it for each swept run."""
    from orchestrator.aws.session import RUN_ID_TAG

    answer = session._call("ec2", "describe_key_pairs", Filters=[{"Name": f"tag:{RUN_ID_TAG}", "Values": [run_id]}])
    names = [str(k["KeyName"]) for k in answer.get("KeyPairs") or []]
    for name in names:
        delete_key_pair(session, name)
    return names


def import_certificate(session: Any, certificate: bytes, private_key: bytes, run_id: str) -> str:
    """Import a certificate into ACM, tagged with the run id; returns its ARN."""
    from orchestrator.aws.session import RUN_ID_TAG

    answer = session._call("acm", "import_certificate", Certificate=certificate, PrivateKey=private_key,
                           Tags=[{"Key": RUN_ID_TAG, "Value": run_id}])
    log.info("certificate_imported", arn=answer["CertificateArn"])
    return str(answer["CertificateArn"])


def delete_certificate(session: Any, arn: str) -> None:
    _delete(session, "acm", "delete_certificate", CertificateArn=arn)


def delete_run_certificates(session: Any, run_id: str) -> list[str]:
    """Delete the certificates a run's fixtures imported (tagged with its id); `sweep` calls it for each swept run."""
    from orchestrator.aws.session import RUN_ID_TAG

    arns = [str(c["CertificateArn"]) for c in session._call("acm", "list_certificates").get("CertificateSummaryList") or []]
    mine = [arn for arn in arns
            if {"Key": RUN_ID_TAG, "Value": run_id} in (session._call("acm", "list_tags_for_certificate",
                                                                       CertificateArn=arn).get("Tags") or [])]
    for arn in mine:
        delete_certificate(session, arn)
    return mine


def create_user_pool(session: Any, name: str, run_id: str) -> dict[str, str]:
    """A Cognito user pool tagged with the run id: {"Id", "Arn"}."""
    from orchestrator.aws.session import RUN_ID_TAG

    pool = session._call("cognito-idp", "create_user_pool", PoolName=name, UserPoolTags={RUN_ID_TAG: run_id})["UserPool"]
    log.info("user_pool_created", pool_id=pool["Id"])
    return {"Id": str(pool["Id"]), "Arn": str(pool["Arn"])}


def delete_user_pool(session: Any, pool_id: str) -> None:
    _delete(session, "cognito-idp", "delete_user_pool", UserPoolId=pool_id)


def delete_run_user_pools(session: Any, run_id: str) -> list[str]:
    """Delete the user pools a run's fixtures created (tagged with its id); `sweep` calls it for each swept run."""
    from orchestrator.aws.session import RUN_ID_TAG

    pools = session._call("cognito-idp", "list_user_pools", MaxResults=60).get("UserPools") or []
    mine = [str(p["Id"]) for p in pools
            if (session._call("cognito-idp", "describe_user_pool", UserPoolId=p["Id"])["UserPool"].get("UserPoolTags")
                or {}).get(RUN_ID_TAG) == run_id]
    for pool_id in mine:
        delete_user_pool(session, pool_id)
    return mine

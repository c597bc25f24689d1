"""Tagging a resource with its own service's API, one small entry per kind of resource.

The exemption approval function hears these calls (the Resource Groups Tagging API is not
heard, see README "Exemptions"), so each service's own call is used. Resources that have no
tags (IAM groups, the EBS encryption setting of a region) get a reason instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Aws = Callable[[str], Any]
Tagger = Callable[[Aws, str, str, str], None]
"""tagger(aws, arn, key, value): set one tag, keeping the others."""

_VALUE = re.compile(r"[^\w .:/=+\-@]")
MAX_VALUE = 256


def tag_value(text: str) -> str:
    """`text` as every service accepts a tag value (IAM's characters, 256 at most)."""
    return _VALUE.sub("_", text)[:MAX_VALUE]


def tagger_of(arn: str) -> tuple[Tagger | None, str]:
    """(tagger, '') for a resource that takes tags, (None, why) for one that does not."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None, f"{arn!r} is not an ARN"
    service, resource = parts[2], parts[5]
    if service == "iam":
        kind = resource.split("/", 1)[0]
        iam: dict[str, Tagger] = {"role": _iam_role, "user": _iam_user, "policy": _iam_policy}
        if kind not in iam:
            return None, f"IAM {kind}s cannot be tagged"
        return iam[kind], ""
    if service == "apigateway" and resource.startswith("/apis/"):
        return _apigatewayv2, ""
    found = _TAGGERS.get(service)
    if found is None:
        return None, f"{service} resources have no tags here ({arn})"
    return found, ""


def _name(arn: str) -> str:
    return arn.split(":", 5)[5].rsplit("/", 1)[-1]


def _iam_role(aws: Aws, arn: str, key: str, value: str) -> None:
    aws("iam").tag_role(RoleName=_name(arn), Tags=[{"Key": key, "Value": value}])


def _iam_user(aws: Aws, arn: str, key: str, value: str) -> None:
    aws("iam").tag_user(UserName=_name(arn), Tags=[{"Key": key, "Value": value}])


def _iam_policy(aws: Aws, arn: str, key: str, value: str) -> None:
    aws("iam").tag_policy(PolicyArn=arn, Tags=[{"Key": key, "Value": value}])


def _s3(aws: Aws, arn: str, key: str, value: str) -> None:
    """PutBucketTagging replaces every tag: read them first, change only ours."""
    from botocore.exceptions import ClientError

    bucket = arn.split(":", 5)[5].split("/", 1)[0]
    try:
        tags = aws("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchTagSet":
            raise
        tags = []
    kept = [t for t in tags if t["Key"] != key]
    aws("s3").put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [*kept, {"Key": key, "Value": value}]}
    )


def _sqs(aws: Aws, arn: str, key: str, value: str) -> None:
    account, name = arn.split(":")[4], arn.split(":")[5]
    url = aws("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    aws("sqs").tag_queue(QueueUrl=url, Tags={key: value})


def _tag_resource_list(service: str, arn_key: str = "ResourceArn") -> Tagger:
    def tag(aws: Aws, arn: str, key: str, value: str) -> None:
        aws(service).tag_resource(**{arn_key: arn}, Tags=[{"Key": key, "Value": value}])

    return tag


def _tag_resource_map(service: str, arn_key: str, tags_key: str) -> Tagger:
    def tag(aws: Aws, arn: str, key: str, value: str) -> None:
        aws(service).tag_resource(**{arn_key: arn, tags_key: {key: value}})

    return tag


def _rds(aws: Aws, arn: str, key: str, value: str) -> None:
    aws("rds").add_tags_to_resource(ResourceName=arn, Tags=[{"Key": key, "Value": value}])


def _cloudfront(aws: Aws, arn: str, key: str, value: str) -> None:
    aws("cloudfront").tag_resource(Resource=arn, Tags={"Items": [{"Key": key, "Value": value}]})


_apigatewayv2 = _tag_resource_map("apigatewayv2", "ResourceArn", "Tags")
_TAGGERS: dict[str, Tagger] = {
    "s3": _s3,
    "sns": _tag_resource_list("sns"),
    "sqs": _sqs,
    "dynamodb": _tag_resource_list("dynamodb"),
    "rds": _rds,
    "apigateway": _tag_resource_map("apigateway", "resourceArn", "tags"),
    "appsync": _tag_resource_map("appsync", "resourceArn", "tags"),
    "cloudfront": _cloudfront,
}

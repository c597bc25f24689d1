"""`autoremediate undo` for every remediator family, in the embedded moto account: break ->
remediate (enforce) -> undo puts back the exact before (read here with boto3, not through our
code), the resource carries the exemption tag whose value the undo approved in the ledger, the
same event then finds it EXEMPT and changes nothing, and the ledger holds the entry UNDONE and
the RESTORED record. tests/cli/test_undo.py covers SNS and IAM, and the refusals. Every
family here has a tagger (autoremediate_cli.tagging; WAF's entry names the API stage)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from core.exemptions import EXEMPT_TAG, approval_key, tags_to_dict
from core.ledger import Ledger
from core.outcome import Status
from tools.scenario import ACCOUNT, REGION, Stack, moto_as_aws, prepare

CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"  # moto's get_caller_identity
BUCKET = "app-data-bucket"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders"
API, STAGE, PLAN, DOMAIN = "a1b2c3d4e5", "prod", "p1q2r3s4t5", "api.example.com"
STAGE_ARN = f"arn:aws:apigateway:{REGION}::/restapis/{API}/stages/{STAGE}"
DISTRIBUTION = "E2QWRUHAPOMQZL"
THROTTLING = {"THROTTLING_RATE_LIMIT": "1000", "THROTTLING_BURST_LIMIT": "2000"}  # defaults


def absent(read: Callable[[], Any], *codes: str) -> Any:
    """What `read` returns, or None when AWS answers one of `codes` (nothing configured)."""
    try:
        return read()
    except ClientError as error:
        if error.response["Error"]["Code"] in codes:
            return None
        raise


def described(response: dict[str, Any], *volatile: str) -> dict[str, Any]:
    """A describe call's answer without its metadata, tags (undo adds one) and `volatile`."""
    drop = {"ResponseMetadata", "tags", *volatile}
    return {k: v for k, v in response.items() if k not in drop}


# --- each family's setting, as the service reports it, and the resource's tags ----------------


def bucket_encryption(aws):
    found = absent(lambda: aws("s3").get_bucket_encryption(Bucket=BUCKET),
                   "ServerSideEncryptionConfigurationNotFoundError")  # fmt: skip
    return found and found["ServerSideEncryptionConfiguration"]


def bucket_policy(aws):
    found = absent(lambda: aws("s3").get_bucket_policy(Bucket=BUCKET), "NoSuchBucketPolicy")
    return found and json.loads(found["Policy"])


def bucket_tags(aws):
    found = absent(lambda: aws("s3").get_bucket_tagging(Bucket=BUCKET), "NoSuchTagSet")
    return tags_to_dict(found and found["TagSet"])


def queue(aws):
    attributes = aws("sqs").get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])
    return described(attributes["Attributes"], "LastModifiedTimestamp")


def queue_tags(aws):
    return aws("sqs").list_queue_tags(QueueUrl=QUEUE_URL).get("Tags", {})


def table_sse(aws):
    return aws("dynamodb").describe_table(TableName="orders")["Table"].get("SSEDescription")


def table_tags(aws):
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
    return tags_to_dict(aws("dynamodb").list_tags_of_resource(ResourceArn=arn)["Tags"])


def stage(aws):
    found = aws("apigateway").get_stage(restApiId=API, stageName=STAGE)
    return described(found, "lastUpdatedDate")


def stage_tags(aws):
    return aws("apigateway").get_stage(restApiId=API, stageName=STAGE).get("tags", {})


def stage_web_acl(aws):
    found = aws("wafv2").get_web_acl_for_resource(ResourceArn=STAGE_ARN)
    return found.get("WebACL", {}).get("ARN")


def usage_plan(aws):
    return described(aws("apigateway").get_usage_plan(usagePlanId=PLAN))


def usage_plan_tags(aws):
    return aws("apigateway").get_usage_plan(usagePlanId=PLAN).get("tags", {})


def domain(aws):
    return described(aws("apigateway").get_domain_name(domainName=DOMAIN))


def domain_tags(aws):
    return aws("apigateway").get_domain_name(domainName=DOMAIN).get("tags", {})


def distribution(aws):
    return aws("cloudfront").get_distribution_config(Id=DISTRIBUTION)["DistributionConfig"]


def distribution_tags(aws):
    arn = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{DISTRIBUTION}"
    return tags_to_dict(aws("cloudfront").list_tags_for_resource(Resource=arn)["Tags"]["Items"])


@dataclass(frozen=True)
class Family:
    module: str
    sample: str  # in events/<module>/samples.toml: prepare() seeds its state
    state: Callable[[Any], Any]
    tags: Callable[[Any], dict[str, str]]
    env: Callable[[Stack], dict[str, str]] = field(default=lambda _: {})
    """The function's settings, as its own tests (and template.yaml) set them."""


FAMILIES = {
    "s3-encryption": Family("s3_bucket_encryption", "CreateBucket", bucket_encryption,
                            bucket_tags, lambda _: {"S3_ENCRYPTION_LEVEL": "SSE-KMS"}),
    "s3-secure-transport": Family("s3_bucket_secure_transport", "PutBucketPolicy",
                                  bucket_policy, bucket_tags),
    "sqs-encryption": Family("sqs_queue_encryption", "CreateQueue", queue, queue_tags),
    "dynamodb-encryption": Family("dynamodb_table_encryption", "CreateTable", table_sse,
                                  table_tags),
    "stage-throttling": Family("apigateway_stage_throttling", "CreateStage", stage, stage_tags,
                               lambda _: THROTTLING),
    "usage-plan-throttling": Family("apigateway_usage_plan_throttling", "UpdateUsagePlan",
                                    usage_plan, usage_plan_tags, lambda _: THROTTLING),
    "waf-attachment": Family("waf_web_acl_attachment", "CreateStage", stage_web_acl, stage_tags,
                             lambda stack: {"BASELINE_WEB_ACL_ARN": stack.web_acl_arn,
                                            "REPLACE_EXISTING_WEB_ACL": "false"}),
    "domain-tls": Family("apigateway_domain_tls", "CreateDomainName", domain, domain_tags),
    "cloudfront-protection": Family(
        "cloudfront_distribution_protection", "UpdateDistribution", distribution,
        distribution_tags, lambda stack: {
            "BASELINE_CLOUDFRONT_WEB_ACL_ARN": stack.cloudfront_web_acl_arn,
            "REPLACE_EXISTING_WEB_ACL": "false"}),
}  # fmt: skip


@pytest.fixture
def moto_like_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """tools.scenario.moto_as_aws (the samples' ids, DynamoDB's SSE, UpdateDomainName), undone
    after the test as tests/unit/test_bench.py does; and API Gateway's TagResource of usage
    plans and domain names, as AWS has it (moto 5.2 tags stages only, and answers NotFound)."""
    from moto.apigateway.models import APIGatewayBackend
    from moto.apigateway.responses import APIGatewayResponse
    from moto.apigatewayv2.responses import ApiGatewayV2Response
    from moto.cloudfront.models import CloudFrontBackend
    from moto.dynamodb.responses import DynamoHandler

    for owner, name in [(DynamoHandler, "update_table"),
                        (CloudFrontBackend, "create_distribution_with_tags"),
                        (APIGatewayBackend, "create_usage_plan"),
                        (APIGatewayResponse, "update_domain_name"),
                        (ApiGatewayV2Response, "update_domain_name")]:  # fmt: skip
        monkeypatch.setattr(owner, name, getattr(owner, name, None), raising=False)
        if getattr(owner, name) is None:  # added by the patch: removed after the test
            monkeypatch.delattr(owner, name)
    moto_as_aws()
    stages_only = APIGatewayResponse.tag_resource

    def tag_resource(self: Any) -> str:
        kind, _, name = unquote(self.path.split("/tags/")[1]).split("::/")[-1].partition("/")
        read = {"usageplans": self.backend.get_usage_plan,
                "domainnames": self.backend.get_domain_name}.get(kind)  # fmt: skip
        if read is None:
            return str(stages_only(self))
        resource, tags = read(name), self._get_param("tags") or {}
        resource.tags = {**(resource.tags or {}), **tags}
        return json.dumps({"item": tags})

    monkeypatch.setattr(APIGatewayResponse, "tag_resource", tag_resource)


@pytest.mark.usefixtures("moto_like_aws")
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_undo_restores_exempts_and_records_each_family(
    aws, stack, cli, remediate, monkeypatch, name
):
    family = FAMILIES[name]
    module = importlib.import_module(family.module)
    monkeypatch.delenv("ENCRYPTION_KMS_KEY_ARN", raising=False)  # the AWS-managed keys
    for key, value in family.env(stack).items():
        monkeypatch.setenv(key, value)
    event = prepare(aws, family.sample, family.module)
    before = family.state(aws)
    [outcome] = remediate(module, event)
    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert family.state(aws) != before  # else the restore below would prove nothing
    assert EXEMPT_TAG not in family.tags(aws)

    ran = cli("undo", outcome.outcome_id, "--output", "json")

    assert ran.code == 0, ran.err
    done = ran.json()
    assert done["by"] == CALLER and done["dry_run"] is False and done["calls"]
    assert family.state(aws) == before  # the exact before state
    approved = Ledger(aws, stack.table).approval(approval_key(outcome.resource_arn))
    assert approved is not None and approved["by"] == CALLER
    assert done["exemption"] == {"tag": EXEMPT_TAG, "value": approved["value"],
                                 "until": approved["until"]}  # fmt: skip
    assert family.tags(aws)[EXEMPT_TAG] == approved["value"]
    # The same event again: the resource is exempt, and nothing changes.
    [again] = remediate(module, event)
    assert again.status is Status.EXEMPT, again.reason
    assert family.state(aws) == before
    # The ledger: the remediation UNDONE by the caller, and the undo's own RESTORED record.
    original = Ledger(aws, stack.table).get(outcome.outcome_id)
    assert original["status"] == "UNDONE" and original["undone_by"] == CALLER
    restored = Ledger(aws, stack.table).get(done["record_id"])
    assert restored["status"] == "RESTORED" and restored["undo_of"] == outcome.outcome_id
    assert restored["resource_arn"] == outcome.resource_arn
    undone = [c for c in reversed(original["changes"]) if c["applied"] and c["undo"]]
    assert [c["after"] for c in restored["changes"]] == [c["before"] for c in undone]

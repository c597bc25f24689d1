"""The embedded default account: our stack's resources and the state each sample event describes.

Shared by `make demo`, the benchmark and the tests, so that all three show the same thing. Each
sample's state is its seed in events/<module>/samples.toml, run here: boto3 calls, or for IAM
*replays* of the sample events' own API calls, so that a sample event and the state it describes
cannot drift apart. No remediator has code here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tools.samples import EVENTS as EVENTS  # re-exported: the tools and tests read it here
from tools.samples import Replay, SamplesError, Step, samples_of

IAM = "iam_policy_least_privilege"
ACCOUNT = "123456789012"
# The IAM function's role as CloudFormation would name it (events/...-own-action.json acts as it).
OWN_ROLE = "autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F"
OWN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/autoremediate/{OWN_ROLE}"
REGION = "us-east-1"
STACK_NAME = "autoremediate"
# Pseudo parameters as CloudFormation resolves them for the embedded account's stack.
PSEUDO_PARAMETERS = {
    "AWS::StackName": STACK_NAME,
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
}
CODEBUILD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
         "Action": "sts:AssumeRole"}
    ],
}  # fmt: skip

Aws = Callable[[str], Any]

# The AWS-managed policies the scenario attaches or that tests compare against. moto can load all
# ~1,300 of them, but that takes seconds on every reset; these few keep the real documents.
MANAGED_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "AmazonS3FullAccess",
)


def load_few_managed_policies() -> None:
    """Make moto's IAM know the AWS-managed policies in MANAGED_POLICIES (call before mocking)."""
    import os

    import moto.iam.models as iam_models

    every = json.loads(iam_models.aws_managed_policies_data)  # type: ignore[attr-defined]
    iam_models.aws_managed_policies_data = json.dumps({k: every[k] for k in MANAGED_POLICIES})  # type: ignore[attr-defined]
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"


KILL_SWITCH = f"/{STACK_NAME}/kill-switch"


@dataclass(frozen=True)
class Stack:
    """What `sam deploy` creates that the functions use: ledger table and topic (+ a test inbox),
    and the baseline web ACLs (REGIONAL, and CLOUDFRONT as a us-east-1 stack has it)."""

    table: str
    topic_arn: str
    inbox_url: str
    web_acl_arn: str = f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/{STACK_NAME}-baseline/0"
    cloudfront_web_acl_arn: str = (
        f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/{STACK_NAME}-baseline-cloudfront/0"
    )
    kill_switch: str = KILL_SWITCH
    """The SSM parameter of template.yaml's KillSwitchParameter (`off`: the deployed Mode holds)."""

    def env(self, mode: str = "report") -> dict[str, str]:
        return {
            "MODE": mode,
            "LEDGER_TABLE": self.table,
            "TOPIC_ARN": self.topic_arn,
            "EXEMPT_PRINCIPALS": "",
            "OWN_ROLE_ARNS": OWN_ROLE_ARN,
            "WILDCARD_LEVEL": "service",
            "KILL_SWITCH_PARAMETER": self.kill_switch,
        }


def deploy_stack(aws: Aws) -> Stack:
    """The stack's ledger and topic, and an SQS queue subscribed to the topic to read notices."""
    table = "autoremediate-ledger"
    aws("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "outcome_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("outcome_id", "day", "time")
        ],
        GlobalSecondaryIndexes=[  # as template.yaml's LedgerTable
            {
                "IndexName": "by-day",
                "KeySchema": [
                    {"AttributeName": "day", "KeyType": "HASH"},
                    {"AttributeName": "time", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    topic_arn = aws("sns").create_topic(Name="autoremediate-notifications")["TopicArn"]
    inbox = aws("sqs").create_queue(QueueName="autoremediate-inbox")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    aws("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    aws("ssm").put_parameter(Name=KILL_SWITCH, Value="off", Type="String")
    acls = {scope: _web_acl(aws, scope) for scope in ("REGIONAL", "CLOUDFRONT")}
    return Stack(table, topic_arn, inbox, acls["REGIONAL"], acls["CLOUDFRONT"])


def _web_acl(aws: Aws, scope: str) -> str:
    """A baseline web ACL as the template's BaselineWebAcl / BaselineCloudFrontWebAcl (rules
    left out: moto does not evaluate them)."""
    suffix = "-cloudfront" if scope == "CLOUDFRONT" else ""
    visibility = {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": f"{STACK_NAME}-baseline{suffix}",
    }
    created = aws("wafv2").create_web_acl(
        Name=f"{STACK_NAME}-baseline{suffix}",
        Scope=scope,
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
    )
    return str(created["Summary"]["ARN"])


def seed_principals(aws: Aws) -> None:
    """The principals the sample events act on, before anyone grants them anything."""
    iam = aws("iam")
    iam.create_role(
        RoleName="app-deploy-role", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST)
    )
    iam.create_user(UserName="ci-bot")
    iam.create_group(GroupName="developers")


def load_event(name: str, remediator: str = IAM) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / remediator / f"{name}.json").read_text())
    return event


def replay(aws: Aws, event: dict[str, Any]) -> None:
    """Make the API call a CloudTrail sample event records, with its own request parameters."""
    detail = event["detail"]
    service = detail["eventSource"].split(".")[0]
    operation = re.sub(r"(?<!^)(?=[A-Z])", "_", detail["eventName"]).lower()
    params = {k[0].upper() + k[1:]: v for k, v in (detail["requestParameters"] or {}).items()}
    getattr(aws(service), operation)(**params)


def inbox(aws: Aws, stack: Stack) -> list[dict[str, Any]]:
    """Drain the notifications published so far: subject, JSON body and message attributes."""
    notes: list[dict[str, Any]] = []
    while True:
        got = aws("sqs").receive_message(QueueUrl=stack.inbox_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return notes
        for message in messages:
            envelope = json.loads(message["Body"])
            notes.append(
                {
                    "subject": envelope.get("Subject"),
                    "body": json.loads(envelope["Message"]),
                    "attributes": {
                        k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                    },
                }
            )
            aws("sqs").delete_message(
                QueueUrl=stack.inbox_url, ReceiptHandle=message["ReceiptHandle"]
            )


# ------------------------------------------------------------------ sample states
# Each sample event's state is data: the seed in events/<module>/samples.toml (tools/samples.py).
# Seeds are "make it so" where samples.toml says `repeatable` (the default), so that seeding
# again also puts a violation back after a fix (the benchmark's warm runs).
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def prepare(aws: Aws, name: str, remediator: str = IAM) -> dict[str, Any]:
    """Seed the state sample event `name` of `remediator` describes, and return the event."""
    seed(aws, remediator, samples_of(remediator)[name].seed)
    return load_event(name, remediator)


def prepare_quiet(aws: Aws, remediator: str, event: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's quiet (COMPLIANT) run after the representative `event`: the same event
    once a report-only function's `compliant` state is seeded (a fix needs none), or the
    `quiet` sample of a function whose resource no state makes compliant."""
    facts = samples_of(remediator)
    if facts.quiet:
        return prepare(aws, facts.quiet, remediator)
    seed(aws, remediator, facts[facts.representative].compliant)
    return event


def seed_estate(aws: Aws, remediators: Iterable[str]) -> None:
    """Each remediator's representative state, in order: the account the demo plays on."""
    for remediator in remediators:
        facts = samples_of(remediator)
        seed(aws, remediator, facts[facts.representative].seed)


def seed(aws: Aws, remediator: str, steps: Iterable[Step]) -> None:
    """Run a seed's steps in order: boto3 calls (an `ok` error code: already so), or replays of
    the call a CloudTrail sample event of `remediator` records."""
    from botocore.exceptions import ClientError

    results: dict[str, Any] = {"ACCOUNT": ACCOUNT, "REGION": REGION}
    for step in steps:
        if isinstance(step, Replay):
            replay(aws, load_event(step.sample, remediator))
            continue
        params = _substitute(step.params, results)
        try:
            results[step.operation] = getattr(aws(step.service), step.operation)(**params)
        except ClientError as error:
            if error.response["Error"]["Code"] not in step.ok:
                raise


def _substitute(value: Any, results: Mapping[str, Any]) -> Any:
    """${ACCOUNT}, ${REGION} and ${<operation>.<Key>...} (an earlier call's result; a number
    picks a list's item: ${list_web_acls.WebACLs.0.ARN}) in strings."""
    if isinstance(value, Mapping):
        return {k: _substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        found: Any = results
        for part in match.group(1).split("."):
            if isinstance(found, list) and part.isdigit() and int(part) < len(found):
                found = found[int(part)]
                continue
            if not isinstance(found, Mapping) or part not in found:
                raise SamplesError(f"seed: nothing earlier gives ${{{match.group(1)}}}")
            found = found[part]
        return str(found)

    return _PLACEHOLDER.sub(lookup, value)


def moto_applies_dynamodb_sse() -> None:
    """Make moto's DynamoDB apply UpdateTable's SSESpecification, as DynamoDB does.

    moto 5.2 parses the request and ignores it (responses.update_table never reads it), so a fix
    could never be verified. Patched in moto's request handler: in-process (mock_aws) and in a
    moto server alike. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.update_table
    if getattr(original, "applies_sse", False):
        return

    def update_table(self: Any) -> Any:
        spec = self.body.get("SSESpecification")
        if spec is not None:
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            if spec.get("Enabled"):
                key = spec.get("KMSMasterKeyId") or table._get_default_encryption_key(
                    table.account_id, table.region_name
                )
                table.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
            else:
                table.sse_specification = None  # back to the AWS-owned key
        return original(self)

    update_table.applies_sse = True  # type: ignore[attr-defined]
    DynamoHandler.update_table = update_table  # type: ignore[method-assign]


def moto_honours_cloudfront_custom_ids() -> None:
    """Give a distribution created with the tag `_custom_id_` that id, as moto does for API
    Gateway and Secrets Manager (moto 5.2 draws CloudFront's at random), so that the sample
    events can name it. In moto's backend: in-process and in a moto server alike. Idempotent."""
    from moto.cloudfront.models import CloudFrontBackend

    original = CloudFrontBackend.create_distribution_with_tags
    if getattr(original, "honours_custom_ids", False):
        return

    def create(self: Any, config: dict[str, Any], tags: list[dict[str, str]]) -> Any:
        wanted = next((t.get("Value") for t in tags or [] if t.get("Key") == "_custom_id_"), "")
        dist, _, etag = original(self, config, tags)
        if wanted and wanted != dist.distribution_id:
            self.distributions.pop(dist.distribution_id)
            self.tagger.delete_all_tags_for_resource(dist.arn)
            dist.arn = dist.arn.rsplit("/", 1)[0] + f"/{wanted}"
            dist.distribution_id = dist.id = wanted
            self.distributions[wanted] = dist
            self.tagger.tag_resource(dist.arn, tags)
        return dist, dist.location, etag

    create.honours_custom_ids = True  # type: ignore[attr-defined]
    CloudFrontBackend.create_distribution_with_tags = create  # type: ignore[method-assign,assignment]


def moto_honours_usage_plan_custom_ids() -> None:
    """Give a usage plan created with the tag `_custom_id_` that id, as moto does for REST APIs
    (moto 5.2 ignores it for usage plans), so that the sample events can name it. In moto's
    backend: in-process and in a moto server alike. Idempotent."""
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.create_usage_plan
    if getattr(original, "honours_custom_ids", False):
        return

    def create(self: Any, payload: Any) -> Any:
        plan = original(self, payload)
        wanted = (payload.get("tags") or {}).get("_custom_id_")
        if wanted and wanted != plan.id:
            self.usage_plans.pop(plan.id)
            plan.id = wanted
            self.usage_plans[wanted] = plan
        return plan

    create.honours_custom_ids = True  # type: ignore[attr-defined]
    APIGatewayBackend.create_usage_plan = create  # type: ignore[method-assign]


def moto_as_aws() -> None:
    """Every patch that makes moto behave as AWS does where the samples need it."""
    moto_applies_dynamodb_sse()
    moto_updates_domain_names()
    moto_honours_cloudfront_custom_ids()
    moto_honours_usage_plan_custom_ids()


def moto_updates_domain_names() -> None:
    """Give moto API Gateway's UpdateDomainName, REST and v2, as API Gateway applies it.

    moto 5.2 implements neither (NotImplementedError), so a raised security policy could never
    be verified. REST: `replace /securityPolicy`; v2: the DomainNameConfigurations sent replace
    the domain's. Added to moto's request handlers: in-process (mock_aws) and in a moto server
    alike. Idempotent."""
    from moto.apigateway.responses import APIGatewayResponse
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    if hasattr(APIGatewayResponse, "update_domain_name"):
        return

    def rest(self: Any) -> Any:
        domain = self.backend.get_domain_name(self.path.split("/")[2])
        for operation in self._get_param("patchOperations") or []:
            if operation.get("op") == "replace" and operation.get("path") == "/securityPolicy":
                domain.security_policy = operation.get("value")
        return 200, {}, json.dumps(domain.to_json())

    def v2(self: Any) -> Any:
        domain = self.apigatewayv2_backend.get_domain_name(domain_name=self.path.split("/")[-1])
        configurations = json.loads(self.body).get("domainNameConfigurations")
        if configurations is not None:
            domain.domain_name_configurations = configurations
        return 200, {}, json.dumps(domain.to_json())

    APIGatewayResponse.update_domain_name = rest  # type: ignore[attr-defined]
    ApiGatewayV2Response.update_domain_name = v2  # type: ignore[attr-defined]

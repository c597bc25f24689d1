"""TLS 1.2 at least on API Gateway custom domain names (REST, HTTP and WebSocket APIs).

A domain name whose security policy lets clients in with TLS 1.0 gets TLS_1_2. Any policy of
TLS 1.2 or above is a team's choice and kept: TLS_1_2 and the enhanced policies of the REST API
(SecurityPolicy_TLS13_*, SecurityPolicy_TLS12_*, which also set endpointAccessMode; we never
touch that). A policy this module does not know, or none at all, is reported and never changed:
guessing what a new policy allows could weaken it.

REST and v2 (HTTP, WebSocket) calls both come from apigateway.amazonaws.com under the same event
names; only a v2 record carries `domainNameConfigurations` (its request, its response). AWS Config
records no API Gateway domain names (botocore's Config ResourceType enum lists none), so
CloudTrail is the only trigger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from core.declaration import ENFORCE, CloudTrail, Declaration, Policy, allow, arn
from core.event import EventError, Trigger
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator

MINIMUM = "TLS_1_2"
BELOW_MINIMUM = frozenset({"TLS_1_0"})
AT_LEAST_MINIMUM = frozenset(
    {
        "TLS_1_2",
        "SecurityPolicy_TLS13_1_3_2025_09",
        "SecurityPolicy_TLS13_1_3_FIPS_2025_09",
        "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
        "SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09",
        "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09",
        "SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09",
        "SecurityPolicy_TLS13_1_2_Ext2_FIPS_PQ_2025_09",
        "SecurityPolicy_TLS13_1_2_PQ_2025_09",
        "SecurityPolicy_TLS13_1_2_2021_06",
        "SecurityPolicy_TLS13_2025_EDGE",
        "SecurityPolicy_TLS12_PFS_2025_EDGE",
        "SecurityPolicy_TLS12_2018_EDGE",
    }
)
"""botocore 1.44's SecurityPolicy values, each with TLS 1.2 as its lowest version."""
OUTPUT_ONLY = ("ApiGatewayDomainName", "CertificateUploadDate", "DomainNameStatus",
               "DomainNameStatusMessage", "HostedZoneId")  # fmt: skip
"""What API Gateway sets in a v2 configuration itself: not written back."""
REST, V2 = "apigateway", "apigatewayv2"
# IAM authorizes API Gateway by HTTP verb on the resource path; v2 domain names share v1's path.
# Public domain names' ARNs carry no account; private ones' (name+id) carry this account's.
DOMAIN_NAMES = [
    arn("apigateway", "/domainnames/*", account=False),
    arn("apigateway", "/domainnames/*"),
]

DECLARATION = Declaration(
    name="apigateway_domain_tls",
    title="API Gateway domain TLS",
    description="Raises API Gateway custom domain names below TLS 1.2 to the TLS_1_2 policy",
    cloudtrail=(
        CloudTrail(
            "apigateway.amazonaws.com",
            ("CreateDomainName", "UpdateDomainName"),
            why="REST and v2 (HTTP, WebSocket) domain names alike",
        ),
    ),
    inverse_operations=("apigateway.update_domain_name", "apigatewayv2.update_domain_name"),
    permissions=(
        Policy(
            "apigateway-domain-tls-read",
            (allow("ReadDomainNames", "apigateway:GET", DOMAIN_NAMES),),
        ),
        Policy(
            "apigateway-domain-tls-write",
            (allow("UpdateDomainNames", "apigateway:PATCH", DOMAIN_NAMES),),
            when=ENFORCE,
        ),
    ),
)


class DomainName(NamedTuple):
    """A custom domain name, by the API it was made with (REST or V2) and its region."""

    api: str
    name: str
    region: str
    account: str
    domain_id: str = ""
    """Private REST domain names only: they are named by name and id."""


class ApigatewayDomainTls(Remediator[DomainName]):
    declaration = DECLARATION
    gone_errors = ("NotFoundException",)

    def targets(self, trigger: Trigger) -> list[DomainName]:
        if trigger.kind != "cloudtrail" or trigger.event_name not in DECLARATION.event_names:
            raise EventError(f"{trigger.event_name} is not a trigger of {self.name}")
        request, response = trigger.request, trigger.response
        nested = request.get("createDomainNameInput")
        found = [request, nested if isinstance(nested, Mapping) else {}, response]
        name = next((str(r["domainName"]) for r in found if r.get("domainName")), "")
        if not name:
            raise EventError("event lacks domainName")
        api = V2 if any("domainNameConfigurations" in r for r in found) else REST
        domain_id = next((str(r["domainNameId"]) for r in found if r.get("domainNameId")), "")
        return [DomainName(api, name, trigger.region, trigger.account, domain_id)]

    def evaluate(self, target: DomainName, aws: Aws) -> Evaluation:
        live = aws(target.api).get_domain_name(**_names(target))
        arn_ = str(live.get("domainNameArn") or live.get("DomainNameArn") or _arn(target))
        tags = {str(k): str(v) for k, v in (live.get("tags") or live.get("Tags") or {}).items()}
        if target.api == REST:
            change = _rest_change(target, arn_, live.get("securityPolicy"))
        else:
            change = _v2_change(target, arn_, live.get("DomainNameConfigurations") or [])
        return Evaluation(arn_, (change,) if change else (), tags)

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The live policy (REST) or writable configurations (v2), as `after` shows them."""
        call = change.call
        if call is None:
            raise NotImplementedError(f"{change.resource}: a manual change has no live state")
        names = {k: v for k, v in call.params.items() if k in ("domainName", "domainNameId")}
        if call.service == REST:
            return {"securityPolicy": aws(REST).get_domain_name(**names).get("securityPolicy")}
        live = aws(V2).get_domain_name(DomainName=call.params["DomainName"])
        return {"DomainNameConfigurations": _writable(live.get("DomainNameConfigurations") or [])}


def _names(target: DomainName) -> dict[str, str]:
    if target.api == V2:
        return {"DomainName": target.name}
    named = {"domainName": target.name}
    return {**named, "domainNameId": target.domain_id} if target.domain_id else named


def _arn(target: DomainName) -> str:
    if target.domain_id:  # private
        where = f"{target.region}:{target.account}"
        return f"arn:aws:apigateway:{where}:/domainnames/{target.name}+{target.domain_id}"
    return f"arn:aws:apigateway:{target.region}::/domainnames/{target.name}"


def _unknown(arn_: str, policy: Any, before: Any, after: Any) -> Change:
    """A policy we cannot rank: reported in every mode, never written."""
    why = (
        f"security policy {policy!r} is not one this remediator knows to allow only TLS 1.2 or"
        f" above: check it (aws apigateway get-domain-name) and set {MINIMUM} or a newer policy"
        " if it allows less, or exempt the domain name"
    )
    return Change(why, arn_, before, after, None)


def _rest_change(target: DomainName, arn_: str, policy: Any) -> Change | None:
    before, after = {"securityPolicy": policy}, {"securityPolicy": MINIMUM}
    if policy in AT_LEAST_MINIMUM:
        return None
    if policy not in BELOW_MINIMUM:
        return _unknown(arn_, policy, before, after)

    def patch(value: str) -> Call:
        operation = [{"op": "replace", "path": "/securityPolicy", "value": value}]
        params = {**_names(target), "patchOperations": operation}
        return Call(REST, "update_domain_name", params, iam_action="apigateway:PATCH")

    summary = f"raise the security policy from {policy} to {MINIMUM} (TLS 1.0 was allowed)"
    return Change(summary, arn_, before, after, patch(MINIMUM), (patch(str(policy)),))


def _writable(configurations: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k not in OUTPUT_ONLY} for c in configurations]


def _v2_change(target: DomainName, arn_: str, configurations: list[Any]) -> Change | None:
    before = _writable(configurations)
    policies = [c.get("SecurityPolicy") for c in before]
    raised = [{**c, "SecurityPolicy": MINIMUM} if p in BELOW_MINIMUM else c
              for c, p in zip(before, policies, strict=True)]  # fmt: skip
    state = {"DomainNameConfigurations": before}
    after = {"DomainNameConfigurations": raised}
    unknown = [p for p in policies if p not in AT_LEAST_MINIMUM | BELOW_MINIMUM]
    if unknown:
        return _unknown(arn_, unknown[0], state, after)
    if raised == before:
        return None

    def update(configs: list[dict[str, Any]]) -> Call:
        params = {"DomainName": target.name, "DomainNameConfigurations": configs}
        return Call(V2, "update_domain_name", params, iam_action="apigateway:PATCH")

    weak = ", ".join(sorted({str(p) for p in policies if p in BELOW_MINIMUM}))
    summary = f"raise the security policy from {weak} to {MINIMUM} (TLS 1.0 was allowed)"
    return Change(summary, arn_, state, after, update(raised), (update(before),))


REMEDIATOR = ApigatewayDomainTls()
handler = lambda_handler(REMEDIATOR)

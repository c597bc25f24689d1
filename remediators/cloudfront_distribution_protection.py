"""Edge baseline of CloudFront distributions: the baseline web ACL, HTTPS to viewers, TLS 1.2.

One function for all three, because every change to a distribution is one read-modify-write of
its whole configuration under an ETag: two functions would race each other. The write is
retried on PreconditionFailed (someone changed it in between), re-reading each time; a field
changed by someone else since we looked is left as it now is.

A change's before/after hold only the fields it changes, so that undo restores exactly those
and leaves the rest of the live configuration as it is then. Its calls carry those fields as a
`Patch`, not a whole configuration and a stale ETag: `apply` and `resolve_undo` turn a patch
into the real UpdateDistribution against the configuration read just before
(autoremediate_cli.undo_guard).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from core.declaration import (
    BASELINE_CLOUDFRONT_WEB_ACL,
    ENFORCE,
    REPLACE_EXISTING_WEB_ACL,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    arn,
)
from core.event import EventError, Trigger, required
from core.exemptions import tags_to_dict
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import env_flag, required_env
from waf_web_acl_attachment import acl_name

ACL_ENV, REPLACE_ENV = "BASELINE_CLOUDFRONT_WEB_ACL_ARN", "REPLACE_EXISTING_WEB_ACL"
MINIMUM_TLS = "TLSv1.2_2021"
# CloudFront's security policies in botocore's model, weakest first; a newer one is stricter.
TLS_POLICIES = (
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
)
WEB_ACL, TLS = "WebACLId", "ViewerCertificate/MinimumProtocolVersion"
DEFAULT, POLICY = "DefaultCacheBehavior", "ViewerProtocolPolicy"
ATTEMPTS = 3
DISTRIBUTIONS = arn("cloudfront", "distribution/*", region=False)
DISTRIBUTION_CALLS = (
    "CreateDistribution",
    "CreateDistributionWithTags",
    "UpdateDistribution",
    "AssociateDistributionWebACL",
    "DisassociateDistributionWebACL",
)

DECLARATION = Declaration(
    name="cloudfront_distribution_protection",
    title="CloudFront distribution edge protection",
    description="Baseline WAF web ACL, HTTPS to viewers and TLS 1.2 on CloudFront distributions",
    cloudtrail=(
        CloudTrail("cloudfront.amazonaws.com", DISTRIBUTION_CALLS),
        CloudTrail(
            "wafv2.amazonaws.com",
            ("DisassociateWebACL",),
            rule="CloudTrailWaf",
            why="Only those naming a CloudFront distribution are looked at; AWS says to use"
            " UpdateDistribution for CloudFront, so this catches a call that slipped through.",
        ),
    ),
    config_types=("AWS::CloudFront::Distribution",),
    environment={ACL_ENV: BASELINE_CLOUDFRONT_WEB_ACL, REPLACE_ENV: REPLACE_EXISTING_WEB_ACL},
    us_east_1_only=True,
    inverse_operations=("cloudfront.update_distribution",),
    permissions=(
        Policy(
            "cloudfront-protection-read",
            (
                allow(
                    "ReadDistributions",
                    ("cloudfront:GetDistributionConfig", "cloudfront:ListTagsForResource"),
                    DISTRIBUTIONS,
                ),
                allow(
                    "ReadBaselineWebAcl",
                    "wafv2:GetWebACL",
                    BASELINE_CLOUDFRONT_WEB_ACL,
                    why="CloudFront checks that whoever sets WebACLId may read that web ACL"
                    " (InvalidWebACLId: Unable to verify read permissions on Web ACL).",
                ),
            ),
        ),
        Policy(
            "cloudfront-protection-write",
            (allow("UpdateDistributions", "cloudfront:UpdateDistribution", DISTRIBUTIONS),),
            when=ENFORCE,
        ),
    ),
)


class CloudfrontDistributionProtection(Remediator[str]):
    """Targets are distribution ARNs (arn:aws:cloudfront::<account>:distribution/<id>)."""

    declaration = DECLARATION
    gone_errors = ("NoSuchDistribution",)

    def targets(self, trigger: Trigger) -> list[str]:
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") != "AWS::CloudFront::Distribution":
                raise EventError(f"resource type {item.get('resourceType')!r} is not ours")
            return [str(item.get("ARN") or _arn(trigger, required(item, "resourceId")))]
        name = trigger.event_name
        if name.startswith("CreateDistribution"):
            created = trigger.response.get("distribution")
            created = created if isinstance(created, Mapping) else {}
            return [str(created.get("aRN") or _arn(trigger, required(created, "id")))]
        if name in DISTRIBUTION_CALLS:
            return [_arn(trigger, required(trigger.request, "id"))]
        if name == "DisassociateWebACL":
            resource = required(trigger.request, "resourceArn")
            return [resource] if resource.split(":")[2:3] == ["cloudfront"] else []
        raise EventError(f"{name} is not a trigger of {self.name}")

    def evaluate(self, target: str, aws: Aws) -> Evaluation:
        baseline, replace = required_env(ACL_ENV), env_flag(REPLACE_ENV)
        cloudfront = aws("cloudfront")
        distribution = target.rsplit("/", 1)[-1]
        config = cloudfront.get_distribution_config(Id=distribution)["DistributionConfig"]
        live = fields(config)
        after = {k: "redirect-to-https" for k, v in live.items() if v == "allow-all"}
        custom = not config.get("ViewerCertificate", {}).get("CloudFrontDefaultCertificate")
        if custom and live[TLS] in TLS_POLICIES[: TLS_POLICIES.index(MINIMUM_TLS)]:
            after[TLS] = MINIMUM_TLS
        acl, manual = live[WEB_ACL], None
        if not acl or (acl != baseline and replace):
            after[WEB_ACL] = baseline
        elif acl != baseline:
            why = (
                f"has web ACL {acl}, not the baseline {baseline}: left as is"
                " (ReplaceExistingWebAcl=true replaces it); check that it protects as much"
            )
            manual = Change(why, target, {WEB_ACL: acl}, {WEB_ACL: baseline}, None)
        if not after and manual is None:
            return Evaluation(target)
        changes = (manual,) if manual else ()
        if after:
            before = {key: live[key] for key in after}
            note = "" if custom else _DEFAULT_CERTIFICATE
            changes = (_change(target, distribution, before, after, note), *changes)
        tags = cloudfront.list_tags_for_resource(Resource=target).get("Tags", {}).get("Items")
        return Evaluation(target, changes, tags_to_dict(tags))

    def apply(self, change: Change, aws: Aws) -> dict[str, Any]:
        """Read-modify-write under the ETag, again on PreconditionFailed (ATTEMPTS in all)."""
        if change.call is None:
            return super().apply(change, aws)
        cloudfront, distribution = aws("cloudfront"), change.call.params["Id"]
        attempt = 1
        while True:
            call = _update(cloudfront, distribution, change.after, expected=change.before)
            if call is None:  # each field was changed by someone else since we looked
                return {}
            try:
                response: dict[str, Any] = cloudfront.update_distribution(**call.params)
                return response
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code != "PreconditionFailed" or attempt == ATTEMPTS:
                    raise
                attempt += 1

    def resolve_undo(self, call: Call, aws: Aws) -> Call:
        """The recorded inverse (a Patch of `before`) as the real call, against the live
        configuration and its ETag read now: the rest of the configuration stays as it is."""
        distribution, patch = call.params["Id"], call.params["Patch"]
        real = _update(aws("cloudfront"), distribution, patch)
        if real is None:
            raise ValueError(f"distribution {distribution} has none of the fields {list(patch)}")
        return real

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The fields `after` names, as they are now (None for a cache behaviour now gone)."""
        distribution = change.call.params["Id"] if change.call else ""
        config = aws("cloudfront").get_distribution_config(Id=distribution)["DistributionConfig"]
        live = fields(config)
        return {key: live.get(key) for key in change.after}


_DEFAULT_CERTIFICATE = (
    "; the minimum TLS version is not changed: with the default *.cloudfront.net certificate"
    " CloudFront does not let it be set (use a custom certificate to require TLS 1.2)"
)


def _arn(trigger: Trigger, distribution: str) -> str:
    return f"arn:aws:cloudfront::{trigger.account}:distribution/{distribution}"


def behaviour(pattern: str) -> str:
    """The field name of a cache behaviour's viewer protocol policy."""
    return f"CacheBehaviors/{pattern}/{POLICY}"


def fields(config: Mapping[str, Any]) -> dict[str, str]:
    """The fields this control looks at, by name: WebACLId, each behaviour's viewer protocol
    policy (the default's and each path pattern's), the minimum viewer TLS version."""
    found = {WEB_ACL: str(config.get(WEB_ACL) or "")}
    found[f"{DEFAULT}/{POLICY}"] = str(config.get(DEFAULT, {}).get(POLICY, ""))
    for item in config.get("CacheBehaviors", {}).get("Items") or []:
        found[behaviour(item["PathPattern"])] = str(item.get(POLICY, ""))
    found[TLS] = str(config.get("ViewerCertificate", {}).get("MinimumProtocolVersion", ""))
    return found


def patched(config: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """A copy of `config` with `values` (named as by `fields`) set, and nothing else changed."""
    new: dict[str, Any] = copy.deepcopy(dict(config))
    behaviours = {b["PathPattern"]: b for b in new.get("CacheBehaviors", {}).get("Items") or []}
    for key, value in values.items():
        if key == WEB_ACL:
            new[WEB_ACL] = value
        elif key == TLS:
            new["ViewerCertificate"]["MinimumProtocolVersion"] = value
        elif key == f"{DEFAULT}/{POLICY}":
            new[DEFAULT][POLICY] = value
        elif key.startswith("CacheBehaviors/") and key.endswith(f"/{POLICY}"):
            pattern = key.removeprefix("CacheBehaviors/").removesuffix(f"/{POLICY}")
            behaviours[pattern][POLICY] = value
        else:
            raise ValueError(f"{key} is not a field of {DECLARATION.name}")
    return new


def _update(
    cloudfront: Any, distribution: str, values: Mapping[str, str], expected: Any = None
) -> Call | None:
    """The UpdateDistribution that sets `values` on the configuration read now, with its ETag;
    with `expected`, only the fields still as expected. None when no field is left to set."""
    got = cloudfront.get_distribution_config(Id=distribution)
    live = fields(got["DistributionConfig"])
    wanted = {
        k: v
        for k, v in values.items()
        if k in live and (expected is None or live[k] == expected.get(k))
    }
    if not wanted:
        return None
    config = patched(got["DistributionConfig"], wanted)
    params = {"Id": distribution, "DistributionConfig": config, "IfMatch": got["ETag"]}
    return Call("cloudfront", "update_distribution", params)


def _change(
    target: str, distribution: str, before: dict[str, str], after: dict[str, str], note: str
) -> Change:
    said = []
    if WEB_ACL in after:
        had = f"it had {before[WEB_ACL]}" if before[WEB_ACL] else "it had none"
        said.append(f"attach the baseline web ACL {acl_name(after[WEB_ACL])} ({had})")
    paths = [k.removesuffix(f"/{POLICY}") for k in after if k.endswith(f"/{POLICY}")]
    if paths:
        said.append(f"redirect HTTP to HTTPS (was allow-all) on {', '.join(paths)}")
    if TLS in after:
        said.append(f"raise the minimum viewer TLS version from {before[TLS]} to {after[TLS]}")
    summary = "; ".join(said) + note
    call = Call("cloudfront", "update_distribution", {"Id": distribution, "Patch": after})
    undo = Call("cloudfront", "update_distribution", {"Id": distribution, "Patch": before})
    return Change(summary, target, before, after, call, (undo,))


REMEDIATOR = CloudfrontDistributionProtection()
handler = lambda_handler(REMEDIATOR)

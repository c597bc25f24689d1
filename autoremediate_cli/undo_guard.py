"""What an undo may run: a ledger entry is data to check, never a script (issue 7).

Undo runs with an administrator's credentials, so it replays an entry only when:
- the entry names a registered remediator whose module has a DECLARATION;
- each change to undo is one the runner recorded as applied (not planned in report mode, not
  left APPLYING by a function that stopped half-way);
- each inverse call is one of the remediator's `inverse_operations`, carries only the parameters
  that operation's inverse needs, names the entry's own resource (as does the change's own
  forward call), undoes the kind of call the change made, names what that call named, and puts
  back what the change recorded as `before` (an attach only the policy the change detached).
One refused call refuses the whole undo, before any call runs. These rules are never forced.

A `resolved` inverse (CloudFront's UpdateDistribution) is recorded as a patch of the fields the
change made: the whole configuration and its ETag are only known when undo runs. The patch is
what these rules check; the remediator's `resolve_undo` turns it into the real call right before
it runs, and undo checks that call names the same operation and resource.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import registry
from autoremediate_cli.undo_rules import NOTHING, RULES, ResolvesUndo
from core.declaration import Declaration
from core.outcome import Call, Change
from core.remediator import Aws, Remediator


class UndoRefusedError(ValueError):
    """Undo will not run this entry; the message names the change or call and why."""


def remediator_of(report: Mapping[str, Any]) -> tuple[Declaration, Remediator[Any]]:
    """The declaration and remediator of the entry's module, imported as its handler is."""
    name = report.get("remediator")
    if not isinstance(name, str) or name not in registry.REMEDIATORS:
        raise UndoRefusedError(
            f"unknown remediator {name!r}: undo runs only what a registered remediator declares"
        )
    module = importlib.import_module(name)
    declaration = getattr(module, "DECLARATION", None)
    remediator = getattr(module, "REMEDIATOR", None)
    if not isinstance(declaration, Declaration) or declaration.name != name:
        raise UndoRefusedError(f"module {name} has no DECLARATION of its inverse operations")
    if not isinstance(remediator, Remediator):
        raise UndoRefusedError(f"module {name} has no REMEDIATOR to read the live state with")
    return declaration, remediator


def plan(report: Mapping[str, Any], declaration: Declaration) -> list[Change]:
    """The applied changes to undo, last first, once every inverse call passes the rules."""
    outcome, status = report.get("outcome_id"), report.get("status")
    if status == "UNDONE":
        raise UndoRefusedError(f"outcome {outcome} is already UNDONE")
    if status == "APPLYING":
        raise UndoRefusedError(
            f"outcome {outcome} is APPLYING: its function stopped before recording which changes"
            " it made; compare the resource with each change's before and after, and restore by"
            " hand (undo_cli)"
        )
    try:
        # Entries from before the runner marked changes: REMEDIATED means all were made.
        legacy = status == "REMEDIATED"
        recorded = [c for c in report["changes"] if c.get("applied", legacy) is True]
        changes = [_change(c) for c in reversed(recorded)]
        arn = str(report["resource_arn"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UndoRefusedError(f"outcome {outcome}: malformed ledger entry ({error!r})") from None
    changes = [c for c in changes if c.undo]
    if not changes:
        raise UndoRefusedError(
            f"outcome {outcome} ({status}) has no change recorded as applied: nothing to undo"
        )
    for change in changes:
        problem = _change_problem(change, arn, declaration)
        if problem:
            raise UndoRefusedError(
                f"change '{change.summary}' ({change.resource}): {problem}; nothing was run"
            )
    return changes


def check_regions(changes: list[Change], report: Mapping[str, Any], aws: Aws) -> None:
    """A regional resource is undone with clients of its own region (the EBS setting has no
    resource parameter at all: the region is the only thing that says where it acts)."""
    region = str(report.get("resource_arn", "")).split(":")[3:4]
    if not region or not region[0]:
        return  # IAM and S3 ARNs name no region
    for service in dict.fromkeys(call.service for change in changes for call in change.undo):
        client_region = getattr(getattr(aws(service), "meta", None), "region_name", None)
        if isinstance(client_region, str) and client_region != region[0]:
            raise UndoRefusedError(
                f"the entry's resource is in {region[0]} but the {service} client is in"
                f" {client_region}: run undo with AWS_REGION={region[0]}; nothing was run"
            )


def _change(data: Mapping[str, Any]) -> Change:
    call = Call.from_dict(data["call"]) if data.get("call") else None
    undo = tuple(Call.from_dict(c) for c in data.get("undo") or ())
    summary, resource = str(data.get("summary", "")), str(data.get("resource", ""))
    return Change(summary, resource, data.get("before"), data.get("after"), call, undo)


def _change_problem(change: Change, arn: str, declaration: Declaration) -> str:
    forward = change.call
    if forward is None:
        return "inverse calls for a change that made no call"
    problem = _resource_problem(forward, arn)
    if problem:
        return f"its own call {problem}"
    for inverse in change.undo:
        problem = _call_problem(inverse, forward, change.before, arn, declaration)
        if problem:
            return problem
    return ""


def _call_problem(
    inverse: Call, forward: Call, before: Any, arn: str, declaration: Declaration
) -> str:
    name, params = f"{inverse.service}.{inverse.operation}", inverse.params
    if name not in declaration.inverse_operations:
        return f"{name} is not an inverse operation that {declaration.name} declares"
    rule = RULES.get(name)
    if rule is None:
        return f"{name}: autoremediate_cli.undo_guard has no rule for its parameters"
    extra = sorted(set(params) - rule.keys)
    if extra:
        return f"{name} carries {', '.join(extra)}, which its inverse never needs"
    problem = _resource_problem(inverse, arn)
    if problem:
        return problem
    if forward.operation not in rule.answers:
        return f"{name} can only undo {' or '.join(rule.answers)}, not {forward.operation}"
    for key in rule.same:
        if params.get(key) != forward.params.get(key):
            return (
                f"{name} names {key} {params.get(key)!r}, but the change's own call named"
                f" {forward.params.get(key)!r}"
            )
    for key, default in rule.mirrors:
        if params.get(key, default) != forward.params.get(key, default):
            return (
                f"{name} sets {key} {params.get(key, default)!r}, but the change's own call"
                f" ({forward.operation}) set {forward.params.get(key, default)!r}"
            )
    if rule.within:
        inner, outer = params.get(rule.within), forward.params.get(rule.within)
        if not isinstance(inner, Mapping) or not isinstance(outer, Mapping):
            return f"{name}: {rule.within} is not a map"
        more = sorted(set(inner) - set(outer))
        if more:
            return f"{name} sets {rule.within} {', '.join(more)}, which the change did not set"
    if rule.patches:
        problem = _patch_problem(name, params.get(rule.patches), forward.params.get(rule.patches))
        if problem:
            return problem
    if rule.restores == NOTHING and before is not None:
        return f"{name} removes the whole configuration, but the change's before was not empty"
    if rule.restores not in ("", NOTHING) and _decoded(params.get(rule.restores)) != before:
        return f"{name} writes a {rule.restores} that is not the change's recorded before"
    return ""


def _patch_problem(name: str, inverse: Any, forward: Any) -> str:
    """'' when each inverse patch replaces a path the forward call replaced, or removes one
    that holds such a path (a method setting or throttle the change created)."""
    if not isinstance(inverse, list) or not isinstance(forward, list):
        return f"{name}: patchOperations is not a list"
    done = {p.get("path") for p in forward if isinstance(p, Mapping) and p.get("op") == "replace"}
    for patch in inverse:
        path = patch.get("path") if isinstance(patch, Mapping) else None
        op = patch.get("op") if isinstance(patch, Mapping) else None
        holds = isinstance(path, str) and any(str(d).startswith(path + "/") for d in done)
        if not ((op == "replace" and path in done) or (op == "remove" and holds)):
            return f"{name} patches {op} {path!r}, which the change's own call did not replace"
    return ""


def check_resolvable(changes: list[Change], remediator: Remediator[Any]) -> None:
    """Refuse, before any call runs, patches that the remediator cannot resolve."""
    for change in changes:
        for call in change.undo:
            rule = RULES.get(f"{call.service}.{call.operation}")
            if rule and rule.resolved and not isinstance(remediator, ResolvesUndo):
                raise UndoRefusedError(
                    f"{remediator.name} cannot resolve its {call.operation} patches; nothing"
                    " was run"
                )


def resolved(call: Call, remediator: Remediator[Any], aws: Aws, arn: str) -> Call:
    """`call` as it runs: a `resolved` rule's patch becomes the remediator's real call, which
    must be the same operation on the entry's own resource; any other call as recorded."""
    rule = RULES.get(f"{call.service}.{call.operation}")
    if rule is None or not rule.resolved:
        return call
    if not isinstance(remediator, ResolvesUndo):
        raise UndoRefusedError(f"{remediator.name} cannot resolve {call.operation} patches")
    real = remediator.resolve_undo(call, aws)
    problem = _resource_problem(real, arn)
    if (real.service, real.operation) != (call.service, call.operation) or problem:
        raise UndoRefusedError(
            f"{call.service}.{call.operation} resolved to {real.service}.{real.operation}"
            f" {problem}".rstrip()
        )
    return real


def _resource_problem(call: Call, arn: str) -> str:
    """'' when every resource parameter of `call` names the entry's resource `arn`."""
    name, params = f"{call.service}.{call.operation}", call.params
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return f"the entry's resource {arn!r} is not an ARN"
    service, region, account, resource = parts[2], parts[3], parts[4], parts[5]
    if call.service == "wafv2" and service in ("apigateway", "appsync"):
        # WAF acts on the API it protects, which its ResourceArn names.
        value = params.get("ResourceArn")
        return "" if value == arn else f"{name} names ResourceArn {value!r}, not the entry's {arn}"
    if call.service != service and (call.service, service) != ("apigatewayv2", "apigateway"):
        return f"{name} is an {call.service} call, but the entry's resource is {arn}"
    if service == "apigateway" and resource.startswith("/domainnames/"):
        return _domain_name_problem(call, arn, resource)
    if service == "apigateway":
        return _apigateway_problem(call, arn, resource)
    if service == "iam":
        return _iam_problem(call, arn, resource)
    if service == "ec2":
        return ""  # account settings (EBS defaults): no resource parameter; see check_regions
    keys = {"s3": "Bucket", "sns": "TopicArn", "dynamodb": "TableName", "sqs": "QueueUrl",
            "cloudfront": "Id"}  # fmt: skip
    if service not in keys:
        return f"{name}: no rule says which parameter names an {service} resource"
    key = keys[service]
    value = params.get(key)
    named = _queue_name(value, region, account) if service == "sqs" else value
    allowed = {
        "s3": (resource,),
        "sns": (arn,),
        "dynamodb": (resource.removeprefix("table/"), arn),
        "sqs": (resource,),
        "cloudfront": (resource.removeprefix("distribution/"),)
        if resource.startswith("distribution/")
        else (),
    }[service]
    if not named or named not in allowed:
        return f"{name} names {key} {value!r}, not the entry's resource {arn}"
    return ""


def _domain_name_problem(call: Call, arn: str, resource: str) -> str:
    """An API Gateway custom domain name (REST and v2 share its ARN): the call names it."""
    name, params = f"{call.service}.{call.operation}", call.params
    domain = params.get("domainName", params.get("DomainName"))
    domain_id = params.get("domainNameId")
    named = f"/domainnames/{domain}" + (f"+{domain_id}" if domain_id else "")
    if not isinstance(domain, str) or not domain or named != resource:
        return f"{name} names domain name {domain!r}, not the entry's resource {arn}"
    return ""


def _apigateway_problem(call: Call, arn: str, resource: str) -> str:
    """API Gateway ARNs name the resource by its path: /restapis/<id>/stages/<name> (REST),
    /apis/<id>/stages/<name> (HTTP APIs), /usageplans/<id>."""
    params = call.params
    if call.service == "apigatewayv2":
        path = f"/apis/{params.get('ApiId')}/stages/{params.get('StageName')}"
    elif "usagePlanId" in params:
        path = f"/usageplans/{params.get('usagePlanId')}"
    else:
        path = f"/restapis/{params.get('restApiId')}/stages/{params.get('stageName')}"
    if path != resource:
        return f"{call.service}.{call.operation} names {path}, not the entry's resource {arn}"
    return ""


def _queue_name(url: Any, region: str, account: str) -> str:
    """The queue's name when `url` is an SQS URL of this account (the ARN's last part is the
    name); '' otherwise, so that no other host or account passes."""
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path.strip("/").split("/")
    hosts = (f"sqs.{region}.amazonaws.com", f"{region}.queue.amazonaws.com", "queue.amazonaws.com")
    if parts.scheme != "https" or host.removesuffix(".cn") not in hosts or len(path) != 2:
        return ""
    return path[1] if path[0] == account else ""


def _iam_problem(call: Call, arn: str, resource: str) -> str:
    """A principal entry: its role, user or group (and any policy attached to it); a policy
    entry: that policy (and, to attach it back, the principals it was detached from)."""
    name, params = f"{call.service}.{call.operation}", call.params
    kind, _, rest = resource.partition("/")
    entry_name = rest.rsplit("/", 1)[-1]
    policy = params.get("PolicyArn")
    attachment = call.operation.startswith(("attach_", "detach_"))
    principals = [(k, v) for k, v in params.items() if k in ("RoleName", "UserName", "GroupName")]
    if not principals and policy is None:
        return f"{name} names no IAM principal or policy"
    for key, value in principals:
        own = (key.removesuffix("Name").lower(), value) == (kind, entry_name)
        if not own and not (kind == "policy" and attachment and policy == arn):
            return f"{name} names {key} {value!r}, not the entry's resource {arn}"
    on_principal = kind in ("role", "user", "group") and attachment and bool(principals)
    if policy is not None and policy != arn and not on_principal:
        return f"{name} names PolicyArn {policy!r}, not the entry's resource {arn}"
    return ""


def _decoded(value: Any) -> Any:
    """A JSON document given as text, decoded (IAM and S3 documents); anything else as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value

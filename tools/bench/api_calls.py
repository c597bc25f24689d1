"""Section 3: the AWS calls each sample event costs, the resource's apart from the ledger's and
the notification's, against the fewest the change needs (events/<module>/samples.toml)."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tools.bench.config import CALLS_OVER_MINIMUM
from tools.bench.environment import function_env, stdout_to_devnull, temporary_environ
from tools.bench.moto_server import Moto, fresh_account
from tools.bench.report import Report, header
from tools.bench.samples import facts
from tools.routing import Function, routes
from tools.scenario import EVENTS, Stack

if TYPE_CHECKING:
    from core.clients import Clients


def api_calls(
    moto: Moto, aws: Clients, template: Mapping[str, Any], fns: list[Function], report: Report
) -> None:
    """Count each call of each sample event's handling, in enforce mode, by service/operation;
    the calls on the resource apart from the ledger's (DynamoDB) and the notification's (SNS)."""
    import boto3

    from core.clients import Clients
    from core.handler import lambda_handler

    header("3. AWS API calls per event (enforce mode), calls on the resource vs the minimum")
    calls: list[tuple[str, str, str]] = []  # (service, operation, resource|ledger|notify)
    current: list[Stack] = []
    session = boto3.Session()

    def count(model: Any, params: Mapping[str, Any], **_: Any) -> None:
        service, operation, stack = model.service_model.service_name, model.name, current[-1]
        kind = "resource"
        if service == "dynamodb" and params.get("TableName") == stack.table:
            kind = "ledger"
        elif (
            service == "sns"
            and operation == "Publish"
            and params.get("TopicArn") == (stack.topic_arn)
        ):
            kind = "notify"
        calls.append((service, operation, kind))

    # Before the request is built: with the API parameters (whose table? whose topic?).
    session.events.register("before-parameter-build", count)
    print(
        "   reads/writes = calls on the resource (Get/List/Describe are reads); min = the fewest"
        " such calls\n   the change needs; over = calls - min (flagged above"
        f" +{CALLS_OVER_MINIMUM}); ddb = ledger, sns = notification;\n"
        "   * = the template's rule drops this event (invoked directly anyway)"
    )
    results: dict[str, Any] = {}
    for fn in fns:
        names = sorted(p.stem for p in (EVENTS / fn.handler_module).glob("*.json"))
        width = max(28, *(len(n) + 3 for n in names))
        print(f"\n   {fn.logical_id} ({fn.handler_module})")
        print(
            f"   {'event':<{width}}{'status':<16}{'reads':>6}{'writes':>7}{'min':>5}{'over':>6}"
            f"{'ddb':>5}{'sns':>5}  minimum: why"
        )
        module = importlib.import_module(fn.handler_module)
        table = facts(fn).samples
        per_event: dict[str, Any] = {}
        worst: tuple[int, str] = (-1, "")
        for name in names:
            stack, event = fresh_account(moto, aws, fn.handler_module, name)
            current.append(stack)
            handler = lambda_handler(
                module.REMEDIATOR, Clients(session=session, endpoint_url=moto.url)
            )
            calls.clear()
            with temporary_environ(function_env(template, fn, stack)), stdout_to_devnull():
                outcomes = handler(event, None)
            minimum = table.get(name)
            status = ",".join(str(o["status"]) for o in outcomes)
            unexpected = bool(minimum and status != minimum.status) or "FAILED" in status
            if unexpected:
                expected = minimum.status if minimum else "no FAILED outcome"
                report.problems.append(f"{fn.logical_id} {name}: {outcomes!r}, expected {expected}")
            own = [f"{s}:{o}" for s, o, kind in calls if kind == "resource"]
            reads = [c for c in own if c.split(":")[1].startswith(("Get", "List", "Describe"))]
            by_kind = Counter(kind for _, _, kind in calls)
            over = len(own) - minimum.calls if minimum else None
            routed = not template or bool(routes(template, event))
            flag = "" if over is None or over <= CALLS_OVER_MINIMUM else "  <-- over"
            flag += "  <-- UNEXPECTED STATUS" if unexpected else ""
            label = name + ("" if routed else " *")
            print(
                f"   {label:<{width}}{status:<16}{len(reads):>6}{len(own) - len(reads):>7}"
                f"{minimum.calls if minimum else '?':>5}"
                f"{'?' if over is None else f'{over:+d}':>6}"
                f"{by_kind['ledger']:>5}{by_kind['notify']:>5}  "
                f"{minimum.why if minimum else 'no minimum in samples.toml'}{flag}"
            )
            if own:
                print(f"   {'':<{width}}{' '.join(own)}")
            if over is not None and over > worst[0]:
                worst = (over, name)
            per_event[name] = {
                "status": status,
                "routed": routed,
                "reads": len(reads),
                "writes": len(own) - len(reads),
                "resource_calls": own,
                "minimum": minimum.calls if minimum else None,
                "minimum_why": minimum.why if minimum else None,
                "over_minimum": over,
                "calls": Counter(f"{s}:{o}" for s, o, _ in calls),
            }
        flagged = sorted(
            k
            for k, v in per_event.items()
            if v["over_minimum"] is not None and v["over_minimum"] > CALLS_OVER_MINIMUM
        )
        report.target(
            f"API calls {fn.logical_id} <= minimum + {CALLS_OVER_MINIMUM}",
            not flagged,
            f"worst {worst[0]:+d} ({worst[1]}); over: {', '.join(flagged) or 'none'}",
        )
        results[fn.logical_id] = per_event
    report.data["api_calls"] = results

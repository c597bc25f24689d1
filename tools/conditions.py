"""CloudFormation Conditions evaluated offline, for given parameters in one region.

The template checks (tools.check_template.resolve) and the bench and demo (each function's
environment, tools.bench.environment) both need them: one evaluator, in a module without the
SAM translator, so that the demo stays light to start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

REGION = "us-east-1"
PARTITION = "aws"
ACCOUNT_ID = "123456789012"  # only used to evaluate Conditions offline
STACK_NAME = "autoremediate"


def parameter_values(
    template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None, region: str = REGION
) -> dict[str, Any]:
    """The pseudo parameters and each template parameter: its default (a CommaDelimitedList's
    as a list) unless `parameters` overrides it, as `sam deploy --parameter-overrides` does."""
    values: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::Partition": PARTITION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::StackName": STACK_NAME,
    }
    for name, spec in template.get("Parameters", {}).items():
        default = spec.get("Default")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(default, str):
            default = default.split(",")
        values[name] = default
    for name, value in (parameters or {}).items():
        _check_override(template.get("Parameters", {}), name, value)
        values[name] = value
    return values


def conditions(
    template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None, region: str = REGION
) -> Callable[[str], bool]:
    """condition(name): whether the template's condition holds with these parameters in this
    region (each evaluated once). Only the condition functions CloudFormation allows are
    understood; an unknown condition name is a KeyError."""
    values = parameter_values(template, parameters, region)
    evaluated: dict[str, bool] = {}

    def operand(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return operand(values[node["Ref"]])
        if isinstance(node, dict) and set(node) == {"Fn::Join"}:
            separator, items = node["Fn::Join"]
            listed = operand(items)
            return separator.join(str(operand(i)) for i in as_list(listed))
        if isinstance(node, bool):
            return str(node).lower()
        if isinstance(node, (int, float)):
            return str(node)
        return node

    def holds(node: Any) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"not a condition: {node!r}")
        ((function, args),) = node.items()
        if function == "Condition":
            return condition(args)
        if function == "Fn::Equals":
            return bool(operand(args[0]) == operand(args[1]))
        if function == "Fn::Not":
            return not holds(args[0])
        if function == "Fn::And":
            return all(holds(arg) for arg in args)
        if function == "Fn::Or":
            return any(holds(arg) for arg in args)
        raise ValueError(f"unsupported condition function {function}")

    def condition(name: str) -> bool:
        if name not in evaluated:
            evaluated[name] = holds(template["Conditions"][name])
        return evaluated[name]

    return condition


def as_list(value: Any) -> list[Any]:
    """IAM and CloudFormation accept a single value wherever a list is meant."""
    return value if isinstance(value, list) else [value]


def _check_override(declared: Mapping[str, Any], name: str, value: Any) -> None:
    """CloudFormation refuses an undeclared parameter or a value its constraints do not allow."""
    if name not in declared:
        raise ValueError(f"parameter {name!r} is not declared by the template")
    spec = declared[name]
    allowed = spec.get("AllowedValues")
    if allowed is not None and str(value) not in {str(item) for item in allowed}:
        raise ValueError(f"parameter {name}={value!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and isinstance(value, str) and not re.fullmatch(pattern, value):
        raise ValueError(f"parameter {name}={value!r} does not match {pattern}")

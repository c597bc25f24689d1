"""What a remediator module provides: its triggers' targets, `evaluate` (read-only) and `apply`.

Remediators never look at the mode; the runner decides it once (as Cloud Custodian's engine does).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from core.declaration import Declaration
from core.event import Trigger
from core.outcome import Call, Change

Aws = Callable[[str], Any]
"""`aws("iam")` returns a boto3 client: see core.clients.Clients."""


class Evaluation(NamedTuple):
    """What `evaluate` found: the resource's ARN, its tags (for exemptions), what would change.
    A NamedTuple, as core.outcome's values (cheaper at cold start than a frozen dataclass)."""

    arn: str
    changes: tuple[Change, ...] = ()
    tags: Mapping[str, str] = {}  # never mutated
    if_exempt: Evaluation | None = None
    """What to report instead when `arn` is exempt: a finding on another resource that this
    exemption does not cover (a new member of an exempt group), whose own exemption counts."""


T = TypeVar("T")


class Remediator(ABC, Generic[T]):
    """One control. `T` is the remediator's own description of a resource to look at.

    A subclass sets `declaration` (its triggers and permissions, which template.yaml is rendered
    from); `name`, `read_actions` and `write_actions` then come from it.
    """

    declaration: ClassVar[Declaration | None] = None
    name: ClassVar[str]
    severity: ClassVar[str] = "HIGH"
    read_actions: ClassVar[tuple[str, ...]]
    write_actions: ClassVar[tuple[str, ...]]
    gone_errors: ClassVar[tuple[str, ...]] = ()
    """AWS error codes that mean the resource no longer exists (deleted in between)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("declaration")
        if declared is not None:
            cls.name = declared.name
            cls.read_actions = declared.read_actions
            cls.write_actions = declared.write_actions

    @abstractmethod
    def targets(self, trigger: Trigger) -> list[T]:
        """Which resources the event points at; raise core.event.EventError if it cannot say."""

    @abstractmethod
    def evaluate(self, target: T, aws: Aws) -> Evaluation:
        """Read live state and plan the changes; must not write anything."""

    def apply(self, change: Change, aws: Aws) -> dict[str, Any]:
        """Make one planned change; the response lets `undo_after` refine the inverse."""
        call = change.call
        if call is None:
            raise ValueError(f"'{change.summary}' cannot be applied: it needs manual steps")
        response: dict[str, Any] = getattr(aws(call.service), call.operation)(**call.params)
        return response

    def undo_after(self, change: Change, response: Mapping[str, Any]) -> tuple[Call, ...]:
        """The calls that restore `change.before`, knowing what the write returned."""
        return change.undo

    def current_state(self, change: Change, aws: Aws) -> Any:
        """What `change` wrote, as it is now, in the shape of `change.after`; read-only.

        Undo compares it with the recorded `after` and refuses to overwrite a later edit. A
        remediator whose changes can be undone overrides this; the default cannot read the
        state, so that undo refuses (unless forced) rather than guess."""
        raise NotImplementedError(f"{self.name} cannot read the live state of {change.resource}")

"""The one place that decides: evaluate, exempt?, report or apply, verify, ledger, notify."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from core import loop_guard
from core.event import EventError, Trigger, parse
from core.exemptions import (
    EXEMPT_TAG,
    approval_key,
    builtin_exemption,
    principal_exemption,
    tag_exemption,
)
from core.kill_switch import KillSwitch
from core.observability import count_outcome, logger
from core.outcome import Change, Mode, Outcome, Status
from core.owner import advice, managed_by
from core.remediator import Aws, Evaluation, Remediator
from core.settings import Settings, SettingsError
from core.transient import NETWORK_ERRORS, TRANSIENT_ERRORS

if TYPE_CHECKING:
    from core.circuit_breaker import CircuitBreaker
    from core.ledger import Ledger
    from core.notify import Notifier

VERIFY_DELAYS = (1.0, 2.0)  # seconds before each further look; 3 s in all, within the timeout
_CONFIG_DELETED = ("ResourceDeleted", "ResourceDeletedNotRecorded")


class TransientError(RuntimeError):
    """Raised after every outcome is reported, so that Lambda retries and then dead-letters."""


class Runner:
    def __init__(
        self,
        remediator: Remediator[Any],
        settings: Settings,
        aws: Aws,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        kill_switch: KillSwitch | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """`kill_switch`: pass one that outlives the runner (core.handler does) to cache its
        reads across events; `breaker`: by default the ledger's (core.circuit_breaker)."""
        self.remediator = remediator
        self.sleep = sleep
        self.settings = settings
        self.aws = aws
        self.now = now
        self.kill_switch = kill_switch or KillSwitch(aws)
        self.breaker = breaker
        """None until an enforced change needs the ledger's breaker (see `_breaker`)."""
        self.mode = settings.mode
        self.paused = ""
        """Why this event is handled in report mode although enforce is deployed (kill switch)."""

    @cached_property
    def ledger(self) -> Ledger:
        """Created on first use, as is `notifier`: a quiet (compliant) outcome needs neither."""
        from core.ledger import Ledger  # here, not at cold start: only findings are ledgered

        return Ledger(self.aws, self.settings.ledger_table)

    @cached_property
    def notifier(self) -> Notifier:
        from core.notify import Notifier  # here, not at cold start: only findings are published

        return Notifier(self.aws, self.settings.topic_arn, self.settings.omit_documents)

    def run(self, event: Any) -> list[Outcome]:
        """Handle one event; raise TransientError at the end if any outcome should be retried."""
        self._decide_mode()
        try:
            trigger = parse(event)
        except EventError as error:
            return [self._finish(None, self._skip(f"malformed event: {error}"))]
        quiet_reason = self._quiet_skip(trigger)
        if quiet_reason:
            return [self._finish(trigger, self._skip(quiet_reason, quiet=True))]
        try:
            targets = self.remediator.targets(trigger)
        except EventError as error:
            return [self._finish(trigger, self._skip(f"malformed event: {error}"))]
        own_role = loop_guard.own_role(trigger, self.settings.own_role_arns)
        outcomes = [
            self._finish(trigger, self._handle(trigger, target, own_role)) for target in targets
        ]
        transient = [o for o in outcomes if o.transient]
        if transient:
            raise TransientError(
                f"{len(transient)} transient failure(s), first: {transient[0].reason}"
            )
        return outcomes

    def _decide_mode(self) -> None:
        """Once per event: the deployed mode, downgraded to report while the kill switch is on
        (or cannot be read). Never upgraded: in report mode the switch is not even read."""
        self.mode, self.paused = self.settings.mode, ""
        if self.mode is not Mode.ENFORCE or not self.settings.kill_switch_parameter:
            return
        reading = self.kill_switch.read(self.settings.kill_switch_parameter)
        if reading.engaged:
            self.mode, self.paused = Mode.REPORT, reading.why
            log = logger.warning if reading.unreadable else logger.info
            log("kill switch: report only", extra={"why": reading.why})

    def _quiet_skip(self, trigger: Trigger) -> str:
        """Events that changed nothing: logged, never notified. (Our own changes are not among
        them: they are re-checked, see core.loop_guard.)"""
        if trigger.error_code:
            return f"the call failed ({trigger.error_code}) and changed nothing"
        if trigger.item.get("configurationItemStatus") in _CONFIG_DELETED:
            return "AWS Config reports the resource deleted"
        return ""

    def _handle(self, trigger: Trigger, target: Any, own_role: str = "") -> Outcome:
        """`own_role`: the role of ours whose session made the call (core.loop_guard), or ''."""
        name = self.remediator.name
        try:
            found = self.remediator.evaluate(target, self.aws)
        except (ClientError, BotoCoreError) as error:
            return self._aws_failure(error, str(target), "reading the resource")
        except SettingsError as error:  # a retry cannot fix configuration: say so once
            return Outcome(Status.FAILED, name, str(target), f"configuration error: {error}")
        outcome = self._decide(trigger, target, own_role, found)
        owner = managed_by(found.tags)  # where the lasting fix belongs, whatever we did
        return outcome._replace(managed_by=owner) if owner else outcome

    def _decide(self, trigger: Trigger, target: Any, own_role: str, found: Evaluation) -> Outcome:
        name = self.remediator.name
        if not found.changes:
            reason = loop_guard.ECHO if own_role else "compliant"
            return Outcome(Status.COMPLIANT, name, found.arn, reason, quiet=True)
        if own_role:  # not our fix: reported in every mode, never applied, never exempt
            why = loop_guard.reason(own_role, found.changes, bool(self.remediator.write_actions))
            severity = loop_guard.SEVERITY
            return Outcome(
                Status.WOULD_REMEDIATE, name, found.arn, why, found.changes, severity=severity
            )
        exemption = self._exemption(found)
        if exemption and found.if_exempt is not None:  # what this exemption does not cover
            found = found.if_exempt
            exemption = self._exemption(found)
        if exemption:
            return Outcome(Status.EXEMPT, name, found.arn, exemption, found.changes)
        if self.mode is Mode.REPORT:
            reason = f"report only: {self.paused}" if self.paused else "report mode"
            return Outcome(Status.WOULD_REMEDIATE, name, found.arn, reason, found.changes)
        manual = tuple(c for c in found.changes if c.call is None)
        automatic = tuple(c for c in found.changes if c.call is not None)
        if not automatic:
            reason = "cannot be fixed in place: manual steps needed"
            return Outcome(Status.WOULD_REMEDIATE, name, found.arn, reason, found.changes)
        held = self._breaker(found)
        if held:
            return held
        done = self._enforce(trigger, target, found._replace(changes=automatic))
        if manual and done.status is Status.REMEDIATED:  # what we could fix is fixed, not all
            reason = f"{len(done.changes)} change(s) made and verified; manual steps still needed"
            changes = done.changes + manual
            return done._replace(status=Status.WOULD_REMEDIATE, reason=reason, changes=changes)
        return done

    def _breaker(self, found: Evaluation) -> Outcome | None:
        """Count this remediation (before anything is applied), or, when the resource was
        remediated too often of late, report only: something keeps reverting our fix."""
        # Imported here, not at cold start: only an enforced change consults the breaker.
        from core.circuit_breaker import BreakerError, CircuitBreaker, notice

        name, settings = self.remediator.name, self.settings
        if self.breaker is None:
            self.breaker = CircuitBreaker(
                self.aws,
                settings.ledger_table,
                settings.breaker_remediations,
                settings.breaker_minutes,
            )
        try:
            verdict = self.breaker.admit(found.arn, self.now())
        except (ClientError, BotoCoreError) as error:
            doing = "counting remediations for the circuit breaker; nothing was changed"
            return self._aws_failure(error, found.arn, doing, resource_error=False)
        except BreakerError as error:
            reason = f"{error}; nothing was changed (will retry)"
            return Outcome(Status.FAILED, name, found.arn, reason, transient=True)
        if not verdict.open:
            return None
        reason = notice(verdict, managed_by(found.tags), self.settings.breaker_minutes)
        if not verdict.first:
            reason += " (said once, when the breaker opened)"
        return Outcome(
            Status.WOULD_REMEDIATE,
            name,
            found.arn,
            reason,
            found.changes,
            severity="HIGH" if verdict.first else "",
            conflict=verdict.first,
        )

    def _exemption(self, found: Evaluation) -> str:
        reason = builtin_exemption(found.arn) or principal_exemption(
            found.arn, self.settings.exempt_principals
        )
        if reason:
            return reason
        approval = self._approval(found) if EXEMPT_TAG in found.tags else None
        reason, note = tag_exemption(found.tags, self.now().date(), approval)
        if note:
            logger.info("exemption tag not honoured", extra={"arn": found.arn, "note": note})
        return reason

    def _approval(self, found: Evaluation) -> dict[str, Any] | None:
        """The ledger's approval of the resource's exemption tag; none when it cannot be read
        (an exemption that cannot be checked does not count)."""
        try:
            return self.ledger.approval(approval_key(found.arn))
        except (ClientError, BotoCoreError, ValueError, KeyError):
            logger.exception("exemption approval unreadable", extra={"arn": found.arn})
            return None

    def _enforce(self, trigger: Trigger, target: Any, found: Evaluation) -> Outcome:
        """Ledger first, then each change, then re-evaluate: REMEDIATED only when verified."""
        name, arn = self.remediator.name, found.arn
        outcome_id = self._new_id()
        pending = Outcome(Status.FAILED, name, arn, "applying", found.changes)
        try:
            self.ledger.record(self._report(outcome_id, trigger, pending, status="APPLYING"))
        except (ClientError, BotoCoreError) as error:
            doing = "recording the ledger entry; nothing was changed"
            return self._aws_failure(error, arn, doing, resource_error=False)
        done: list[Change] = []

        def failed(outcome: Outcome, note: str = "") -> Outcome:
            """Once anything was applied, a failure stays FAILED and keeps its undo."""
            status = Status.FAILED if done else outcome.status
            reason = f"{outcome.reason}; {note}" if note else outcome.reason
            return outcome._replace(status=status, reason=reason, changes=tuple(done),
                           outcome_id=outcome_id)  # fmt: skip

        for change in found.changes:
            try:
                response = self.remediator.apply(change, self.aws)
            except (ClientError, BotoCoreError) as error:
                failure = self._aws_failure(error, arn, f"applying '{change.summary}'")
                return failed(failure, f"{len(done)} of {len(found.changes)} change(s) applied")
            undo = self.remediator.undo_after(change, response)
            done.append(change._replace(undo=undo))
        try:
            left = self._verify(target)
        except (ClientError, BotoCoreError) as error:
            failure = self._aws_failure(error, arn, "verifying the change")
            removed = any(
                c.call and c.call.operation.startswith(("delete_", "detach_")) for c in done
            )
            if failure.status is Status.SKIPPED and removed:  # we removed it: it grants nothing
                failure = failure._replace(
                    status=Status.REMEDIATED, reason="verified: removed", error_code=""
                )
                return failure._replace(changes=tuple(done), outcome_id=outcome_id)
            return failed(failure)
        if left:
            still = "; ".join(c.summary for c in left)
            return failed(Outcome(Status.FAILED, name, arn, f"still non-compliant: {still}"))
        return Outcome(Status.REMEDIATED, name, arn, "verified", tuple(done), outcome_id=outcome_id)

    def _verify(self, target: Any) -> tuple[Change, ...]:
        """Re-evaluate after the change. IAM and some other APIs are eventually consistent: a
        read right after a write may still show the old state, so look again before failing."""
        left = self._automatic(target)
        for delay in VERIFY_DELAYS:
            if not left:
                break
            self.sleep(delay)
            left = self._automatic(target)
        return left

    def _automatic(self, target: Any) -> tuple[Change, ...]:
        """What evaluate still finds that we could change (manual steps are not ours to verify)."""
        return tuple(c for c in self.remediator.evaluate(target, self.aws).changes if c.call)

    def _aws_failure(
        self, error: Exception, resource: str, doing: str, resource_error: bool = True
    ) -> Outcome:
        """FAILED with the AWS error, or SKIPPED when the resource is gone (not for our ledger)."""
        name = self.remediator.name
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            message = str(error.response.get("Error", {}).get("Message", ""))
        else:
            code, message = type(error).__name__, str(error)
        if resource_error and code in self.remediator.gone_errors:
            reason = f"resource no longer exists ({code}) while {doing}"
            return Outcome(Status.SKIPPED, name, resource, reason, error_code=code)
        transient = code in TRANSIENT_ERRORS or isinstance(error, NETWORK_ERRORS)
        reason = f"{code} while {doing}: {message}" + (" (will retry)" if transient else "")
        return Outcome(Status.FAILED, name, resource, reason, error_code=code, transient=transient)

    def _skip(self, reason: str, quiet: bool = False) -> Outcome:
        return Outcome(Status.SKIPPED, self.remediator.name, "", reason, quiet=quiet)

    def _finish(self, trigger: Trigger | None, outcome: Outcome) -> Outcome:
        """Log, count, ledger and publish one outcome (quiet ones are only logged and counted)."""
        count_outcome(self.remediator.name, outcome.status, self.mode)
        log = {"status": outcome.status, "resource": outcome.resource_arn, "reason": outcome.reason}
        if outcome.quiet:
            logger.info("quiet outcome", extra=log)
            return outcome
        outcome_id = outcome.outcome_id or self._new_id()
        report = self._report(outcome_id, trigger, outcome)
        logger.info("outcome", extra={**log, "outcome_id": outcome_id})
        try:
            if outcome.outcome_id:
                self.ledger.settle(report)
            else:
                self.ledger.record(report)
        except (ClientError, BotoCoreError):
            logger.exception("ledger write failed", extra={"outcome_id": outcome_id})
        try:
            self.notifier.publish(report)
        except (ClientError, BotoCoreError):
            logger.exception("notification failed", extra={"outcome_id": outcome_id})
            count_outcome(self.remediator.name, "NOTIFICATION_FAILED", self.mode)
        return outcome._replace(outcome_id=outcome_id)

    def _report(
        self, outcome_id: str, trigger: Trigger | None, outcome: Outcome, status: str = ""
    ) -> dict[str, Any]:
        """The one document that goes to the ledger and, as JSON, to subscribers."""
        status = status or outcome.status.value
        report: dict[str, Any] = {
            "outcome_id": outcome_id,
            "remediator": self.remediator.name,
            "status": status,
            "mode": self.mode.value,
            "severity": _severity(status, outcome.severity or self.remediator.severity),
            "account": trigger.account if trigger else "",
            "region": trigger.region if trigger else "",
            "resource_arn": outcome.resource_arn,
            "reason": outcome.reason,
            "error_code": outcome.error_code,
            "actor": trigger.actor.to_dict() if trigger and trigger.actor else {},
            "trigger": trigger.to_dict() if trigger else {},
            "changes": [
                c.to_dict() | {"applied": _applied(outcome, c, status)} for c in outcome.changes
            ],
            "time": self.now().isoformat(timespec="seconds"),
        }
        if self.paused:
            report["kill_switch"] = self.paused
        if outcome.managed_by:
            report["managed_by"] = outcome.managed_by
            report["advice"] = advice(outcome.managed_by)
        if outcome.conflict:
            report["conflict"] = True
        applied = outcome.outcome_id and any(c.undo for c in outcome.changes)
        if outcome.changes and (status in ("REMEDIATED", "FAILED", "APPLYING") or applied):
            report["undo"] = (
                f"autoremediate undo {outcome_id} --table {self.settings.ledger_table}"
                " (with administrator credentials)"
            )
        return report

    def _new_id(self) -> str:
        return f"{self.now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:12]}"


def _applied(outcome: Outcome, change: Change, status: str) -> bool:
    """Whether the runner made this change, for undo: an outcome settled by `_enforce` (it has
    an outcome id) holds exactly the changes it applied, plus the manual ones (no call); the
    write-ahead APPLYING entry and report or exempt outcomes hold changes not made."""
    return bool(outcome.outcome_id) and status != "APPLYING" and change.call is not None


def _severity(status: str, remediator_severity: str) -> str:
    if status in ("EXEMPT",):
        return "INFO"
    if status == "SKIPPED":
        return "LOW"
    return remediator_severity


def summarise(outcomes: list[Outcome]) -> list[Mapping[str, Any]]:
    """What the handler returns (visible in `sam local invoke`)."""
    return [
        {
            "status": o.status.value,
            "resource": o.resource_arn,
            "reason": o.reason,
            "outcome_id": o.outcome_id,
        }
        for o in outcomes
    ]

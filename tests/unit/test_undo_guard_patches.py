"""autoremediate_cli.undo_guard's resolved inverses (CloudFront's UpdateDistribution), with no moto.

The ledger records a patch of the fields a change made; the guard checks the patch (its
distribution, its keys, its values: the change's `before`), and the remediator resolves it into
the real call just before it runs, which must still be the same operation on the same resource.
The whole flow against moto is in tests/remediators/test_cloudfront_distribution_protection.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from autoremediate_cli.undo_guard import UndoRefusedError, check_resolvable, plan, resolved
from cloudfront_distribution_protection import DECLARATION, REMEDIATOR
from core.outcome import Call
from sns_topic_encryption import REMEDIATOR as SNS

ARN = "arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"
TLS = "ViewerCertificate/MinimumProtocolVersion"
BEFORE = {"WebACLId": "", TLS: "TLSv1"}
AFTER = {"WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/b/1", TLS: "TLSv1.2_2021"}


def report(undo_params: dict[str, Any], forward_id: str = "E2QWRUHAPOMQZL") -> dict[str, Any]:
    forward = {"service": "cloudfront", "operation": "update_distribution",
               "params": {"Id": forward_id, "Patch": AFTER}}  # fmt: skip
    inverse = {"service": "cloudfront", "operation": "update_distribution", "params": undo_params}
    change = {"summary": "s", "resource": ARN, "before": BEFORE, "after": AFTER,
              "call": forward, "undo": [inverse], "applied": True}  # fmt: skip
    return {"outcome_id": "x", "status": "REMEDIATED", "resource_arn": ARN, "changes": [change]}


def test_a_patch_of_the_recorded_before_on_the_same_distribution_passes():
    [change] = plan(report({"Id": "E2QWRUHAPOMQZL", "Patch": BEFORE}), DECLARATION)
    assert change.undo[0].params["Patch"] == BEFORE


@pytest.mark.parametrize(
    ("params", "forward_id", "complaint"),
    [
        ({"Id": "EOTHER", "Patch": BEFORE}, "E2QWRUHAPOMQZL", "names Id 'EOTHER'"),
        ({"Id": "EOTHER", "Patch": BEFORE}, "EOTHER", "its own call"),
        ({"Id": "E2QWRUHAPOMQZL", "Patch": {**BEFORE, "WebACLId": "evil"}}, "E2QWRUHAPOMQZL",
         "not the change's recorded before"),
        ({"Id": "E2QWRUHAPOMQZL", "Patch": BEFORE, "DistributionConfig": {}}, "E2QWRUHAPOMQZL",
         "carries DistributionConfig"),
    ],
)  # fmt: skip
def test_a_patch_on_another_resource_or_of_other_values_is_refused(params, forward_id, complaint):
    with pytest.raises(UndoRefusedError, match=complaint):
        plan(report(params, forward_id), DECLARATION)


def test_a_patch_of_a_field_the_change_did_not_set_is_refused():
    entry = report({"Id": "E2QWRUHAPOMQZL", "Patch": {**BEFORE, "Comment": "x"}})
    entry["changes"][0]["before"] = {**BEFORE, "Comment": "x"}
    with pytest.raises(UndoRefusedError, match="Patch Comment, which the change did not set"):
        plan(entry, DECLARATION)


def test_a_remediator_that_cannot_resolve_patches_is_refused_before_anything_runs():
    changes = plan(report({"Id": "E2QWRUHAPOMQZL", "Patch": BEFORE}), DECLARATION)
    check_resolvable(changes, REMEDIATOR)
    with pytest.raises(UndoRefusedError, match="cannot resolve its update_distribution patches"):
        check_resolvable(changes, SNS)


class Resolves:
    """A remediator whose resolve_undo returns `real`."""

    name = "fake"

    def __init__(self, real: Call) -> None:
        self.real = real

    def resolve_undo(self, call: Call, aws: Any) -> Call:
        return self.real


PATCH = Call("cloudfront", "update_distribution", {"Id": "E2QWRUHAPOMQZL", "Patch": BEFORE})


def test_the_resolved_call_must_be_the_same_operation_on_the_same_distribution():
    real = Call("cloudfront", "update_distribution", {"Id": "E2QWRUHAPOMQZL", "IfMatch": "E1"})
    assert resolved(PATCH, Resolves(real), None, ARN) is real  # type: ignore[arg-type]
    other = Call("cloudfront", "update_distribution", {"Id": "EOTHER", "IfMatch": "E1"})
    with pytest.raises(UndoRefusedError, match="names Id 'EOTHER'"):
        resolved(PATCH, Resolves(other), None, ARN)  # type: ignore[arg-type]
    delete = Call("cloudfront", "delete_distribution", {"Id": "E2QWRUHAPOMQZL", "IfMatch": "E1"})
    with pytest.raises(UndoRefusedError, match=r"resolved to cloudfront\.delete_distribution"):
        resolved(PATCH, Resolves(delete), None, ARN)  # type: ignore[arg-type]


def test_other_inverse_calls_run_as_recorded():
    sns = Call("sns", "set_topic_attributes", {"TopicArn": "t"})
    assert resolved(sns, SNS, None, "arn:aws:sns:us-east-1:123456789012:t") is sns  # type: ignore[arg-type]

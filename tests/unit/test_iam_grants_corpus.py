"""Every real policy in ../shared/corpus keeps the invariants of test_iam_grants.py.

The corpus sits beside the clone in CI (AUTOREMEDIATE_CORPUS points elsewhere); someone who
cloned the project alone does not have it, and these tests then skip.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iam_grants import PolicyDocumentError, WildcardLevel, strip_open_trust, strip_wildcard_grants
from tests.unit.iam_model import (
    ADMINISTRATOR_ACCESS,
    LEVELS,
    Policy,
    assert_identity_invariants,
    statements,
)
from tests.unit.iam_trust_model import assert_trust_invariants

pytestmark = pytest.mark.corpus

IDENTITY_FOLDERS = (
    "aws-managed",
    "privesc/bishopfox-iam-vulnerable",
    "privesc/datadog-pathfinding-labs",
    "account-examples/cloudsplaining",
)
MANAGED_SHARDS = 4  # the 1,642 managed policies run as four tests, so that xdist can share them
REQUESTS_PER_POLICY = 16  # sampled actions per changed policy (x resources, x condition oracles)


@pytest.fixture(scope="module")
def corpus() -> Path:
    root = Path(
        os.environ.get("AUTOREMEDIATE_CORPUS")
        or Path(__file__).parents[2].parent / "shared" / "corpus"
    )
    if not (root / "policies").is_dir():
        pytest.skip(f"no policy corpus at {root / 'policies'} (set AUTOREMEDIATE_CORPUS)")
    return root


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def policy_files(corpus: Path, folder: str) -> list[Path]:
    files = sorted((corpus / "policies" / folder).glob("*.json"))
    assert files, f"{folder} is empty"
    return files


def managed(corpus: Path, name: str) -> Policy:
    document: Policy = load(corpus / "policies" / "aws-managed" / f"{name}.json")["PolicyDocument"]
    return document


def check_identity_files(files: list[Path]) -> list[str]:
    """Run the invariants over each file's PolicyDocument; return one line per failure."""
    failures = []
    for path in files:
        record = load(path)
        if not (record.get("source", {}).get("repo") and record["source"].get("license")):
            failures.append(f"{path.name}: no provenance")
        for level in LEVELS:
            try:
                assert_identity_invariants(
                    record["PolicyDocument"], level, limit=REQUESTS_PER_POLICY
                )
            except (AssertionError, PolicyDocumentError) as error:
                failures.append(f"{path.name} [{level}]: {type(error).__name__} {error}"[:400])
    return failures


@pytest.mark.parametrize("shard", range(MANAGED_SHARDS))
def test_aws_managed_policies_keep_the_invariants(corpus: Path, shard: int) -> None:
    files = [
        path
        for path in policy_files(corpus, "aws-managed")
        if zlib.crc32(path.name.encode()) % MANAGED_SHARDS == shard
    ]
    assert len(files) > 300
    failures = check_identity_files(files)
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("folder", IDENTITY_FOLDERS[1:])
def test_privesc_and_account_policies_keep_the_invariants(corpus: Path, folder: str) -> None:
    failures = check_identity_files(policy_files(corpus, folder))
    assert not failures, "\n".join(failures[:20])


def test_non_policy_files_are_left_out(corpus: Path) -> None:
    """pathfinding-cloud-paths describes escalation paths (permissions, prerequisites) and
    aws-managed-flagged-by-iam-dataset.json lists policy names: neither holds a document."""
    paths = sorted((corpus / "policies" / "privesc" / "pathfinding-cloud-paths").glob("*.json"))
    assert paths
    assert all("PolicyDocument" not in load(path) for path in paths)
    flagged = load(corpus / "policies" / "privesc" / "aws-managed-flagged-by-iam-dataset.json")
    assert "PolicyDocument" not in flagged
    pytest.skip(f"{len(paths) + 1} files hold no policy document (escalation paths, name lists)")


def test_counts_of_changed_managed_policies_are_plausible(corpus: Path) -> None:
    files = policy_files(corpus, "aws-managed")
    changed = dict.fromkeys(LEVELS, 0)
    emptied = dict.fromkeys(LEVELS, 0)
    for path in files:
        document = load(path)["PolicyDocument"]
        for level in LEVELS:
            result = strip_wildcard_grants(document, level)
            changed[level] += result.changed
            emptied[level] += result.document is None
    service, broad = changed[WildcardLevel.SERVICE], changed[WildcardLevel.ANY]
    # Measured on the 1,642 policies of iam-dataset 2073fa5: 326 and 563 change, 69 and 134
    # strip to nothing. The bounds leave room for AWS publishing new versions.
    assert len(files) >= 1600
    assert 0.1 * len(files) < service < broad < 0.5 * len(files), (service, broad)
    assert 0 < emptied[WildcardLevel.SERVICE] < emptied[WildcardLevel.ANY] < service


def test_administrator_access_strips_to_nothing_at_both_levels() -> None:
    for level in LEVELS:
        assert strip_wildcard_grants(ADMINISTRATOR_ACCESS, level).document is None


def test_read_only_access_is_compliant_at_service_level_and_keeps_specifics_at_any(
    corpus: Path,
) -> None:
    document = managed(corpus, "ReadOnlyAccess")
    assert not strip_wildcard_grants(document).changed
    broad = strip_wildcard_grants(document, WildcardLevel.ANY)
    assert broad.changed
    assert broad.document is not None
    remaining = [a for s in statements(broad.document) for a in s["Action"]]
    assert remaining
    assert not [a for a in remaining if "*" in a or "?" in a]


def test_service_wildcard_policies_lose_exactly_their_star_actions(corpus: Path) -> None:
    assert strip_wildcard_grants(managed(corpus, "AmazonS3FullAccess")).document is None
    assert strip_wildcard_grants(managed(corpus, "IAMFullAccess")).removed == (
        "statement #1: removed Action 'iam:*'",
    )
    for name in ("SecurityAudit", "ViewOnlyAccess", "AWSDenyAll"):
        if (corpus / "policies" / "aws-managed" / f"{name}.json").exists():
            assert not strip_wildcard_grants(managed(corpus, name)).changed, name


def test_every_allow_not_action_statement_is_removed(corpus: Path) -> None:
    """PowerUserAccess itself is not in the corpus (GPL copy left out); these are its kin."""
    found = 0
    for folder in IDENTITY_FOLDERS:
        for path in policy_files(corpus, folder):
            document = load(path)["PolicyDocument"]
            allow_not_action = [
                s for s in statements(document) if s["Effect"] == "Allow" and "NotAction" in s
            ]
            if not allow_not_action:
                continue
            found += 1
            result = strip_wildcard_grants(document)
            notes = [
                note for note in result.removed if note.endswith("removed NotAction statement")
            ]
            assert len(notes) == len(allow_not_action), path.name
            assert not [
                s
                for s in statements(result.document)
                if "NotAction" in s and s["Effect"] == "Allow"
            ]
    assert found >= 5


# Trust policies: policies/ holds none, so take the real ones from CloudTrail and Config records.


def trust_documents(corpus: Path) -> Iterator[tuple[str, Any]]:
    """(where, document) for every trust policy in a CreateRole/UpdateAssumeRolePolicy record
    or an AWS::IAM::Role configuration item (JSON text, URL-encoded text or a dict)."""
    events = corpus / "cloudtrail" / "iam.amazonaws.com"
    for path in sorted(events.glob("*/*.json")):
        record = load(path)
        parameters = record.get("detail", record).get("requestParameters") or {}
        for key in ("assumeRolePolicyDocument", "policyDocument"):
            if key in parameters and path.parent.name in ("CreateRole", "UpdateAssumeRolePolicy"):
                yield str(path.relative_to(corpus)), parameters[key]
    for path in sorted((corpus / "config").glob("**/AWS_IAM_Role/*.json")):
        configuration = load(path).get("configuration") or {}
        if "assumeRolePolicyDocument" in configuration:
            yield str(path.relative_to(corpus)), configuration["assumeRolePolicyDocument"]


def test_real_trust_policies_keep_the_invariants(corpus: Path) -> None:
    found = list(trust_documents(corpus))
    assert len(found) >= 4, found
    for where, document in found:
        result = strip_open_trust(document)
        assert not result.changed, where  # none of them trusts strangers
        assert result.document is not None
        assert_trust_invariants(result.document)
    principal_star = [
        where
        for where, document in found
        if any(s.get("Principal") == "*" for s in statements(strip_open_trust(document).document))
    ]
    assert principal_star, "the ExternalId-pinned Principal '*' record is gone from the corpus"


def test_real_identity_policies_in_cloudtrail_records_keep_the_invariants(corpus: Path) -> None:
    events = corpus / "cloudtrail" / "iam.amazonaws.com"
    texts = []
    for path in sorted(events.glob("Put*Policy/*.json")) + sorted(
        events.glob("Create*Policy*/*.json")
    ):
        record = load(path)
        parameters = record.get("detail", record).get("requestParameters") or {}
        if "policyDocument" in parameters:
            texts.append(parameters["policyDocument"])
    assert texts
    for text in texts:
        for level in LEVELS:
            assert_identity_invariants(json.loads(text), level)

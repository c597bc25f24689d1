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
from urllib.parse import unquote

import pytest

from iam_escalation import ESCALATION_ACTIONS
from iam_grants import (
    PolicyDocumentError,
    WildcardLevel,
    is_wildcard_action,
    strip_open_trust,
    strip_wildcard_grants,
)
from tests.unit.iam_model import (
    ADMINISTRATOR_ACCESS,
    LEVELS,
    Policy,
    assert_identity_invariants,
    listed,
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


# Panther's backdoor-role record: Principal '*' behind an external id only, which pins nobody.
OPEN_TRUST_RECORDS = ("cloudtrail/iam.amazonaws.com/UpdateAssumeRolePolicy/2.json",)


def test_real_trust_policies_keep_the_invariants(corpus: Path) -> None:
    found = list(trust_documents(corpus))
    assert len(found) >= 4, found
    for where, document in found:
        result = strip_open_trust(document)
        assert result.changed == (where in OPEN_TRUST_RECORDS), where  # the others are closed
        assert_trust_invariants(parsed(document))
    opened = {where: parsed(document) for where, document in found if where in OPEN_TRUST_RECORDS}
    assert set(opened) == set(OPEN_TRUST_RECORDS), "the ExternalId-only record is gone"
    for document in opened.values():
        assert any(s.get("Principal") == "*" for s in statements(document))
        assert strip_open_trust(document).document is None


def parsed(document: Any) -> Policy:
    """A trust document as a dict, from a dict, JSON text or URL-encoded JSON text."""
    if isinstance(document, dict):
        return document
    text = unquote(document) if document.strip()[:3].upper() == "%7B" else document
    loaded: Policy = json.loads(text)
    return loaded


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


# The privilege-escalation actions that iam_escalation.py carries as a constant (Lambda has no
# corpus): the required permissions of every pathfinding.cloud path, and the Allow actions of
# IAM Vulnerable's privesc-path policies; reads (Describe*, Get*, List*) and patterns left out.

PATHS = "privesc/pathfinding-cloud-paths"
BISHOPFOX = "privesc/bishopfox-iam-vulnerable"
READS = ("describe", "get", "list")


def escalation_actions(corpus: Path) -> dict[str, str]:
    """Lower-case action -> its first spelling (pathfinding.cloud's first), with provenance."""
    found: dict[str, str] = {}

    def add(action: str) -> None:
        name = action.partition(":")[2].lower()
        if "*" not in action and "?" not in action and not name.startswith(READS):
            found.setdefault(action.lower(), action)

    for path in sorted((corpus / "policies" / PATHS).glob("*.json")):
        record = load(path)
        assert record["_source"]["repo"] == "DataDog/pathfinding.cloud", path.name
        assert record["_source"]["license"] == "Apache-2.0", path.name
        for permission in record["permissions"]["required"]:
            add(permission["permission"])
    for path in policy_files(corpus, BISHOPFOX):
        record = load(path)
        if record["category"] != "privesc-paths":
            continue
        assert record["source"]["repo"] == "BishopFox/iam-vulnerable", path.name
        assert record["source"]["license"] == "MIT", path.name
        for statement in statements(record["PolicyDocument"]):
            if statement["Effect"] == "Allow":
                for action in listed(statement.get("Action", [])):
                    add(action)
    return found


def test_escalation_actions_are_those_of_the_corpus(corpus: Path) -> None:
    found = escalation_actions(corpus)
    assert len(found) >= 60
    constant = {action.lower(): action for action in ESCALATION_ACTIONS}
    assert sorted(set(constant) - set(found)) == [], "in ESCALATION_ACTIONS, not in the corpus"
    assert sorted(set(found) - set(constant)) == [], "in the corpus, not in ESCALATION_ACTIONS"
    assert constant == found, "spelled otherwise than the corpus spells it first"


def test_every_escalation_path_keeps_an_action_on_the_list(corpus: Path) -> None:
    """Reads are left out; no path of the catalogue consists of reads only."""
    constant = {action.lower() for action in ESCALATION_ACTIONS}
    paths = sorted((corpus / "policies" / PATHS).glob("*.json"))
    assert len(paths) >= 60
    for path in paths:
        required = {p["permission"].lower() for p in load(path)["permissions"]["required"]}
        assert required & constant, path.name


def test_escalation_wildcards_change_few_managed_policies_at_service_level(corpus: Path) -> None:
    """Measured on iam-dataset 2073fa5: 9 AWS managed policies hold a partial wildcard that
    reaches an escalation action (ec2:CreateLaunchTemplate*, lambda:Update*, glue:*Job*...)."""

    def newly_counted(action: str) -> bool:
        name = action.partition(":")[2]
        return is_wildcard_action(action) and not (name and set(name) <= {"*", "?"})

    touched = {
        path.stem
        for path in policy_files(corpus, "aws-managed")
        for statement in statements(load(path)["PolicyDocument"])
        if statement["Effect"] == "Allow"
        and any(newly_counted(action) for action in listed(statement.get("Action", [])))
    }
    assert 0 < len(touched) < 40, sorted(touched)

"""One moto mock per test session (3x faster than one per test), reset between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

# Before anything imports boto3: no real credentials, no real account, ever.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_LOG_LEVEL="WARNING",
)


@pytest.fixture(scope="session")
def moto_session() -> Iterator[Any]:
    from moto import mock_aws

    from tools.scenario import load_few_managed_policies

    load_few_managed_policies()  # AdministratorAccess & co. exist, as in AWS
    mock = mock_aws()
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def aws(moto_session: Any) -> Iterator[Any]:
    """A fresh mocked account; `aws("iam")` gives a client, as core.clients.Clients does."""
    moto_session.reset()
    from core.clients import Clients

    yield Clients()
    moto_session.reset()


@pytest.fixture
def stack(aws: Any) -> Any:
    from tools.scenario import deploy_stack, seed_principals

    deployed = deploy_stack(aws)
    seed_principals(aws)
    return deployed


@pytest.fixture
def fixed_now() -> datetime:
    return datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

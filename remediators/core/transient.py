"""Which AWS failures are worth a retry: Lambda retries the event, then dead-letters it."""

from __future__ import annotations

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

TRANSIENT_ERRORS = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceFailure",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "ConcurrentModification",
        "ConcurrentModificationException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "RequestTimeoutException",
        "PreconditionFailed",  # CloudFront: the ETag changed under a read-modify-write
        "WAFInternalErrorException",
        "WAFUnavailableEntityException",  # a resource just created, not yet known to WAF
    }
)
# Network trouble is worth a retry; a BotoCoreError such as ParamValidationError is not.
NETWORK_ERRORS = (BotoConnectionError, HTTPClientError)

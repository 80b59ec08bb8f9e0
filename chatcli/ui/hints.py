"""What to suggest after a failed turn: `/retry` only where trying the same request again can help."""

from __future__ import annotations

from chatcli.errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    ContentFilterError,
    ModelNotFoundError,
    QuotaError,
    UsageError,
)

RETRY_HINT = " — /retry to try again"

# The same request fails the same way until the key, the config, the account or the request changes.
SAME_AGAIN: tuple[type[BaseException], ...] = (AuthError, ConfigError, UsageError, BadRequestError,
                                                ModelNotFoundError, QuotaError)


def can_retry(error: BaseException) -> bool:
    """Whether asking again unchanged may succeed (network, rate limit, server error, a cut or interrupted answer)."""
    if isinstance(error, SAME_AGAIN):
        return False
    # The filter refusing the question itself (an HTTP error) refuses it again; one stopping an answer may not.
    return not (isinstance(error, ContentFilterError) and error.status is not None)


def retry_hint(error: BaseException) -> str:
    """`" — /retry to try again"` for an error a retry may fix, else ""."""
    return RETRY_HINT if can_retry(error) else ""

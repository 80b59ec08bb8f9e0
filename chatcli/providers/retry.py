"""Retrying a model call or upload: which failures are worth another try, and how long to wait."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from chatcli.errors import ProviderError

MAX_ATTEMPTS = 3
BACKOFF_BASE = 0.5
MAX_RETRY_AFTER = 20.0

T = TypeVar("T")


def retrying(attempt_once: Callable[[], T], notify: Callable[[str], None]) -> T:
    """The result of attempt_once, tried again (with a notice) after retryable failures."""
    attempt = 1
    while True:
        try:
            return attempt_once()
        except ProviderError as err:
            delay = retry_delay(err, attempt)
            if delay is None:
                raise
            notify(retry_notice(err, delay, attempt))
            time.sleep(delay)
            attempt += 1


def retry_notice(err: ProviderError, delay: float, attempt: int) -> str:
    """`qwen: retrying in 0.6 s (1/2): cannot connect to ...`: what happens first, so a cut line keeps it."""
    head = f"{err.provider}: " if err.provider and err.message.startswith(f"{err.provider}: ") else ""
    return f"{head}retrying in {delay:.1f} s ({attempt}/{MAX_ATTEMPTS - 1}): {err.message.removeprefix(head)}"


def retry_delay(err: ProviderError, attempt: int) -> float | None:
    """Seconds to wait before trying again, or None if the error should not be retried."""
    if not err.retryable or attempt >= MAX_ATTEMPTS:
        return None
    if err.retry_after is not None:
        if err.retry_after > MAX_RETRY_AFTER:
            return None
        return max(0.0, err.retry_after)
    return BACKOFF_BASE * 2 ** (attempt - 1) * (1 + random.random() / 4)

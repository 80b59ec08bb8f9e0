"""The secrets this process knows (every resolved API key) and the one function that hides them.

Every output boundary (stderr, `--json`, the crash log, a server's error body) passes its text
through `redact`; config is the bottom layer, so every package may import this module.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

MASK = "****"
MIN_LENGTH = 8  # shorter strings are placeholders ("none", "ollama"), and hiding them would garble words

_lock = threading.Lock()
_known: tuple[str, ...] = ()  # longest first, so a key containing another is hidden whole


def remember(secret: str | None) -> None:
    """Add a secret to the process-wide registry (too short or empty: ignored)."""
    global _known
    if not secret or len(secret) < MIN_LENGTH or secret in _known:
        return
    with _lock:
        _known = tuple(sorted({*_known, secret}, key=len, reverse=True))


def forget_all() -> None:
    """Empty the registry (for tests)."""
    global _known
    with _lock:
        _known = ()


def redact(text: str) -> str:
    """Text with every known secret replaced by ****."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_data(value: Any) -> Any:
    """A copy of JSON-like data (dicts, lists, strings) with every known secret hidden, keys included."""
    if not _known:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def without_password(url: str) -> str:
    """A proxy URL fit to show: user:password@ becomes ***@."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))

"""Make untrusted text safe for the terminal: model text chunk by chunk, config values as one line."""

from __future__ import annotations

import re

# CSI, OSC (BEL or ST terminated), DCS/SOS/PM/APC strings, two-byte escapes, lone C0/C1 controls.
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[ -/]*[0-~]"
    r"|\r\n"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
# What may still become a complete sequence when more text arrives.
_PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)\Z|\r\Z")
MAX_HELD = 4096
# Control characters and the invisible ones that reorder or hide text (bidi overrides, zero widths).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _replace(match: re.Match[str]) -> str:
    return "\n" if match.group() == "\r\n" else ""


def strip_controls(text: str) -> str:
    """Text without escape sequences or control characters other than newline and tab."""
    return _SEQUENCE.sub(_replace, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """A value from the config file for one line: control and invisible characters shown as escapes.

    Escaped rather than dropped, so that a stray escape sequence in a URL or model name is seen.
    """
    return _INVISIBLE.sub(_escape, text)


class Sanitizer:
    """Streaming `strip_controls`: holds back a sequence split across chunks."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        """The safe part of the text seen so far that was not returned yet."""
        text = self._held + text
        self._held = ""
        cut = max(text.rfind("\x1b"), text.rfind("\r"))
        if cut >= 0 and len(text) - cut <= MAX_HELD and _PARTIAL.match(text, cut):
            text, self._held = text[:cut], text[cut:]
        return strip_controls(text)

    def flush(self) -> str:
        """Whatever is held back, made safe."""
        text, self._held = self._held, ""
        return strip_controls(text)

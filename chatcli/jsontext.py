"""JSON (and TOML) text that is safe to print: no raw control character, no known secret.

A leaf module like chatcli.errors: the store, the app and the CLI all write JSON through it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chatcli.config.secrets import redact_data

# json.dumps escapes C0 itself; these it leaves raw: DEL, the C1 controls (U+009B is CSI to many
# terminals) and the Unicode line separators. Both JSON and TOML basic strings accept \uXXXX.
_RAW = re.compile("[\x7f-\x9f\u2028\u2029]")


def escape_raw_controls(text: str) -> str:
    """JSON or TOML text with DEL, C1 controls and U+2028/9 written as \\uXXXX escapes.

    Only valid for text in which those characters can only stand inside strings (JSON, or TOML
    written by tomli_w, which uses basic strings).
    """
    return _RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_text(obj: Any, *, indent: int | None = None) -> str:
    """obj as JSON (UTF-8 text kept readable), control characters escaped, known secrets hidden."""
    return escape_raw_controls(json.dumps(redact_data(obj), ensure_ascii=False, indent=indent))

"""Finding the file line of a dotted key (tomllib reports none), and spelling dotted keys."""

from __future__ import annotations

import re

_KEY_PART = r"\s*(?:([A-Za-z0-9_-]+)|\"((?:[^\"\\]|\\.)*)\"|'([^']*)')\s*"


def dotted(parts: tuple[str, ...] | list[str]) -> str:
    """A key path as TOML spells it: providers."my.model".input."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"' for p in parts)


def parse_key(s: str, pos: int = 0) -> tuple[list[str], int] | None:
    """Parse a dotted TOML key at pos; return its parts and the end position."""
    parts: list[str] = []
    while True:
        m = re.compile(_KEY_PART).match(s, pos)
        if not m:
            return None
        parts.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        if pos < len(s) and s[pos] == ".":
            pos += 1
            continue
        return parts, pos


def find_line(text: str | None, target: tuple[str, ...]) -> int | None:
    """Best-effort 1-based line where the dotted key target is set, else None."""
    if not text:
        return None
    table: list[str] = []
    under: int | None = None
    inline: int | None = None
    in_string: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if in_string:
            if in_string in line:
                in_string = None
            continue
        s = line.strip()
        rest = ""
        if not s or s.startswith("#"):
            continue
        if s.startswith("["):
            parsed = parse_key(s, 2 if s.startswith("[[") else 1)
            if not parsed:
                continue
            table = parsed[0]
            path = tuple(table)
        else:
            parsed = parse_key(s)
            if not parsed or not s[parsed[1]:].startswith("="):
                continue
            path = (*table, *parsed[0])
            rest = s[parsed[1] + 1:]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2:
                    in_string = quote
        if path == target:
            return n
        if under is None and path[: len(target)] == target:
            under = n  # a table defined only through its sub-keys
        if (
            inline is None
            and len(path) < len(target)
            and target[: len(path)] == path
            and re.search(r"(^|[{,\s])[\"']?" + re.escape(target[-1]) + r"[\"']?\s*=", rest)
        ):
            inline = n
    return under or inline

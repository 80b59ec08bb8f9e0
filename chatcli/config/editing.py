"""Reading values back (`chat config get/show`) and editing the file in place, comments kept."""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatcli.config.lines import dotted, parse_key
from chatcli.config.loading import build, expects_string, read_raw, toml_module
from chatcli.config.model import Config
from chatcli.config.presets import STARTER_CONFIG
from chatcli.config.secrets import without_password
from chatcli.errors import ConfigError

_SECRET = r"(?i)key|token|secret|passw|auth|credential"
_NOT_SECRET = ("api_key_env", "api_key_cmd")

# --- reading values back -------------------------------------------------------------------


def _as_dict(cfg: Config) -> dict[str, Any]:
    """The effective config as a dict, unset fields as None."""
    out = asdict(cfg)
    del out["path"], out["exists"]
    for table in (*out["providers"].values(), *out["roles"].values()):
        del table["name"]
    return out


def get_value(cfg: Config, key: str) -> Any:
    """Return the effective value of a dotted key (None if known but unset)."""
    parts = split_key(key)
    value: Any = _as_dict(cfg)
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            raise ConfigError(f"unknown key {key!r}")
        value = value[part]
    return value


def looks_secret(name: str) -> bool:
    """Whether a key name suggests its value is a secret."""
    return name not in _NOT_SECRET and bool(re.search(_SECRET, name))


def mask_secret(value: str) -> str:
    """Hide a secret, keeping the last 4 characters of long ones."""
    return "****" + value[-4:] if len(value) >= 12 else "****"


def _masked(value: Any, secret: bool) -> Any:
    """The value with every string under a secret-looking key masked, and passwords out of proxy URLs."""
    if isinstance(value, dict):
        return {k: without_password(v) if k == "proxy" and isinstance(v, str) else _masked(v, looks_secret(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secret) for v in value]
    return mask_secret(value) if secret and isinstance(value, str) else value


def _pruned(value: Any) -> Any:
    """The value without None entries and empty tables, which TOML cannot or need not show."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None and v != {}}
    return value


def shown_value(cfg: Config, key: str) -> Any:
    """The value `chat config get` prints: secrets masked as `config show` masks them, unset parts dropped."""
    last = split_key(key)[-1]
    value = _pruned(get_value(cfg, key))
    if last == "proxy" and isinstance(value, str):
        return without_password(value)
    return _masked(value, looks_secret(last))


def effective_dict(cfg: Config, mask: bool = True) -> dict:
    """The effective config as a plain, TOML-writable dict, secrets masked unless mask=False."""
    out = _pruned(_as_dict(cfg))
    return _masked(out, False) if mask else out


# --- writing ---------------------------------------------------------------------------------


def split_key(key: str) -> list[str]:
    """The parts of a dotted key, or ConfigError if it is not one."""
    parsed = parse_key(key)
    if not key.strip() or not parsed or parsed[1] != len(key):
        raise ConfigError(f"invalid key {key!r}")
    return parsed[0]


def _parse_value(parts: list[str], value: str) -> Any:
    """A TOML literal if value is one, else the plain string (always a string for string keys)."""
    tomllib = toml_module()
    try:
        parsed = tomllib.loads(f"v = {value}")
    except tomllib.TOMLDecodeError:
        return value
    if list(parsed) != ["v"]:
        return value
    if not isinstance(parsed["v"], str) and expects_string(parts):
        return value
    return parsed["v"]


def set_value(path: Path, key: str, value: str) -> None:
    """Set a dotted key in the file, validating the result; comments and layout are kept."""
    parts = split_key(key)
    raw, text = read_raw(path)
    node = raw
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {key!r}: {dotted(parts[: i + 1])} is not a table")
    node[parts[-1]] = _parse_value(parts, value)
    build(raw, path, text, exists=True)  # line numbers from the old text, where they still apply
    import tomlkit  # lazy: only `chat config set` edits the file
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import InlineTable

    try:
        doc = tomlkit.parse(text or "")
        table: Any = doc
        for part in parts[:-1]:
            if part not in table:
                table[part] = tomlkit.inline_table() if isinstance(table, InlineTable) else tomlkit.table()
            table = table[part]
        item = node[parts[-1]]
        if isinstance(item, dict):  # a table given as a value stays inline, as it was typed
            item = tomlkit.inline_table()
            item.update(node[parts[-1]])
        table[parts[-1]] = item
        edited = doc.as_string()
    except TOMLKitError as e:
        raise ConfigError(f"{path}: cannot edit: {e}") from None
    if toml_module().loads(edited) != raw:  # tomlkit put something where TOML reads it differently
        raise ConfigError(f"{path}: cannot set {key!r} without changing other keys; edit the file by hand")
    _write_atomic(path, edited)


def init_config(path: Path, force: bool = False) -> None:
    """Write the commented starter file; refuse to overwrite unless force."""
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (use --force to overwrite)")
    _write_atomic(path, STARTER_CONFIG)


def _write_atomic(path: Path, text: str) -> None:
    """Write text via a temp file in the same directory; dirs 0700, file 0600."""
    import tempfile

    if path.is_symlink():
        path = path.resolve()  # keep a dotfiles symlink pointing at the updated file
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise ConfigError(f"{path}: cannot write: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write: {e.strerror or e}") from None

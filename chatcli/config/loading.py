"""Finding and reading the config file, and checking it: each error names the file and line."""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from chatcli.config.limits import LIMITS as _OPTION_LIMITS
from chatcli.config.limits import problem as _option_problem
from chatcli.config.lines import dotted, find_line
from chatcli.config.mcp import mcp_config
from chatcli.config.model import (
    DEFAULT_TIMEOUT,
    Config,
    ContextConfig,
    ProviderConfig,
    RenderConfig,
    StoreConfig,
    ToolsConfig,
    WeatherSettings,
)
from chatcli.config.presets import DEFAULT_PROVIDER, PRESETS, PROVIDER_KINDS
from chatcli.config.prices import check_prices
from chatcli.config.roles import BUILTIN_ROLES, Role
from chatcli.errors import ConfigError

# --- checks: each returns what is wrong with a value, or None ---------------------------

Check = Callable[[Any], "str | None"]
Fail = Callable[[tuple[str, ...], str], ConfigError]


def _is(ok: Callable[[Any], bool], problem: str) -> Check:
    """A check that reports problem when ok(value) is false."""
    return lambda v: None if ok(v) else problem


def _option(name: str) -> Check:
    """The check of a generation option, from chatcli.config.limits."""
    return lambda v: _option_problem(name, v)


_string = _is(lambda v: isinstance(v, str), "must be a string")
_nonempty = _is(lambda v: isinstance(v, str) and bool(v.strip()), "must be a non-empty string")
_bool = _is(lambda v: isinstance(v, bool), "must be true or false")
_table = _is(lambda v: isinstance(v, dict), "must be a table")
_str_list = _is(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "must be a list of strings")
_positive = _is(lambda v: type(v) in (int, float) and v > 0, "must be a number > 0")
_kind = _is(lambda v: v in PROVIDER_KINDS, f"must be one of: {', '.join(PROVIDER_KINDS)}")
_pos_int = _is(lambda v: type(v) is int and v > 0, "must be a whole number > 0")


def _proxy(value: Any) -> str | None:
    """A proxy URL (http:// or https://, with a host), or "" for a direct connection."""
    if not isinstance(value, str):
        return 'must be a string: "http://host:port", or "" to connect directly'
    if value == "":
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or _unsafe(value):
        return 'must be a proxy URL like "http://host:port", or "" to connect directly'
    return None


def _unsafe(text: str) -> bool:
    """Whether text holds anything that cannot go into an HTTP header or URL: controls, spaces, non-ASCII."""
    return not text.isascii() or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text)


_token = _is(lambda v: isinstance(v, str) and bool(v) and not _unsafe(v),
             "must be a non-empty string without spaces or non-ASCII characters")


def _inspection(value: Any) -> str | None:
    """X-DashScope-DataInspection: a string as sent, or a table of strings (sent as JSON)."""
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            return None
        return 'must be a string or a table of strings, e.g. {input = "cip", output = "cip"}'
    if isinstance(value, str) and value.strip() and value.isascii() and not any(ord(c) < 0x20 for c in value):
        return None
    return 'must be a string or a table of strings, e.g. {input = "cip", output = "cip"}'

# Known keys. Adding a top-level setting is one line here plus a field on Config.
TOP_KEYS: dict[str, Check] = {
    "default_provider": _nonempty,
    "show_reasoning": _bool,
    "providers": _table,
    "tools": _table,
    "store": _table,
    "context": _table,
    "render": _table,
    "prices": _table,  # model -> {input, output[, cached]} per million tokens, and currency
    "roles": _table,  # [roles.NAME]: a system prompt with its provider, model, options and persona
    "mcp": _table,  # [mcp.servers.NAME] and mcp.import (chatcli.config.mcp)
}
PROVIDER_KEYS: dict[str, Check] = {
    "kind": _kind,
    "base_url": _nonempty,
    "api_key_env": _string,
    "api_key_cmd": _string,
    "api_key": _string,
    "model": _nonempty,
    "models": _str_list,
    "extra_body": _table,
    "timeout": _positive,
    "proxy": _proxy,
    "ca_bundle": _nonempty,  # and the file must exist (_ca_bundle)
    "workspace": _token,
    "data_inspection": _inspection,
    "assistant_id": _token,
    # generation defaults (chatcli.core.options); command-line flags win
    **{name: _option(name) for name in _OPTION_LIMITS},
}
ROLE_KEYS: dict[str, Check] = {
    "system": _string, "provider": _nonempty, "model": _nonempty, "description": _string, "tools": _bool,
    "assistant_id": _token, "bot_name": _nonempty, "bot_info": _nonempty, "user_name": _nonempty,
    "user_info": _nonempty, **{name: _option(name) for name in _OPTION_LIMITS},
}
TOOLS_KEYS: dict[str, Check] = {"enabled": _bool, "max_rounds": _pos_int, "timeout": _positive, "weather": _table}
STORE_KEYS: dict[str, Check] = {"enabled": _bool, "path": _nonempty}
CONTEXT_KEYS: dict[str, Check] = {"max_tokens": _pos_int}
RENDER_KEYS: dict[str, Check] = {"soft_breaks": _is(lambda v: v in ("break", "space"), 'must be "break" or "space"')}
WEATHER_KEYS: dict[str, Check] = {"geocoding_url": _nonempty, "forecast_url": _nonempty, "timeout": _positive,
                                  "proxy": _proxy}
_REQUIRED = ("kind", "base_url", "model")
_STRING_CHECKS = (_string, _nonempty, _proxy, _token)
_TYPED_TABLES = ("default_provider", "providers", "tools", "store", "context", "render", "roles", "mcp")


def expects_string(parts: list[str]) -> bool:
    """Whether the key at this path takes a string (so `chat config set` keeps the text as given)."""
    if len(parts) == 1:
        check = TOP_KEYS.get(parts[0])
    elif len(parts) == 3 and parts[0] == "providers":
        check = PROVIDER_KEYS.get(parts[2])
    elif len(parts) == 3 and parts[0] == "roles":
        check = ROLE_KEYS.get(parts[2])
    elif len(parts) == 2 and parts[0] == "store":
        check = STORE_KEYS.get(parts[1])
    elif len(parts) == 3 and parts[:2] == ["tools", "weather"]:
        check = WEATHER_KEYS.get(parts[2])
    else:
        return False
    return check in _STRING_CHECKS


# --- locating and reading ----------------------------------------------------------------


def config_path(override: str | None = None) -> Path:
    """Return the config file path: explicit override > $CHATCLI_CONFIG > platform default."""
    chosen = override or os.environ.get("CHATCLI_CONFIG")
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs

    return platformdirs.user_config_path("chatcli") / "config.toml"


def toml_module() -> ModuleType:
    """The TOML reader: tomllib, or tomli before Python 3.11 (imported on first use)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    return tomllib


def read_raw(path: Path) -> tuple[dict, str | None]:
    """Return the parsed file and its text, or ({}, None) if there is no file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}, None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    tomllib = toml_module()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        first = str(e).splitlines()[0] if str(e) else "parse error"
        raise ConfigError(f"{path}: invalid TOML: {first}") from None


def load_config(override: str | None = None) -> Config:
    """Read and validate the config file (a missing file means presets only)."""
    path = config_path(override)
    raw, text = read_raw(path)
    return build(raw, path, text, exists=text is not None)


# --- validation ----------------------------------------------------------------------------


def build(raw: dict, path: Path, text: str | None, exists: bool) -> Config:
    """Validate a raw TOML dict and lay it over the presets; text gives the lines for errors."""

    def fail(keypath: tuple[str, ...], msg: str) -> ConfigError:
        line = find_line(text, keypath)
        return ConfigError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")

    _check_keys(raw, TOP_KEYS, (), fail)
    providers = _providers(raw.get("providers", {}), path, fail)
    default = raw.get("default_provider", DEFAULT_PROVIDER)
    if default not in providers:
        known = ", ".join(providers)
        raise fail(("default_provider",), f"default_provider {default!r} names no provider (known: {known})")
    extras = {k: copy.deepcopy(v) for k, v in raw.items() if k not in _TYPED_TABLES}
    tools = _tools(raw.get("tools", {}), fail)
    store = _store(raw.get("store", {}), path, fail)
    _check_keys(raw.get("context", {}), CONTEXT_KEYS, ("context",), fail)
    extras["context"] = ContextConfig(**raw.get("context", {}))
    _check_keys(raw.get("render", {}), RENDER_KEYS, ("render",), fail)
    extras["render"] = RenderConfig(**raw.get("render", {}))
    wrong_price = check_prices(extras.get("prices", {}))
    if wrong_price:
        raise fail(("prices", *wrong_price[0]), wrong_price[1])
    roles = _roles(raw.get("roles", {}), providers, fail)
    mcp = mcp_config(raw.get("mcp", {}), path, fail)
    return Config(path=path, exists=exists, default_provider=default, providers=providers, tools=tools,
                  store=store, roles=roles, mcp=mcp, **extras)


def _providers(file_providers: dict, config_file: Path, fail: Fail) -> dict[str, ProviderConfig]:
    """The presets with the file's [providers.*] tables laid over them, then the file's own."""
    providers: dict[str, ProviderConfig] = {}
    for name in [*PRESETS, *(n for n in file_providers if n not in PRESETS)]:
        where = ("providers", name)
        table = file_providers.get(name, {})
        if not isinstance(table, dict):
            raise fail(where, f"{dotted(where)} must be a table")
        _check_keys(table, PROVIDER_KEYS, where, fail)
        if name not in PRESETS:
            missing = [k for k in _REQUIRED if k not in table]
            if missing:
                msg = f"[{dotted(where)}] needs kind, base_url and model (missing: {', '.join(missing)})"
                raise fail(where, msg + _did_you_mean(name, PRESETS))
        merged = {**copy.deepcopy(PRESETS.get(name, {})), **copy.deepcopy(table)}
        merged["timeout"] = float(merged.get("timeout", DEFAULT_TIMEOUT))
        if "ca_bundle" in table:
            merged["ca_bundle"] = _ca_bundle(table["ca_bundle"], config_file, (*where, "ca_bundle"), fail)
        if isinstance(merged.get("data_inspection"), dict):
            merged["data_inspection"] = json.dumps(merged["data_inspection"], separators=(",", ":"))
        providers[name] = ProviderConfig(name=name, **merged)
    return providers


def _roles(file_roles: dict, providers: dict[str, ProviderConfig], fail: Fail) -> dict[str, Role]:
    """The built-in roles with the file's [roles.*] tables laid over them key by key, then the file's own."""
    roles: dict[str, Role] = {}
    for name in [*BUILTIN_ROLES, *(n for n in file_roles if n not in BUILTIN_ROLES)]:
        where = ("roles", name)
        table = file_roles.get(name, {})
        if not isinstance(table, dict):
            raise fail(where, f"{dotted(where)} must be a table")
        _check_keys(table, ROLE_KEYS, where, fail)
        if table.get("provider") is not None and table["provider"] not in providers:
            raise fail((*where, "provider"), f"{dotted((*where, 'provider'))} names no provider "
                                             f"{table['provider']!r} (known: {', '.join(providers)})")
        roles[name] = Role(name=name, **{**copy.deepcopy(BUILTIN_ROLES.get(name, {})), **copy.deepcopy(table)})
    return roles


def _ca_bundle(value: str, config_file: Path, where: tuple[str, ...], fail: Fail) -> str:
    """The absolute path of a CA bundle (relative: from the config file's directory) that holds a PEM certificate."""
    path = config_file.parent / Path(value).expanduser()
    try:
        with path.open("rb") as f:
            head = f.read(1024 * 1024)
    except FileNotFoundError:
        raise fail(where, f"{dotted(where)}: no such file: {path}") from None
    except IsADirectoryError:
        raise fail(where, f"{dotted(where)}: {path} is a directory, not a PEM file") from None
    except OSError as e:
        raise fail(where, f"{dotted(where)}: cannot read {path}: {e.strerror or e}") from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise fail(where, f"{dotted(where)}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return str(path)


def _tools(table: dict, fail: Fail) -> ToolsConfig:
    """Validate [tools] and [tools.weather]."""
    _check_keys(table, TOOLS_KEYS, ("tools",), fail)
    weather = table.get("weather", {})
    _check_keys(weather, WEATHER_KEYS, ("tools", "weather"), fail)
    fields = {k: v for k, v in table.items() if k != "weather"}
    return ToolsConfig(**fields, weather=WeatherSettings(**weather))


def _store(table: dict, config_file: Path, fail: Fail) -> StoreConfig:
    """Validate [store]; a relative path is taken from the config file's directory."""
    _check_keys(table, STORE_KEYS, ("store",), fail)
    path = table.get("path")
    if path is not None:
        path = str(config_file.parent / Path(path).expanduser())
    return StoreConfig(enabled=table.get("enabled", True), path=path)


def _check_keys(table: dict, known: dict[str, Check], where: tuple[str, ...], fail: Fail) -> None:
    """Reject unknown keys and values of the wrong type in one table."""
    for key, value in table.items():
        if key not in known:
            scope = f" in [{dotted(where)}]" if where else ""
            raise fail((*where, key), f"unknown key {key!r}{scope}{_did_you_mean(key, known)}")
        problem = known[key](value)
        if problem:
            raise fail((*where, key), f"{dotted((*where, key))} {problem}")


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest option, or ""."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""

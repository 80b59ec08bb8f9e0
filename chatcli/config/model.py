"""Typed settings from the TOML config file, built-in provider presets, and writing the file."""

from __future__ import annotations

import copy
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatcli.config.limits import LIMITS as _OPTION_LIMITS
from chatcli.config.limits import problem as _option_problem
from chatcli.config.prices import check_prices
from chatcli.errors import AuthError, ConfigError
from chatcli.tools.weather import WeatherSettings

PROVIDER_KINDS = ("openai", "zhipu", "dashscope")
DEFAULT_PROVIDER = "qwen"
DEFAULT_TIMEOUT = 120.0
KEY_CMD_TIMEOUT = 30.0

_QWEN_MODELS = ["qwen-plus", "qwen-max", "qwen-turbo", "qwen-long", "qwen3-max", "qwen-vl-plus", "qwq-plus"]
_GLM_MODELS = ["glm-4-plus", "glm-4-air", "glm-4-flash", "glm-4-long", "glm-4v-plus", "glm-4.5", "glm-z1-air"]

_QWEN = {"kind": "openai", "api_key_env": "DASHSCOPE_API_KEY", "model": "qwen-plus", "models": _QWEN_MODELS}
PRESETS: dict[str, dict[str, Any]] = {
    "qwen": {**_QWEN, "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1"},
    "qwen-intl": {**_QWEN, "base_url": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"},
    "dashscope": {**_QWEN, "kind": "dashscope", "base_url": "https://dashscope.aliyuncs.com/api/v1"},
    "openai": {
        "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
        "model": "gpt-4o-mini", "models": ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini"],
    },
    "ollama": {"kind": "openai", "base_url": "http://localhost:11434/v1", "api_key_env": "", "model": "llama3.2"},
    "zhipu": {
        "kind": "zhipu", "base_url": "https://open.bigmodel.cn/api/paas/v4", "api_key_env": "ZHIPUAI_API_KEY",
        "model": "glm-4-plus", "models": _GLM_MODELS,
    },
}

STARTER_CONFIG = """\
# chatcli configuration (TOML).
# `chat config show` prints the effective settings, `chat providers` the key status.

# Provider used when --provider is not given.
default_provider = "qwen"

# Built-in presets: qwen, qwen-intl, openai, ollama, zhipu.
# A [providers.NAME] table named like a preset overrides only the fields it sets.
# Keys come from api_key_cmd (a shell command printing the key), api_key (literal,
# discouraged) or the environment variable named by api_key_env, in that order.

# [providers.qwen]                  # Alibaba DashScope, mainland China
# model = "qwen-max"
# api_key_env = "DASHSCOPE_API_KEY"
# extra_body = { enable_thinking = false }
# timeout = 120

# [providers.qwen-intl]             # DashScope international (Singapore)
# model = "qwen-plus"

# [providers.dashscope]             # DashScope's native protocol (no SDK), same key as qwen
# model = "qwen-max"

# [providers.openai]
# model = "gpt-4o"
# api_key_cmd = "pass show openai/api-key"

# [providers.ollama]                # local server, no key needed
# base_url = "http://localhost:11434/v1"
# model = "qwen2.5:7b"

# [providers.zhipu]                 # Zhipu GLM
# model = "glm-4-flash"
# api_key_env = "ZHIPUAI_API_KEY"

# A provider of your own needs kind ("openai", "zhipu" or "dashscope"), base_url and model:
# [providers.myvllm]
# kind = "openai"
# base_url = "http://localhost:8000/v1"
# model = "Qwen/Qwen2.5-7B-Instruct"
# models = ["Qwen/Qwen2.5-7B-Instruct"]
# api_key_env = "VLLM_API_KEY"      # leave out (or "") if no key is needed

# Conversations are saved as they happen (`chat sessions list`, `chat -c` to continue).
# [store]
# enabled = true                    # false (or --no-save) saves nothing
# path = "~/chat-history.db"        # default: chat.db in $XDG_DATA_HOME/chatcli
"""


# --- checks: each returns what is wrong with a value, or None ---------------------------

_Check = Callable[[Any], "str | None"]


def _is(ok: Callable[[Any], bool], problem: str) -> _Check:
    return lambda v: None if ok(v) else problem


_string = _is(lambda v: isinstance(v, str), "must be a string")
_nonempty = _is(lambda v: isinstance(v, str) and bool(v.strip()), "must be a non-empty string")
_bool = _is(lambda v: isinstance(v, bool), "must be true or false")
_table = _is(lambda v: isinstance(v, dict), "must be a table")
_str_list = _is(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "must be a list of strings")
_positive = _is(lambda v: type(v) in (int, float) and v > 0, "must be a number > 0")
_kind = _is(lambda v: v in PROVIDER_KINDS, f"must be one of: {', '.join(PROVIDER_KINDS)}")
_pos_int = _is(lambda v: type(v) is int and v > 0, "must be a whole number > 0")

# Known keys. Adding a top-level setting is one line here plus a field on Config.
_TOP_KEYS: dict[str, _Check] = {
    "default_provider": _nonempty,
    "show_reasoning": _bool,
    "providers": _table,
    "tools": _table,
    "store": _table,
    "context": _table,
    "prices": _table,  # model -> {input, output[, cached]} per million tokens, and currency
}
_PROVIDER_KEYS: dict[str, _Check] = {
    "kind": _kind,
    "base_url": _nonempty,
    "api_key_env": _string,
    "api_key_cmd": _string,
    "api_key": _string,
    "model": _nonempty,
    "models": _str_list,
    "extra_body": _table,
    "timeout": _positive,
    # generation defaults (chatcli.core.options); command-line flags win
    **{name: (lambda v, n=name: _option_problem(n, v)) for name in _OPTION_LIMITS},
}
_TOOLS_KEYS: dict[str, _Check] = {"enabled": _bool, "max_rounds": _pos_int, "timeout": _positive, "weather": _table}
_STORE_KEYS: dict[str, _Check] = {"enabled": _bool, "path": _nonempty}
_CONTEXT_KEYS: dict[str, _Check] = {"max_tokens": _pos_int}
_WEATHER_KEYS: dict[str, _Check] = {"geocoding_url": _nonempty, "forecast_url": _nonempty, "timeout": _positive}
_REQUIRED = ("kind", "base_url", "model")
_STRING_CHECKS = (_string, _nonempty)


# --- dataclasses -----------------------------------------------------------------------


@dataclass
class ProviderConfig:
    """One provider: where it lives, which model, and how to find its API key."""

    name: str
    kind: str
    base_url: str | None
    model: str
    api_key_env: str | None = None  # None or "" => no key needed (unless api_key/api_key_cmd set)
    api_key_cmd: str | None = None
    api_key: str | None = None
    models: list[str] = field(default_factory=list)
    extra_body: dict = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    temperature: float | None = None  # generation defaults for this provider (chatcli.core.options)
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    search: bool | None = None
    think: bool | None = None

    def key_status(self) -> str:
        """Return "command", "set", "missing" or "not needed" without running any command."""
        if self.api_key_cmd:
            return "command"
        if self.api_key and self.api_key.strip():
            return "set"
        if self.api_key_env:
            return "set" if os.environ.get(self.api_key_env, "").strip() else "missing"
        return "not needed"

    def resolve_api_key(self) -> str | None:
        """Return the API key (command, literal, then env var), None if none is needed."""
        if self.api_key_cmd:
            return _run_key_cmd(self.name, self.api_key_cmd)
        if self.api_key and self.api_key.strip():
            return self.api_key.strip()
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "").strip()
            if key:
                return key
            raise AuthError(
                f"{self.name}: no API key: set {self.api_key_env} or api_key_cmd"
                f" in [{_dotted(('providers', self.name))}]",
                provider=self.name,
            )
        return None


@dataclass
class ToolsConfig:
    """[tools]: whether the model may call local tools, and their limits."""

    enabled: bool = True
    max_rounds: int = 8
    timeout: float = 30.0
    weather: WeatherSettings = field(default_factory=WeatherSettings)


@dataclass
class ContextConfig:
    """[context]: how much of a conversation a request may carry."""

    max_tokens: int | None = None  # None: each model's own window, less room for the answer


@dataclass
class StoreConfig:
    """[store]: whether conversations are saved, and where."""

    enabled: bool = True
    path: str | None = None  # the database file; relative to the config file's directory

    def db_path(self) -> Path:
        """The database file: path if set, else chat.db in the user data dir (honours XDG_DATA_HOME)."""
        if self.path:
            return Path(self.path).expanduser()
        import platformdirs

        return platformdirs.user_data_path("chatcli") / "chat.db"


@dataclass
class Config:
    """The effective configuration: the file (if any) laid over the presets."""

    path: Path
    exists: bool
    default_provider: str
    providers: dict[str, ProviderConfig]
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    context: ContextConfig = field(default_factory=lambda: ContextConfig())
    show_reasoning: bool = True  # show the model's reasoning (dim, folded to one line) in a terminal
    prices: dict = field(default_factory=dict)  # [prices]: model -> {input, output[, cached]}, currency

    def provider(self, name: str | None = None) -> ProviderConfig:
        """Return the named provider, or the default one."""
        name = name or self.default_provider
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(f"unknown provider {name!r} (known: {', '.join(self.providers)})") from None


def _run_key_cmd(name: str, cmd: str) -> str:
    import subprocess

    where = f"{_dotted(('providers', name, 'api_key_cmd'))}"
    try:
        proc = subprocess.run(
            cmd, shell=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=KEY_CMD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{where} timed out after {KEY_CMD_TIMEOUT:g} s") from None
    except OSError as e:
        raise ConfigError(f"{where} failed: {e.strerror or e}") from None
    key = proc.stdout.strip()
    if proc.returncode != 0 or not key:
        lines = proc.stderr.strip().splitlines()
        reason = lines[0] if lines else ("printed nothing" if proc.returncode == 0 else "no error output")
        raise ConfigError(f"{where} failed (exit {proc.returncode}): {reason}")
    return key


# --- locating and reading ----------------------------------------------------------------


def config_path(override: str | None = None) -> Path:
    """Return the config file path: explicit override > $CHATCLI_CONFIG > platform default."""
    chosen = override or os.environ.get("CHATCLI_CONFIG")
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs

    return platformdirs.user_config_path("chatcli") / "config.toml"


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


def _read_raw(path: Path) -> tuple[dict, str | None]:
    """Return the parsed file and its text, or ({}, None) if there is no file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}, None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read: not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    tomllib = _toml()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        first = str(e).splitlines()[0] if str(e) else "parse error"
        raise ConfigError(f"{path}: invalid TOML: {first}") from None


def load_config(override: str | None = None) -> Config:
    """Read and validate the config file (a missing file means presets only)."""
    path = config_path(override)
    raw, text = _read_raw(path)
    return _build(raw, path, text, exists=text is not None)


# --- validation ----------------------------------------------------------------------------


def _build(raw: dict, path: Path, text: str | None, exists: bool) -> Config:
    """Validate a raw TOML dict and lay it over the presets."""

    def fail(keypath: tuple[str, ...], msg: str) -> ConfigError:
        line = _find_line(text, keypath)
        return ConfigError(f"{path}:{line}: {msg}" if line else f"{path}: {msg}")

    _check_keys(raw, _TOP_KEYS, (), fail)
    providers: dict[str, ProviderConfig] = {}
    file_providers = raw.get("providers", {})
    for name in [*PRESETS, *(n for n in file_providers if n not in PRESETS)]:
        where = ("providers", name)
        table = file_providers.get(name, {})
        if not isinstance(table, dict):
            raise fail(where, f"{_dotted(where)} must be a table")
        _check_keys(table, _PROVIDER_KEYS, where, fail)
        if name not in PRESETS:
            missing = [k for k in _REQUIRED if k not in table]
            if missing:
                msg = f"[{_dotted(where)}] needs kind, base_url and model (missing: {', '.join(missing)})"
                raise fail(where, msg + _did_you_mean(name, PRESETS))
        merged = {**copy.deepcopy(PRESETS.get(name, {})), **copy.deepcopy(table)}
        merged["timeout"] = float(merged.get("timeout", DEFAULT_TIMEOUT))
        providers[name] = ProviderConfig(name=name, **merged)
    default = raw.get("default_provider", DEFAULT_PROVIDER)
    if default not in providers:
        raise fail(("default_provider",), f"default_provider {default!r} names no provider (known: {', '.join(providers)})")
    extras = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("default_provider", "providers", "tools", "store", "context")}
    tools = _tools(raw.get("tools", {}), fail)
    store = _store(raw.get("store", {}), path, fail)
    _check_keys(raw.get("context", {}), _CONTEXT_KEYS, ("context",), fail)
    extras["context"] = ContextConfig(**raw.get("context", {}))
    wrong_price = check_prices(extras.get("prices", {}))
    if wrong_price:
        raise fail(("prices", *wrong_price[0]), wrong_price[1])
    return Config(path=path, exists=exists, default_provider=default, providers=providers, tools=tools,
                  store=store, **extras)


def _tools(table: dict, fail) -> ToolsConfig:
    """Validate [tools] and [tools.weather]."""
    _check_keys(table, _TOOLS_KEYS, ("tools",), fail)
    weather = table.get("weather", {})
    _check_keys(weather, _WEATHER_KEYS, ("tools", "weather"), fail)
    fields = {k: v for k, v in table.items() if k != "weather"}
    return ToolsConfig(**fields, weather=WeatherSettings(**weather))


def _store(table: dict, config_file: Path, fail) -> StoreConfig:
    """Validate [store]; a relative path is taken from the config file's directory."""
    _check_keys(table, _STORE_KEYS, ("store",), fail)
    path = table.get("path")
    if path is not None:
        path = str(config_file.parent / Path(path).expanduser())
    return StoreConfig(enabled=table.get("enabled", True), path=path)


def _check_keys(table: dict, known: dict[str, _Check], where: tuple[str, ...], fail) -> None:
    """Reject unknown keys and values of the wrong type in one table."""
    for key, value in table.items():
        if key not in known:
            scope = f" in [{_dotted(where)}]" if where else ""
            raise fail((*where, key), f"unknown key {key!r}{scope}{_did_you_mean(key, known)}")
        problem = known[key](value)
        if problem:
            raise fail((*where, key), f"{_dotted((*where, key))} {problem}")


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(parts: tuple[str, ...] | list[str]) -> str:
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"' for p in parts)


# --- finding the line of a key (tomllib reports none) ------------------------------------

_KEY_PART = r"\s*(?:([A-Za-z0-9_-]+)|\"((?:[^\"\\]|\\.)*)\"|'([^']*)')\s*"


def _parse_key(s: str, pos: int = 0) -> tuple[list[str], int] | None:
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


def _find_line(text: str | None, target: tuple[str, ...]) -> int | None:
    """Best-effort 1-based line where the dotted key target is set, else None."""
    if not text:
        return None
    table: list[str] = []
    under = inline = None
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
            parsed = _parse_key(s, 2 if s.startswith("[[") else 1)
            if not parsed:
                continue
            table = parsed[0]
            path = tuple(table)
        else:
            parsed = _parse_key(s)
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


# --- reading values back -------------------------------------------------------------------


def _as_dict(cfg: Config) -> dict[str, Any]:
    """The effective config as a dict, unset fields as None."""
    out = asdict(cfg)
    del out["path"], out["exists"]
    for provider in out["providers"].values():
        del provider["name"]
    return out


def get_value(cfg: Config, key: str) -> Any:
    """Return the effective value of a dotted key (None if known but unset)."""
    parts = _split_key(key)
    value: Any = _as_dict(cfg)
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            raise ConfigError(f"unknown key {key!r}")
        value = value[part]
    return value


_SECRET = r"(?i)key|token|secret|passw|auth|credential"
_NOT_SECRET = ("api_key_env", "api_key_cmd")


def looks_secret(name: str) -> bool:
    """Whether a key name suggests its value is a secret."""
    return name not in _NOT_SECRET and bool(re.search(_SECRET, name))


def mask_secret(value: str) -> str:
    """Hide a secret, keeping the last 4 characters of long ones."""
    return "****" + value[-4:] if len(value) >= 12 else "****"


def _masked(value: Any, secret: bool) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, looks_secret(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secret) for v in value]
    return mask_secret(value) if secret and isinstance(value, str) else value


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None and v != {}}
    return value


def effective_dict(cfg: Config, mask: bool = True) -> dict:
    """The effective config as a plain, TOML-writable dict, secrets masked unless mask=False."""
    out = _pruned(_as_dict(cfg))
    return _masked(out, False) if mask else out


# --- writing ---------------------------------------------------------------------------------


def _split_key(key: str) -> list[str]:
    parsed = _parse_key(key)
    if not key.strip() or not parsed or parsed[1] != len(key):
        raise ConfigError(f"invalid key {key!r}")
    return parsed[0]


def _parse_value(parts: list[str], value: str) -> Any:
    """A TOML literal if value is one, else the plain string (always a string for string keys)."""
    tomllib = _toml()
    try:
        parsed = tomllib.loads(f"v = {value}")
    except tomllib.TOMLDecodeError:
        return value
    if list(parsed) != ["v"]:
        return value
    if not isinstance(parsed["v"], str) and _expects_string(parts):
        return value
    return parsed["v"]


def _expects_string(parts: list[str]) -> bool:
    if len(parts) == 1:
        check = _TOP_KEYS.get(parts[0])
    elif len(parts) == 3 and parts[0] == "providers":
        check = _PROVIDER_KEYS.get(parts[2])
    elif len(parts) == 2 and parts[0] == "store":
        check = _STORE_KEYS.get(parts[1])
    else:
        return False
    return check in _STRING_CHECKS


def set_value(path: Path, key: str, value: str) -> None:
    """Set a dotted key in the file, validating the result before writing it."""
    parts = _split_key(key)
    raw, text = _read_raw(path)
    node = raw
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {key!r}: {_dotted(parts[: i + 1])} is not a table")
    node[parts[-1]] = _parse_value(parts, value)
    _build(raw, path, text, exists=True)  # line numbers from the old text, where they still apply
    import tomli_w

    _write_atomic(path, tomli_w.dumps(raw))


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

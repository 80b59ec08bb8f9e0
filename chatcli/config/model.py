"""The typed configuration: one dataclass per table, each field with its default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.config import secrets
from chatcli.config.lines import dotted
from chatcli.config.mcp import McpConfig
from chatcli.config.roles import Role
from chatcli.errors import AuthError, ConfigError

DEFAULT_TIMEOUT = 120.0
KEY_CMD_TIMEOUT = 30.0
DEFAULT_GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"
DEFAULT_FORECAST_URL = "https://api.open-meteo.com/v1/forecast"


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
    # networking (chatcli.providers.transport)
    proxy: str | None = None  # "http://host:port"; "" = direct, ignoring HTTPS_PROXY; None = the environment's
    ca_bundle: str | None = None  # PEM file of trusted CAs (absolute); None = the system trust store
    workspace: str | None = None  # DashScope workspace id: the X-DashScope-WorkSpace header
    data_inspection: str | None = None  # X-DashScope-DataInspection, e.g. '{"input":"cip","output":"cip"}'
    assistant_id: str | None = None  # a Zhipu assistant: turns go to assistant.conversation (glm-4-assistant)

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
        """Return the API key (command, literal, then env var), None if none is needed.

        Surrounding whitespace (a command's trailing newline) is dropped. A key that still holds a
        line break, another control character or a non-ASCII character cannot go into an HTTP
        header: AuthError (exit 3, never retried) naming where it came from, never the key. A key
        returned is remembered by chatcli.config.secrets, so every output hides it.
        """
        if self.api_key_cmd:
            where = f"the output of {dotted(('providers', self.name, 'api_key_cmd'))}"
            return _usable(self.name, where, _run_key_cmd(self.name, self.api_key_cmd))
        if self.api_key and self.api_key.strip():
            return _usable(self.name, dotted(("providers", self.name, "api_key")), self.api_key.strip())
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "").strip()
            if key:
                return _usable(self.name, self.api_key_env, key)
            raise AuthError(
                f"{self.name}: no API key: set {self.api_key_env} or api_key_cmd"
                f" in [{dotted(('providers', self.name))}]",
                provider=self.name,
            )
        return None


@dataclass(frozen=True)
class WeatherSettings:
    """[tools.weather]: where and how patiently to ask for the weather."""

    geocoding_url: str = DEFAULT_GEOCODING_URL
    forecast_url: str = DEFAULT_FORECAST_URL
    timeout: float = 10.0
    proxy: str | None = None  # as a provider's: "http://host:port", "" = direct, None = the environment's


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
class RenderConfig:
    """[render]: how answers look in a terminal."""

    soft_breaks: str = "break"  # "break": a single newline is a line break; "space": CommonMark's space

    @property
    def hard_breaks(self) -> bool:
        """Whether a single newline in the model's text shows as a line break."""
        return self.soft_breaks != "space"


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
    context: ContextConfig = field(default_factory=ContextConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    show_reasoning: bool = True  # show the model's reasoning (dim, folded to one line) in a terminal
    prices: dict = field(default_factory=dict)  # [prices]: model -> {input, output[, cached]}, currency
    roles: dict[str, Role] = field(default_factory=dict)  # [roles.NAME] over the built-in roles
    mcp: McpConfig = field(default_factory=McpConfig)  # [mcp.servers.NAME]: tools from MCP servers

    def provider(self, name: str | None = None) -> ProviderConfig:
        """Return the named provider, or the default one."""
        name = name or self.default_provider
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(f"unknown provider {name!r} (known: {', '.join(self.providers)})") from None

    def role(self, name: str) -> Role:
        """Return the named role (ConfigError listing the known ones if there is none)."""
        try:
            return self.roles[name]
        except KeyError:
            raise ConfigError(f"unknown role {name!r} (known: {', '.join(self.roles) or 'none'})") from None


_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")


def _usable(provider: str, source: str, key: str) -> str:
    """The key if it can be sent as it is, else AuthError saying what is wrong with it (not what it is)."""
    if any(c in _LINE_BREAKS for c in key):
        problem = "a line break (only its first line was meant?)"
    elif any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key):
        problem = "a control character"
    elif not key.isascii():
        odd = next(c for c in key if not c.isascii())
        problem = f"a non-ASCII character (U+{ord(odd):04X})"
    else:
        secrets.remember(key)
        return key
    raise AuthError(f"{provider}: {source} contains {problem}", provider=provider)


def _run_key_cmd(name: str, cmd: str) -> str:
    """Run api_key_cmd and return what it printed; its stdout never goes into an error."""
    import subprocess

    where = dotted(("providers", name, "api_key_cmd"))
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

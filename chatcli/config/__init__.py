"""Configuration: the typed model, presets, loading (with file:line errors) and editing (comments kept).

model: the dataclasses. presets: built-in providers and the starter file. loading: path, reading
and checking. lines: the file line of a dotted key. editing: get/show/set/init. prices: [prices].
"""

from chatcli.config.loading import config_path, load_config
from chatcli.config.model import (
    Config,
    ContextConfig,
    ProviderConfig,
    StoreConfig,
    ToolsConfig,
    WeatherSettings,
)

__all__ = [
    "Config",
    "ContextConfig",
    "ProviderConfig",
    "StoreConfig",
    "ToolsConfig",
    "WeatherSettings",
    "config_path",
    "load_config",
]

"""Configuration: the typed model, presets, loading (with file:line errors) and editing (comments kept).

model: the dataclasses. presets: built-in providers and the starter file. loading: path, reading
and checking. lines: the file line of a dotted key. editing: get/show/set/init. prices: [prices].
limits: the generation options' ranges. The names below load on first use, so importing one
submodule (e.g. limits, for `chat --help`) does not load the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatcli.config.loading import config_path, load_config
    from chatcli.config.model import (
        Config,
        ContextConfig,
        ProviderConfig,
        StoreConfig,
        ToolsConfig,
        WeatherSettings,
    )

_HOMES = {"config_path": "loading", "load_config": "loading", "Config": "model", "ContextConfig": "model",
          "ProviderConfig": "model", "StoreConfig": "model", "ToolsConfig": "model", "WeatherSettings": "model"}
__all__ = ["Config", "ContextConfig", "ProviderConfig", "StoreConfig", "ToolsConfig", "WeatherSettings",
           "config_path", "load_config"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'chatcli.config' has no attribute {name!r}")
    return getattr(importlib.import_module(f"chatcli.config.{_HOMES[name]}"), name)

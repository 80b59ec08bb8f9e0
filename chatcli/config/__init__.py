"""Configuration: the typed model, presets, loading (with file:line errors) and editing."""

from chatcli.config.model import Config, ProviderConfig, StoreConfig, config_path, load_config

__all__ = ["Config", "ProviderConfig", "StoreConfig", "config_path", "load_config"]

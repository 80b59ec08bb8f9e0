"""Provider registry: a config's `kind` names the adapter, imported only when first used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chatcli.errors import ConfigError

if TYPE_CHECKING:
    from chatcli.config import ProviderConfig
    from chatcli.providers.base import Notify, Provider

ADAPTERS = {
    "openai": ("chatcli.providers.openai_compat", "OpenAIProvider"),
    "zhipu": ("chatcli.providers.zhipu", "ZhipuProvider"),
    "dashscope": ("chatcli.providers.dashscope", "DashScopeProvider"),
}


def create_provider(config: ProviderConfig, notify: Notify | None = None) -> Provider:
    """The provider object for a configured provider."""
    try:
        module, cls = ADAPTERS[config.kind]
    except KeyError:
        raise ConfigError(f"provider '{config.name}': unknown kind '{config.kind}'") from None
    return getattr(importlib.import_module(module), cls)(config, notify)

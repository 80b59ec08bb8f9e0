"""The built-in tools. To add one: write a typed function with a docstring here and list it in `builtin_tools`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from chatcli.providers.catalog import family
from chatcli.tools.registry import Tool, ToolRegistry, tool_from_function

if TYPE_CHECKING:
    from chatcli.config.model import ToolsConfig


def builtin_tools(settings: ToolsConfig) -> list[Tool]:
    """The built-in tools, bound to their settings."""

    def get_current_time(timezone: str | None = None) -> dict:
        """当你想知道现在的时间时非常有用。Useful when you want to know the current date and time.

        Args:
            timezone: IANA 时区名，例如 Asia/Shanghai、America/New_York；不填则为本机时区。
        """
        from chatcli.tools.clock import current_time

        return current_time(timezone)

    def get_current_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict:
        """当你想查询指定城市的天气时非常有用。Useful when you want the current weather of a place.

        Args:
            location: 城市或县区，比如北京市、杭州市、余杭区等。
            unit: 温度单位：celsius（摄氏度，默认）或 fahrenheit（华氏度）。
        """
        from chatcli.tools.weather import current_weather

        return current_weather(location, unit, settings.weather)

    return [tool_from_function(f) for f in (get_current_time, get_current_weather)]


def builtin_registry(settings: ToolsConfig) -> ToolRegistry:
    """A registry of the built-in tools with the configured per-call timeout."""
    return ToolRegistry(builtin_tools(settings), timeout=settings.timeout)


def tools_for(settings: ToolsConfig, model: str, wanted: bool | None = None) -> ToolRegistry | None:
    """The tools to offer with this model, or None (switched off, or a model that takes none).

    wanted (e.g. /tools on) overrides `[tools] enabled`, which is the default.
    """
    if not (settings.enabled if wanted is None else wanted) or not family(model, ignore_case=True).tools:
        return None
    return builtin_registry(settings)

"""The `current_weather` tool: live conditions from Open-Meteo (no API key needed).

A successful result has this shape (temperatures are numbers in `temperature_unit`; the
observation time is local to the place; region/country/timezone may be None)::

    {
        "location": {"name": "杭州", "region": "浙江", "country": "中国",
                     "latitude": 30.29365, "longitude": 120.16142},
        "observed_at": "2026-11-21T14:00",
        "timezone": "Asia/Shanghai",
        "temperature": 12.3,
        "feels_like": 10.1,
        "temperature_unit": "°C",
        "humidity_percent": 70,
        "wind_speed_kmh": 8.5,
        "weather_code": 3,
        "conditions": "overcast",
        "conditions_zh": "阴",
    }

Every failure is returned as {"error": "<message for the model to relay>"}.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chatcli.config.model import WeatherSettings

UNITS = ("celsius", "fahrenheit")
MAX_RESPONSE = 1024 * 1024  # bytes read from the service at most; the rest is a tool error, never held
_REASON_MAX = 64 * 1024  # of an error response, for its "reason"
CURRENT_FIELDS = ("temperature_2m", "relative_humidity_2m", "apparent_temperature",
                  "weather_code", "wind_speed_10m")

# WMO weather interpretation codes as used by Open-Meteo: code -> (English, Chinese).
WMO_CODES: dict[int, tuple[str, str]] = {
    0: ("clear sky", "晴"),
    1: ("mainly clear", "大部晴朗"),
    2: ("partly cloudy", "多云"),
    3: ("overcast", "阴"),
    45: ("fog", "雾"),
    48: ("depositing rime fog", "雾凇"),
    51: ("light drizzle", "小毛毛雨"),
    53: ("moderate drizzle", "中毛毛雨"),
    55: ("dense drizzle", "大毛毛雨"),
    56: ("light freezing drizzle", "小冻毛毛雨"),
    57: ("dense freezing drizzle", "大冻毛毛雨"),
    61: ("slight rain", "小雨"),
    63: ("moderate rain", "中雨"),
    65: ("heavy rain", "大雨"),
    66: ("light freezing rain", "小冻雨"),
    67: ("heavy freezing rain", "大冻雨"),
    71: ("slight snowfall", "小雪"),
    73: ("moderate snowfall", "中雪"),
    75: ("heavy snowfall", "大雪"),
    77: ("snow grains", "米雪"),
    80: ("slight rain showers", "小阵雨"),
    81: ("moderate rain showers", "中阵雨"),
    82: ("violent rain showers", "强阵雨"),
    85: ("slight snow showers", "小阵雪"),
    86: ("heavy snow showers", "大阵雪"),
    95: ("thunderstorm", "雷暴"),
    96: ("thunderstorm with slight hail", "雷暴伴小冰雹"),
    99: ("thunderstorm with heavy hail", "雷暴伴大冰雹"),
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Longest first so "自治区" is stripped whole rather than just "区".
_ADMIN_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "地区", "街道",
                   "市", "区", "县", "省", "镇", "乡", "村", "旗", "盟")


class _Failure(Exception):
    """A failure whose message goes back to the model as the tool result."""


def describe_weather_code(code: int) -> tuple[str, str]:
    """The (English, Chinese) words for a WMO weather code; ("unknown", "未知") if unlisted."""
    return WMO_CODES.get(code, ("unknown", "未知"))


def current_weather(location: str, unit: str = "celsius",
                    settings: WeatherSettings | None = None) -> dict[str, Any]:
    """Current conditions at a named place, or {"error": ...}."""
    settings = settings or WeatherSettings()
    try:
        name, unit = _check_args(location, unit)
        with _client(settings) as client:
            place = _geocode(client, settings, name)
            forecast = _forecast(client, settings, place, unit)
        return _result(place, forecast, unit)
    except _Failure as e:
        return {"error": str(e)}
    except Exception as e:  # the result goes to the model, so even a bug must not raise
        return {"error": f"weather lookup failed: {type(e).__name__}: {e}"}


def _check_args(location: object, unit: object) -> tuple[str, str]:
    if not isinstance(location, str) or not location.strip():
        raise _Failure("location must be a non-empty place name, e.g. 'Beijing' or '杭州'")
    unit_name = unit.strip().lower() if isinstance(unit, str) else ""
    if unit_name not in UNITS:
        raise _Failure(f"unsupported unit {unit!r}; use 'celsius' or 'fahrenheit'")
    return location.strip(), unit_name


def _client(settings: WeatherSettings) -> Any:
    from chatcli import __version__
    from chatcli.providers.transport import httpx_client  # lazy (httpx): keeps `chat` start-up fast

    # identity: the answer is small, and a compressed one could inflate past MAX_RESPONSE within one chunk
    return httpx_client(settings, settings.timeout, headers={"User-Agent": f"chatcli/{__version__}",
                                                             "Accept-Encoding": "identity"})


def _geocode(client: Any, settings: WeatherSettings, name: str) -> dict[str, Any]:
    place = _search(client, settings, name)
    shorter = _without_admin_suffix(name)
    if place is None and shorter:
        place = _search(client, settings, shorter)
    if place is None:
        raise _Failure(f"no place named {name!r} found")
    return place


def _without_admin_suffix(name: str) -> str | None:
    """'杭州市' -> '杭州'; None when there is no suffix or too little would remain."""
    if not _CJK.search(name):
        return None
    for suffix in _ADMIN_SUFFIXES:
        # Open-Meteo needs at least two characters to match anything.
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def _search(client: Any, settings: WeatherSettings, name: str) -> dict[str, Any] | None:
    language = "zh" if _CJK.search(name) else "en"
    body = _get_json(client, settings, settings.geocoding_url,
                     {"name": name, "count": 1, "format": "json", "language": language})
    results = body.get("results")
    if results is None or results == []:
        return None
    if not isinstance(results, list) or not isinstance(results[0], dict):
        raise _Failure("weather service sent an unexpected geocoding response ('results' is not a list)")
    place = results[0]
    for key in ("latitude", "longitude"):
        if not _is_number(place.get(key)):
            raise _Failure(f"weather service sent an unexpected geocoding response (missing {key!r})")
    return place


def _forecast(client: Any, settings: WeatherSettings, place: dict[str, Any],
              unit: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "current": ",".join(CURRENT_FIELDS),
        "timezone": "auto",
        "wind_speed_unit": "kmh",
    }
    if unit == "fahrenheit":
        params["temperature_unit"] = "fahrenheit"
    body = _get_json(client, settings, settings.forecast_url, params)
    current = body.get("current")
    if not isinstance(current, dict):
        raise _Failure("weather service sent an unexpected forecast response (missing 'current')")
    for key in CURRENT_FIELDS:
        if not _is_number(current.get(key)):
            raise _Failure(f"weather service sent an unexpected forecast response (missing 'current.{key}')")
    return body


def _get_json(client: Any, settings: WeatherSettings, url: str, params: dict[str, Any]) -> dict[str, Any]:
    import httpx

    try:
        with client.stream("GET", url, params=params) as response:
            if response.status_code >= 400:
                reason = _reason(_read_at_most(response, _REASON_MAX))
                raise _Failure(f"weather service returned HTTP {response.status_code}{reason}")
            data = _read_at_most(response, MAX_RESPONSE)
    except httpx.TimeoutException:
        raise _Failure(f"weather service timed out after {settings.timeout:g} s") from None
    except httpx.HTTPError as e:
        host = httpx.URL(url).host or url
        raise _Failure(f"could not reach the weather service at {host}: {e or type(e).__name__}") from None
    if data is None:
        raise _Failure(f"weather service sent more than {MAX_RESPONSE // (1024 * 1024)} MB (an Open-Meteo answer "
                       "is about 1 KB); stopped reading it")
    try:
        body = json.loads(data)
    except ValueError:
        raise _Failure("weather service sent a response that is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Failure("weather service sent an unexpected response (not a JSON object)")
    return body


def _read_at_most(response: Any, limit: int) -> bytes | None:
    """The (decoded) body if it is at most `limit` bytes, else None, having read no more than that."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and not response.headers.get("content-encoding"):
        return None  # too large, and said so up front
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def _reason(body: bytes | None) -> str:
    """Open-Meteo explains errors as {"error": true, "reason": "..."}; pass that on."""
    if body is None:
        return ""
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return ""
    return f": {reason}" if isinstance(reason, str) and reason else ""


def _result(place: dict[str, Any], forecast: dict[str, Any], unit: str) -> dict[str, Any]:
    current = forecast["current"]
    code = int(current["weather_code"])
    english, chinese = describe_weather_code(code)
    return {
        "location": {
            "name": _text(place.get("name")),
            "region": _text(place.get("admin1")),
            "country": _text(place.get("country")),
            "latitude": place["latitude"],
            "longitude": place["longitude"],
        },
        "observed_at": _text(current.get("time")),
        "timezone": _text(forecast.get("timezone")) or _text(place.get("timezone")),
        "temperature": current["temperature_2m"],
        "feels_like": current["apparent_temperature"],
        "temperature_unit": _unit_symbol(forecast, unit),
        "humidity_percent": current["relative_humidity_2m"],
        "wind_speed_kmh": current["wind_speed_10m"],
        "weather_code": code,
        "conditions": english,
        "conditions_zh": chinese,
    }


def _unit_symbol(forecast: dict[str, Any], unit: str) -> str:
    units = forecast.get("current_units")
    symbol = units.get("temperature_2m") if isinstance(units, dict) else None
    return _text(symbol) or ("°F" if unit == "fahrenheit" else "°C")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

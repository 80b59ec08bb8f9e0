"""The current_weather tool against the loopback server playing Open-Meteo."""

from __future__ import annotations

import socket
import time

import pytest

from chatcli import __version__
from chatcli.tools.weather import WeatherSettings, current_weather, describe_weather_code
from tests.fakeserver import FakeServer, close_immediately, hang, json_reply, raw

HANGZHOU = {"id": 1808926, "name": "杭州", "latitude": 30.29365, "longitude": 120.16142,
            "country": "中国", "admin1": "浙江", "timezone": "Asia/Shanghai"}
LONDON = {"id": 2643743, "name": "London", "latitude": 51.50853, "longitude": -0.12574,
          "country": "United Kingdom", "admin1": "England", "timezone": "Europe/London"}


def forecast(code: int = 3, temp: float = 12.3, unit: str = "°C", **current: object) -> dict:
    return {
        "latitude": 30.25, "longitude": 120.125, "timezone": "Asia/Shanghai",
        "utc_offset_seconds": 28800,
        "current_units": {"time": "iso8601", "temperature_2m": unit, "relative_humidity_2m": "%",
                          "apparent_temperature": unit, "weather_code": "wmo code",
                          "wind_speed_10m": "km/h"},
        "current": {"time": "2026-11-21T14:00", "interval": 900, "temperature_2m": temp,
                    "relative_humidity_2m": 70, "apparent_temperature": 10.1,
                    "weather_code": code, "wind_speed_10m": 8.5, **current},
    }


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def srv():
    with FakeServer() as s:
        yield s


def settings(srv: FakeServer, timeout: float = 2.0) -> WeatherSettings:
    return WeatherSettings(geocoding_url=srv.url + "/v1/search",
                           forecast_url=srv.url + "/v1/forecast", timeout=timeout)


def places(srv: FakeServer, known: dict[str, dict]) -> None:
    """Geocoding answers `known[name]`, and no `results` key for any other name."""
    def handler(req):
        hit = known.get(req.query["name"][0])
        return json_reply({"results": [hit]} if hit else {"generationtime_ms": 0.5})
    srv.route("/v1/search", handler)


def queries(srv: FakeServer, suffix: str) -> list[dict[str, list[str]]]:
    return [r.query for r in srv.requests if r.path.split("?")[0].endswith(suffix)]


def test_chinese_city(srv):
    places(srv, {"杭州": HANGZHOU})
    srv.route("/v1/forecast", lambda req: json_reply(forecast()))
    result = current_weather("杭州", settings=settings(srv))
    assert result == {
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
    (geo,) = queries(srv, "/v1/search")
    assert geo == {"name": ["杭州"], "count": ["1"], "format": ["json"], "language": ["zh"]}
    (fc,) = queries(srv, "/v1/forecast")
    assert fc["latitude"] == ["30.29365"] and fc["longitude"] == ["120.16142"]
    assert fc["current"] == ["temperature_2m,relative_humidity_2m,apparent_temperature,"
                             "weather_code,wind_speed_10m"]
    assert fc["timezone"] == ["auto"]
    assert fc["wind_speed_unit"] == ["kmh"]
    assert "temperature_unit" not in fc
    assert all(r.headers["user-agent"] == f"chatcli/{__version__}" for r in srv.requests)


def test_english_city(srv):
    places(srv, {"London": LONDON})
    srv.route("/v1/forecast", lambda req: json_reply(forecast(code=61, temp=7.0)))
    result = current_weather("  London ", settings=settings(srv))
    assert result["location"] == {"name": "London", "region": "England", "country": "United Kingdom",
                                  "latitude": 51.50853, "longitude": -0.12574}
    assert (result["temperature"], result["conditions"], result["conditions_zh"]) == (7.0, "slight rain", "小雨")
    (geo,) = queries(srv, "/v1/search")
    assert geo["name"] == ["London"] and geo["language"] == ["en"]


def test_fahrenheit(srv):
    places(srv, {"London": LONDON})
    srv.route("/v1/forecast", lambda req: json_reply(forecast(temp=44.6, unit="°F")))
    result = current_weather("London", "Fahrenheit", settings=settings(srv))
    (fc,) = queries(srv, "/v1/forecast")
    assert fc["temperature_unit"] == ["fahrenheit"]
    assert (result["temperature"], result["temperature_unit"]) == (44.6, "°F")


def test_fahrenheit_unit_without_current_units(srv):
    body = forecast(temp=44.6)
    del body["current_units"]
    places(srv, {"London": LONDON})
    srv.route("/v1/forecast", lambda req: json_reply(body))
    assert current_weather("London", "fahrenheit", settings=settings(srv))["temperature_unit"] == "°F"


def test_admin_suffix_is_dropped_once_when_nothing_matches(srv):
    places(srv, {"杭州": HANGZHOU})
    srv.route("/v1/forecast", lambda req: json_reply(forecast()))
    result = current_weather("杭州市", settings=settings(srv))
    assert result["location"]["name"] == "杭州"
    assert [q["name"] for q in queries(srv, "/v1/search")] == [["杭州市"], ["杭州"]]


def test_unknown_place(srv):
    places(srv, {})
    result = current_weather("Xyzzy", settings=settings(srv))
    assert result == {"error": "no place named 'Xyzzy' found"}
    assert len(srv.requests) == 1  # no suffix retry for a non-Chinese name
    assert queries(srv, "/v1/forecast") == []


def test_unknown_chinese_place_with_suffix_tries_twice_and_names_the_original(srv):
    places(srv, {})
    result = current_weather("不存在市", settings=settings(srv))
    assert result == {"error": "no place named '不存在市' found"}
    assert [q["name"] for q in queries(srv, "/v1/search")] == [["不存在市"], ["不存在"]]


def test_forecast_http_500(srv):
    places(srv, {"London": LONDON})
    srv.route("/v1/forecast", lambda req: json_reply({"error": True, "reason": "internal"}, status=500))
    result = current_weather("London", settings=settings(srv))
    assert result == {"error": "weather service returned HTTP 500: internal"}


def test_http_error_without_json_body(srv):
    srv.route("/v1/search", lambda req: raw(503, b"<html>busy</html>", {"Content-Type": "text/html"}))
    assert current_weather("London", settings=settings(srv)) == {"error": "weather service returned HTTP 503"}


def test_geocoding_timeout(srv):
    srv.route("/v1/search", lambda req: hang())
    started = time.monotonic()
    result = current_weather("London", settings=settings(srv, timeout=0.3))
    assert time.monotonic() - started < 2
    assert result == {"error": "weather service timed out after 0.3 s"}


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = WeatherSettings(geocoding_url=f"http://127.0.0.1:{port}/v1/search",
                             forecast_url=f"http://127.0.0.1:{port}/v1/forecast", timeout=2)
    result = current_weather("London", settings=closed)
    assert result["error"].startswith("could not reach the weather service at 127.0.0.1")


def test_connection_closed_without_reply(srv):
    srv.route("/v1/search", lambda req: close_immediately())
    result = current_weather("London", settings=settings(srv))
    assert result["error"].startswith("could not reach the weather service at 127.0.0.1")


def test_malformed_json(srv):
    srv.route("/v1/search", lambda req: raw(200, b"{not json"))
    result = current_weather("London", settings=settings(srv))
    assert result == {"error": "weather service sent a response that is not valid JSON"}


@pytest.mark.parametrize("body, missing", [
    ({"latitude": 1.0}, "'current'"),
    ({"current": {"time": "2026-11-21T14:00", "temperature_2m": 1.0}}, "'current.relative_humidity_2m'"),
    ({"current": {**forecast()["current"], "weather_code": None}}, "'current.weather_code'"),
])
def test_forecast_missing_fields(srv, body, missing):
    places(srv, {"London": LONDON})
    srv.route("/v1/forecast", lambda req: json_reply(body))
    result = current_weather("London", settings=settings(srv))
    assert result == {"error": f"weather service sent an unexpected forecast response (missing {missing})"}


def test_geocoding_result_without_coordinates(srv):
    srv.route("/v1/search", lambda req: json_reply({"results": [{"name": "London"}]}))
    result = current_weather("London", settings=settings(srv))
    assert result == {"error": "weather service sent an unexpected geocoding response (missing 'latitude')"}


def test_json_that_is_not_an_object(srv):
    srv.route("/v1/search", lambda req: json_reply([1, 2]))
    result = current_weather("London", settings=settings(srv))
    assert result == {"error": "weather service sent an unexpected response (not a JSON object)"}


def test_missing_place_details_become_none(srv):
    srv.route("/v1/search", lambda req: json_reply({"results": [{"latitude": 1.5, "longitude": 2}]}))
    body = forecast()
    del body["timezone"]
    srv.route("/v1/forecast", lambda req: json_reply(body))
    result = current_weather("Somewhere", settings=settings(srv))
    assert result["location"] == {"name": None, "region": None, "country": None,
                                  "latitude": 1.5, "longitude": 2}
    assert result["timezone"] is None


@pytest.mark.parametrize("unit", ["kelvin", "", None, 5])
def test_invalid_unit(unit):
    result = current_weather("London", unit, settings=WeatherSettings(geocoding_url="http://127.0.0.1:9/x"))
    assert result["error"].startswith("unsupported unit")
    assert "'celsius' or 'fahrenheit'" in result["error"]


@pytest.mark.parametrize("location", ["", "   ", None, 42])
def test_empty_location(location):
    result = current_weather(location)
    assert result["error"].startswith("location must be a non-empty place name")


def test_bad_url_setting_is_an_error_not_an_exception():
    result = current_weather("London", settings=WeatherSettings(geocoding_url="not a url"))
    assert set(result) == {"error"}


@pytest.mark.parametrize("code, words", [
    (0, ("clear sky", "晴")),
    (2, ("partly cloudy", "多云")),
    (45, ("fog", "雾")),
    (48, ("depositing rime fog", "雾凇")),
    (65, ("heavy rain", "大雨")),
    (77, ("snow grains", "米雪")),
    (82, ("violent rain showers", "强阵雨")),
    (95, ("thunderstorm", "雷暴")),
    (99, ("thunderstorm with heavy hail", "雷暴伴大冰雹")),
    (42, ("unknown", "未知")),
    (-1, ("unknown", "未知")),
])
def test_wmo_words(code, words):
    assert describe_weather_code(code) == words


def test_unknown_code_in_result(srv):
    places(srv, {"London": LONDON})
    srv.route("/v1/forecast", lambda req: json_reply(forecast(code=42)))
    result = current_weather("London", settings=settings(srv))
    assert (result["weather_code"], result["conditions"], result["conditions_zh"]) == (42, "unknown", "未知")

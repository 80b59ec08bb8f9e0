"""The current_time tool and the machine's zone name."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from chatcli.tools import clock
from chatcli.tools.clock import current_time, local_zone_name

NOON_UTC = datetime(2026, 11, 21, 4, 5, 9, tzinfo=timezone.utc)  # a Saturday


@pytest.fixture
def no_zone_sources(monkeypatch, tmp_path):
    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.setattr(clock, "LOCALTIME_PATH", str(tmp_path / "no-localtime"))
    monkeypatch.setattr(clock, "TIMEZONE_FILE", str(tmp_path / "no-timezone"))
    return tmp_path


def test_fixed_instant_in_named_zone():
    assert current_time("Asia/Shanghai", now=NOON_UTC) == {
        "datetime": "2026-11-21 12:05:09", "timezone": "Asia/Shanghai", "utc_offset": "+08:00",
        "weekday": "Saturday", "weekday_zh": "星期六"}


def test_negative_and_half_hour_offsets_and_day_change():
    ny = current_time("America/New_York", now=NOON_UTC)
    assert (ny["datetime"], ny["utc_offset"], ny["weekday"], ny["weekday_zh"]) == (
        "2026-11-20 23:05:09", "-05:00", "Friday", "星期五")
    assert current_time("Asia/Kolkata", now=NOON_UTC)["utc_offset"] == "+05:30"
    assert current_time("Asia/Kathmandu", now=NOON_UTC)["utc_offset"] == "+05:45"


def test_naive_now_means_utc():
    naive = NOON_UTC.replace(tzinfo=None)
    assert current_time("Asia/Tokyo", now=naive)["datetime"] == "2026-11-21 13:05:09"


def test_every_weekday_has_chinese_name():
    days = [current_time("UTC", now=NOON_UTC.replace(day=16 + i)) for i in range(7)]  # Mon..Sun
    assert [d["weekday"] for d in days][:2] == ["Monday", "Tuesday"]
    assert [d["weekday_zh"] for d in days] == ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


def test_default_now_is_current():
    result = current_time("UTC")
    shown = datetime.strptime(result["datetime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - shown).total_seconds()) < 5


@pytest.mark.parametrize("name", ["Mars/Base", "Beijing", "../../etc/passwd", "/etc/localtime", "Asia"])
def test_unknown_zone(name):
    assert current_time(name, now=NOON_UTC) == {
        "error": f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai"}


def test_non_string_zone():
    assert "error" in current_time(8, now=NOON_UTC)  # type: ignore[arg-type]


def test_local_zone_from_tz_env(monkeypatch, no_zone_sources):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert local_zone_name() == "Asia/Tokyo"
    assert current_time(now=NOON_UTC) == {
        "datetime": "2026-11-21 13:05:09", "timezone": "Asia/Tokyo", "utc_offset": "+09:00",
        "weekday": "Saturday", "weekday_zh": "星期六"}
    assert current_time("  ", now=NOON_UTC)["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize("tz", [":Europe/Paris", "/usr/share/zoneinfo/Europe/Paris"])
def test_tz_env_spellings(monkeypatch, no_zone_sources, tz):
    monkeypatch.setenv("TZ", tz)
    assert local_zone_name() == "Europe/Paris"


def test_local_zone_from_localtime_symlink(monkeypatch, no_zone_sources):
    link = no_zone_sources / "localtime"
    link.symlink_to("../usr/share/zoneinfo/posix/America/Sao_Paulo")
    monkeypatch.setattr(clock, "LOCALTIME_PATH", str(link))
    (no_zone_sources / "timezone").write_text("Asia/Tokyo\n")
    monkeypatch.setattr(clock, "TIMEZONE_FILE", str(no_zone_sources / "timezone"))
    assert local_zone_name() == "America/Sao_Paulo"


def test_local_zone_from_etc_timezone(monkeypatch, no_zone_sources):
    (no_zone_sources / "timezone").write_text("Europe/Berlin\n")
    monkeypatch.setattr(clock, "TIMEZONE_FILE", str(no_zone_sources / "timezone"))
    assert local_zone_name() == "Europe/Berlin"


def test_fallback_to_fixed_offset(no_zone_sources):
    expected = datetime.now().astimezone().utcoffset()
    name = local_zone_name()
    assert re.fullmatch(r"UTC[+-]\d\d:\d\d", name)
    sign = -1 if name[3] == "-" else 1
    assert sign * (int(name[4:6]) * 60 + int(name[7:9])) == expected.total_seconds() // 60
    result = current_time(now=NOON_UTC)
    assert result["timezone"] == "UTC" + result["utc_offset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", result["datetime"])


def test_tz_rule_that_is_not_a_zone_ignores_system_files(monkeypatch, no_zone_sources):
    (no_zone_sources / "timezone").write_text("Europe/Berlin\n")
    monkeypatch.setattr(clock, "TIMEZONE_FILE", str(no_zone_sources / "timezone"))
    monkeypatch.setenv("TZ", "CST-8")
    assert re.fullmatch(r"UTC[+-]\d\d:\d\d", local_zone_name())


def test_missing_tz_database_is_explained(monkeypatch):
    monkeypatch.setattr(clock, "_load_zone", lambda name: None)
    result = current_time("Asia/Shanghai", now=NOON_UTC)
    assert "no time zone database" in result["error"] and "tzdata" in result["error"]

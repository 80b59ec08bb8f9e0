"""The `current_time` tool: the date and time now, in a named IANA zone or the machine's own.

A successful result::

    {"datetime": "2026-11-21 14:05:09", "timezone": "Asia/Shanghai", "utc_offset": "+08:00",
     "weekday": "Saturday", "weekday_zh": "星期六"}

Failures are returned as {"error": "..."}.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from datetime import timezone as _timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

# Module-level so tests can point them elsewhere.
LOCALTIME_PATH = "/etc/localtime"
TIMEZONE_FILE = "/etc/timezone"


def current_time(timezone: str | None = None, *, now: datetime | None = None) -> dict[str, str]:
    """The time `now` (default: the current instant; naive means UTC) in a zone, or {"error": ...}."""
    moment = _aware(now or datetime.now(_timezone.utc))
    if timezone is None or (isinstance(timezone, str) and not timezone.strip()):
        return _describe(*_in_local_zone(moment))
    if not isinstance(timezone, str):
        return {"error": "timezone must be an IANA name such as Asia/Shanghai"}
    zone = _load_zone(timezone.strip())
    if zone is None:
        return {"error": _unknown_zone_message(timezone.strip())}
    return _describe(moment.astimezone(zone), zone.key)


def local_zone_name() -> str:
    """The machine's IANA zone name, or a fixed offset like "UTC+08:00" when none can be found."""
    tz = os.environ.get("TZ", "").strip()
    # A set TZ overrides the system files for the C library, so they must not be consulted then
    # (TZ="CST-8" is a POSIX rule, not a zone name: only its offset can be reported).
    candidates = [_zone_from_tz(tz)] if tz else [_zone_from_localtime(), _zone_from_timezone_file()]
    for name in candidates:
        if name and _load_zone(name) is not None:
            return name
    return _offset_name(datetime.now().astimezone())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_timezone.utc)


def _in_local_zone(moment: datetime) -> tuple[datetime, str]:
    name = local_zone_name()
    zone = _load_zone(name)
    if zone is not None:
        return moment.astimezone(zone), name
    local = moment.astimezone()  # the C library's idea of local time, as a fixed offset
    return local, _offset_name(local)


def _load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: keys like "/etc/passwd"
        return None


def _unknown_zone_message(name: str) -> str:
    if _load_zone("UTC") is None:
        return (f"cannot look up time zone {name!r}: no time zone database on this machine "
                "(install the system tzdata or the Python 'tzdata' package)")
    return f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai"


def _zone_from_tz(tz: str) -> str | None:
    value = tz.lstrip(":")  # POSIX allows a leading ':' before a zone name or file
    return _after_zoneinfo(value) if "zoneinfo/" in value else value or None


def _zone_from_localtime() -> str | None:
    try:
        target = os.readlink(LOCALTIME_PATH)  # one level: keeps the user's chosen alias
    except OSError:
        return None
    return _after_zoneinfo(target)


def _zone_from_timezone_file() -> str | None:
    try:
        with open(TIMEZONE_FILE, encoding="utf-8") as f:
            return f.readline().strip() or None
    except (OSError, ValueError):
        return None


def _after_zoneinfo(path: str) -> str | None:
    """'/usr/share/zoneinfo/posix/Asia/Tokyo' -> 'Asia/Tokyo'."""
    _, found, name = path.rpartition("zoneinfo/")
    if not found:
        return None
    for prefix in ("posix/", "right/"):
        name = name.removeprefix(prefix)
    return name or None


def _describe(moment: datetime, zone_name: str) -> dict[str, str]:
    return {
        "datetime": moment.strftime("%Y-%m-%d %H:%M:%S"),
        "timezone": zone_name,
        "utc_offset": _format_offset(moment.utcoffset() or timedelta(0)),
        "weekday": WEEKDAYS[moment.weekday()],
        "weekday_zh": WEEKDAYS_ZH[moment.weekday()],
    }


def _offset_name(moment: datetime) -> str:
    return "UTC" + _format_offset(moment.utcoffset() or timedelta(0))


def _format_offset(offset: timedelta) -> str:
    """'+08:00', '-03:30', '+05:45'; seconds (historic zones only) are dropped."""
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds()) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

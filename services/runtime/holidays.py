"""The county-maintained holiday and 调休 table: the official arrangement of the years the library lacks.

The State Council publishes each year's arrangement (国务院办公厅关于YYYY年部分节假日安排的通知) late in the year
before; `chinesecalendar` only knows the years of its release. The county operator enters a year from the
published notice (its title is required as the source); a year in this table overrides the library.
File: $HALL_HOLIDAYS, else deploy/holidays.yaml. Never guessed: a year absent from both falls back to Mon-Fri.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "deploy" / "holidays.yaml"
ENV_VAR = "HALL_HOLIDAYS"
RECHECK_SECONDS = 30.0  # another process may have saved the file; look at its mtime at most this often
MAX_CHANGES = 50


class HolidayError(ValueError):
    """A year's arrangement that cannot be right; `field` names what is wrong."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field, self.zh, self.en = field, zh, en


@dataclass(frozen=True)
class Year:
    """One year's official arrangement: days off (放假) and weekend days worked (调休上班)."""

    year: int
    source: str
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    updated_by: str = ""
    updated_at: str = ""
    changes: tuple[dict, ...] = ()

    def is_workday(self, day: dt.date) -> bool:
        """Tell whether `day` is worked under this arrangement."""
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return day.weekday() < 5


def path() -> Path:
    """The table's file."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH).expanduser()


def validate(year: int, source: str, holidays: list[dt.date], workdays: list[dt.date]) -> None:
    """Refuse an arrangement that cannot be an official one (raises HolidayError)."""
    if not 2000 <= year <= 2100:
        raise HolidayError("year", "年份应在 2000–2100 之间", "year must be within 2000-2100")
    if not source.strip():
        raise HolidayError("source", "请注明来源（国务院办公厅通知的标题和文号）", "Name the source notice")
    for name, days in (("holidays", holidays), ("workdays", workdays)):
        for d in days:
            if d.year != year:
                raise HolidayError(name, f"{d.isoformat()} 不在 {year} 年内", f"{d.isoformat()} is not in {year}")
        if len(set(days)) != len(days):
            raise HolidayError(name, "日期重复", "a date appears twice")
    if not holidays:
        raise HolidayError("holidays", "放假日期不能为空", "holidays must not be empty")
    both = set(holidays) & set(workdays)
    if both:
        day = min(both).isoformat()
        raise HolidayError("workdays", f"{day} 不能既放假又上班", f"{day} cannot be both a holiday and a workday")
    for d in workdays:
        if d.weekday() < 5:
            raise HolidayError(
                "workdays",
                f"{d.isoformat()} 是工作日，调休上班日应为周六或周日",
                f"{d.isoformat()} is a weekday; a make-up workday (调休) falls on a weekend",
            )


def _parse(data: object) -> dict[int, Year]:
    years: dict[int, Year] = {}
    raw = (data.get("years") or {}) if isinstance(data, dict) else {}
    for key, y in raw.items():
        year = int(key)
        holidays = [_date(d) for d in y.get("holidays") or []]
        workdays = [_date(d) for d in y.get("workdays") or []]
        validate(year, str(y.get("source") or ""), holidays, workdays)
        years[year] = Year(
            year,
            str(y["source"]),
            frozenset(holidays),
            frozenset(workdays),
            str(y.get("updated_by") or ""),
            str(y.get("updated_at") or ""),
            tuple(y.get("changes") or ()),
        )
    return years


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


_lock = threading.Lock()
_state: dict = {"years": None, "mtime": None, "checked": 0.0, "path": None}
_listeners: list = []


def on_change(callback) -> None:
    """Call `callback()` whenever the table is (re)loaded with different content (workcal clears its caches)."""
    _listeners.append(callback)


def years() -> dict[int, Year]:
    """The table as it is on disk (re-read when the file changed; checked at most every RECHECK_SECONDS)."""
    p = path()
    now = time.monotonic()
    with _lock:
        if _state["years"] is not None and _state["path"] == p and now - _state["checked"] < RECHECK_SECONDS:
            return _state["years"]
        try:
            mtime = p.stat().st_mtime_ns
        except OSError:
            mtime = None
        _state["checked"] = now
        if _state["years"] is not None and _state["path"] == p and mtime == _state["mtime"]:
            return _state["years"]
        loaded = _parse(yaml.safe_load(p.read_text(encoding="utf-8"))) if mtime is not None else {}
        changed = loaded != (_state["years"] or {})  # the first load of a non-empty table counts too
        _state.update(years=loaded, mtime=mtime, path=p)
    if changed:
        for cb in _listeners:
            cb()
    return loaded


def save(year: int, source: str, holidays: list[dt.date], workdays: list[dt.date], *, by: str) -> Year:
    """Validate and write one year's arrangement, keeping who changed what and when (the year's `changes`)."""
    validate(year, source, holidays, workdays)
    p = path()
    with _lock:
        data = (yaml.safe_load(p.read_text(encoding="utf-8")) if p.exists() else None) or {}
        table = data.setdefault("years", {}) or {}
        data["years"] = table
        before = table.get(year) or table.get(str(year)) or {}
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        change = {
            "at": at,
            "by": by[:128],
            "action": "update" if before else "create",
            "source": source.strip(),
            "holidays": len(holidays),
            "workdays": len(workdays),
        }
        table.pop(str(year), None)
        table[year] = {
            "source": source.strip(),
            "holidays": sorted(holidays),
            "workdays": sorted(workdays),
            "updated_by": by[:128],
            "updated_at": at,
            "changes": [*(before.get("changes") or []), change][-MAX_CHANGES:],
        }
        tmp = p.with_suffix(".tmp")
        p.parent.mkdir(parents=True, exist_ok=True)
        header = "# 县级维护的法定节假日与调休安排（services/runtime/holidays.py）；由控制台「节假日」页或 API 写入\n"
        tmp.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
        tmp.replace(p)  # atomic: a reader sees the old or the new table, never half
        _state.update(years=None, checked=0.0)
    return years()[year]

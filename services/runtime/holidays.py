"""The county-maintained holiday and 调休 table: the official arrangement of the years the library lacks.

The State Council publishes each year's arrangement (国务院办公厅关于YYYY年部分节假日安排的通知) late in the year
before; `chinesecalendar` only knows the years of its release. The county operator enters a year from the
published notice (its title is required as the source); a year in this table overrides the library.

Two layers, merged in memory so `years()` stays a cheap synchronous call:
- the seed: $HALL_HOLIDAYS, else deploy/holidays.yaml, read-only, shipped with the image (re-read when it changes);
- the stored years: the county's entries, kept in the service's own database (`workcal_store`: meeting holds the
  table of record, the other services a copy fed by `workcal.year_entered.v1`) and installed here by each process's
  refresh. A stored year overrides the seed's. Never guessed: a year in neither falls back to the library or Mon-Fri.
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
RECHECK_SECONDS = (
    30.0  # the seed file may be replaced (a new image, a mounted file): look at its mtime at most this often
)
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


# --- the merge rules (pure) ---------------------------------------------------------------------------------


def stamp(value: str | dt.datetime | None) -> dt.datetime | None:
    """An `updated_at` as an aware UTC datetime (ISO text or datetime; naive means UTC); None when absent."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def supersedes(incoming: str | dt.datetime, current: str | dt.datetime | None) -> bool:
    """Tell whether an arrangement stamped `incoming` replaces the one stamped `current` (None: no year yet).

    Strictly newer wins: a duplicate (same stamp) or a late, older event changes nothing.
    """
    now = stamp(current)
    return now is None or stamp(incoming) > now  # type: ignore[operator]


def next_stamp(now: dt.datetime, previous: str | dt.datetime | None) -> dt.datetime:
    """The `updated_at` of a new entry: now, but always after the previous one (replicas' clocks may differ)."""
    before = stamp(previous)
    now = stamp(now)  # type: ignore[assignment]
    if before is not None and now <= before:
        return before + dt.timedelta(microseconds=1)
    return now


def overlay(seed: dict[int, Year], stored: dict[int, Year]) -> dict[int, Year]:
    """The table a process uses: the seed file's years, each replaced by the stored year of the same number."""
    return {**seed, **stored}


def entered(
    year: int,
    source: str,
    holidays: list[dt.date],
    workdays: list[dt.date],
    *,
    by: str,
    at: dt.datetime,
    before: Year | None,
) -> Year:
    """Validate a year the county enters and return it with who, when and its change history appended."""
    validate(year, source, holidays, workdays)
    change = {
        "at": at.isoformat(),
        "by": by[:128],
        "action": "update" if before is not None else "create",
        "source": source.strip(),
        "holidays": len(holidays),
        "workdays": len(workdays),
    }
    history = [*(before.changes if before is not None else ()), change][-MAX_CHANGES:]
    return Year(
        year, source.strip(), frozenset(holidays), frozenset(workdays), by[:128], at.isoformat(), tuple(history)
    )


# --- the process's table ------------------------------------------------------------------------------------

_lock = threading.Lock()
_state: dict = {"years": None, "mtime": None, "checked": 0.0, "path": None}
_stored: dict[int, Year] = {}
_merged: dict = {"years": None, "seed": None, "version": -1}
_version = [0]  # bumped by install(): the stored years changed
_listeners: list = []


def on_change(callback) -> None:
    """Call `callback()` whenever the table is (re)loaded with different content (workcal clears its caches)."""
    _listeners.append(callback)


def _seed() -> dict[int, Year]:
    """The seed file's years (re-read when the file changed; checked at most every RECHECK_SECONDS). Under _lock."""
    p = path()
    now = time.monotonic()
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
    _state.update(years=loaded, mtime=mtime, path=p)
    return loaded


def years() -> dict[int, Year]:
    """The table this process uses: the seed file under the stored years (in memory; cheap)."""
    changed = False
    with _lock:
        seed = _seed()
        if _merged["years"] is None or _merged["seed"] is not seed or _merged["version"] != _version[0]:
            merged = overlay(seed, _stored)
            changed = merged != (_merged["years"] or {})  # the first load of a non-empty table counts too
            _merged.update(years=merged, seed=seed, version=_version[0])
        merged = _merged["years"]
    if changed:
        for cb in _listeners:
            cb()
    return merged


def newest(current: dict[int, Year], incoming: dict[int, Year]) -> dict[int, Year]:
    """Each year's newest version of two tables (`supersedes`): what a refresh or a consumed event leaves."""
    out = dict(current)
    for number, year in incoming.items():
        if number not in out or supersedes(year.updated_at, out[number].updated_at):
            out[number] = year
    return out


def install(stored: dict[int, Year]) -> None:
    """Take the stored years of a refresh from the database (newest wins per year); listeners hear of a difference.

    Newest-wins rather than replace: a refresh that read the database just before this process committed a newer
    year must not put the older one back.
    """
    with _lock:
        merged = newest(_stored, stored)
        if merged != _stored:
            _stored.clear()
            _stored.update(merged)
            _version[0] += 1
    years()


def put(year: Year) -> None:
    """Take one stored year this process just committed (a PUT on meeting, a consumed event), if it is newer."""
    install({year.year: year})


def reset() -> None:
    """Forget the seed and the stored years (tests; a process starts this way)."""
    with _lock:
        _state.update(years=None, mtime=None, checked=0.0, path=None)
        _stored.clear()
        _version[0] += 1
        _merged.update(years=None, seed=None)
